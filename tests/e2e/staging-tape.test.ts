/**
 * Tape: one recall per file, every recall before the first re-check, re-checks spaced by
 * the backoff (never a hot loop), and a file that stays on tape fails after the time limit.
 * Runs under both runners with the same expectations.
 */
import { startArchiveServer, type ArchiveRequest, type ArchiveServer } from '../support/archive-server';
import { RUNNERS, archiveFile, cartBody, postCart, startCartd, waitForCart, type CartdHarness, type TestFile } from '../support/cartd-harness';
import { extractWith } from '../support/tar-readers';

const FIRST_DELAY_MS = 500;
const FACTOR = 2;
const MAX_DELAY_MS = 2000;
/** Files reach disk this long after their recall: checked at about 0.5, 1 and 2 s. */
const TAPE_DELAY_MS = 1800;
/** Request times are taken by the archive server as requests arrive; allow for clock rounding. */
const SLACK_MS = 15;

describe.each(RUNNERS)('tape, with the %s runner', (runner) => {
  let archive: ArchiveServer;
  const started: CartdHarness[] = [];
  const startWith = async (overrides: Record<string, string>): Promise<CartdHarness> => {
    const cartd = await startCartd({ archive, runner, overrides });
    started.push(cartd);
    return cartd;
  };

  beforeAll(async () => {
    archive = await startArchiveServer({ tapeDelayMs: TAPE_DELAY_MS });
  });
  afterAll(async () => {
    for (const c of started.splice(0)) await c.close();
    await archive?.close();
  });

  test('a cart of 30 tape files: 30 recalls, all before the first re-check, re-checks backing off, then ready', async () => {
    const cartd = await startWith({
      'archiveinterface.tape_first_delay': String(FIRST_DELAY_MS / 1000),
      'archiveinterface.tape_backoff_factor': String(FACTOR),
      'archiveinterface.tape_max_delay': String(MAX_DELAY_MS / 1000),
      'archiveinterface.tape_time_limit': '60',
    });
    const files: TestFile[] = [];
    for (let i = 0; i < 30; i++) files.push(await archiveFile(archive, `tape-${i}`, `t/${i}.dat`, `tape file ${i}\n`, { media: 'tape' }));
    archive.resetStats();
    expect((await postCart(cartd.url, 'tape-30', cartBody(files))).code).toBe(201);

    const final = await waitForCart(cartd.url, 'tape-30', 30_000);
    expect([final.code, final.status, final.message]).toEqual([204, 'ready', '']);

    const byId = new Map<string, ArchiveRequest[]>();
    for (const r of archive.requests) byId.set(r.id, [...(byId.get(r.id) ?? []), r]);
    const recalls: number[] = [];
    const firstRechecks: number[] = [];
    for (const f of files) {
      const log = byId.get(String(f.id)) ?? [];
      const posts = log.filter((r) => r.method === 'POST');
      expect(posts).toHaveLength(1);
      const recall = posts[0]!.time;
      recalls.push(recall);
      const checks = log.filter((r) => r.method === 'HEAD' && r.time >= recall).map((r) => r.time);
      expect(checks.length).toBeGreaterThanOrEqual(1);
      // Never a hot loop: a file that takes 1.8 s to leave tape is checked a handful of times.
      expect(checks.length).toBeLessThanOrEqual(5);
      firstRechecks.push(checks[0]!);
      expect(checks[0]! - recall).toBeGreaterThanOrEqual(FIRST_DELAY_MS - SLACK_MS);
      // The backoff: each check waits at least (time since the recall) x (factor - 1), from
      // the first delay up to the cap. cartd counts from when the recall was answered,
      // which is no later than the first re-check minus the first delay.
      const recalledBy = checks[0]! - FIRST_DELAY_MS;
      for (let i = 1; i < checks.length; i++) {
        const elapsed = checks[i - 1]! - recalledBy;
        const backoff = Math.min(MAX_DELAY_MS, Math.max(FIRST_DELAY_MS, elapsed * (FACTOR - 1)));
        expect(checks[i]! - checks[i - 1]!).toBeGreaterThanOrEqual(backoff - SLACK_MS);
      }
      expect(log.filter((r) => r.method === 'GET')).toHaveLength(1);
    }
    // The tape system got every recall before the first re-check, so it could order them.
    expect(Math.max(...recalls)).toBeLessThanOrEqual(Math.min(...firstRechecks));
    // Some file was re-checked at least twice, so a grown wait (1 s after a 0.5 s one) was checked above.
    expect(Math.max(...files.map((f) => (byId.get(String(f.id)) ?? []).filter((r) => r.method === 'HEAD').length))).toBeGreaterThanOrEqual(3);

    const tar = Buffer.from(await (await fetch(new URL('tape-30?filename=t.tar', cartd.url))).arrayBuffer());
    const tree = extractWith('gnutar', tar);
    expect(tree.size).toBe(30);
    for (let i = 0; i < 30; i++) expect(tree.get(`t/t/${i}.dat`)?.toString()).toBe(`tape file ${i}\n`);
  });

  test('a file that never leaves tape fails after the time limit, with a message saying so', async () => {
    const cartd = await startWith({ 'archiveinterface.tape_first_delay': '0.3', 'archiveinterface.tape_time_limit': '2' });
    const stuck = await archiveFile(archive, 'stuck-on-tape', 's/stuck.dat', 'never recalled', { media: 'tape' });
    archive.setMedia('stuck-on-tape', 'tape', 3_600_000);
    const fine = await archiveFile(archive, 'fine-on-disk', 's/fine.dat', 'on disk');
    expect((await postCart(cartd.url, 'stuck', cartBody([stuck, fine]))).code).toBe(201);
    const final = await waitForCart(cartd.url, 'stuck', 20_000);
    expect(final.code).toBe(500);
    expect(final.status).toBe('error');
    expect(final.message).toMatch(/^file stuck-on-tape: still on tape \d+ s after the recall was requested$/);
    expect(archive.stats('stuck-on-tape').post).toBe(1);
  });
});
