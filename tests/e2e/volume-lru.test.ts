/**
 * The volume under pressure: a capped volume never holds more than its cap, ready carts
 * are evicted least recently used first, never while read or within lru_buffer_time, and
 * a cart that cannot fit fails with the reference's `No Space Available`.
 */
import { randomBytes } from 'node:crypto';
import { startArchiveServer, type ArchiveServer } from '../support/archive-server';
import { RUNNERS, archiveFile, cartBody, headCart, postCart, startCartd, waitForCart, type CartdHarness, type StatusAnswer, type TestFile } from '../support/cartd-harness';
import { MiB, blobKeysOnDisk, holdDownload, sampleVolume, tempFiles, volumeBytes } from '../support/volume-usage';

let archive: ArchiveServer;
const servers: CartdHarness[] = [];

beforeAll(async () => {
  archive = await startArchiveServer();
});
afterEach(async () => {
  archive.throttleBytesPerSec = 0;
  while (servers.length > 0) await servers.pop()?.close();
});
afterAll(async () => {
  await archive?.close();
});

type Runner = (typeof RUNNERS)[number];
let runner: Runner = 'embedded';

async function start(overrides: Record<string, string>): Promise<CartdHarness> {
  const c = await startCartd({ archive, overrides, runner });
  servers.push(c);
  return c;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const volumeOf = (c: CartdHarness): string => c.config.cartd.volumePath;
const keyOf = (f: TestFile): string => `${f.hashtype}-${f.hashsum}`;

/** A file of random bytes on the archive; its id carries the runner, so request counts never mix. */
async function file(id: string, bytes: number): Promise<TestFile> {
  return archiveFile(archive, `${runner}-${id}`, `${id}.bin`, randomBytes(bytes));
}

/** POST a one-file cart and wait (polling HEAD like the reference client) until it settles. */
async function stage(c: CartdHarness, uid: string, files: TestFile[]): Promise<StatusAnswer> {
  const posted = await postCart(c.url, uid, cartBody(files));
  expect(posted.code).toBe(201);
  return waitForCart(c.url, uid, 45_000);
}

async function statusOf(c: CartdHarness, uid: string): Promise<string> {
  const a = await headCart(c.url, uid);
  return a.code === 204 ? (a.status ?? '') : a.code === 404 ? '404' : `${a.code} ${a.message ?? ''}`;
}

function readersOf(c: CartdHarness, uid: string): number {
  const row = c.running.cartd.state.db.sqlite.prepare('SELECT readers FROM carts WHERE uid = ? AND deleted_at IS NULL').get(uid) as { readers: number } | undefined;
  return row?.readers ?? -1;
}

/** The volume holds exactly the blobs of `live` carts, and no temp file. */
function expectOnlyBlobsOf(c: CartdHarness, live: TestFile[]): void {
  expect(tempFiles(volumeOf(c))).toEqual([]);
  expect(blobKeysOnDisk(volumeOf(c))).toEqual([...new Set(live.map(keyOf))].sort());
}

/** The same, once transfers aborted for a failed cart have unwound (they are given up to 10 s). */
async function expectSoonOnlyBlobsOf(c: CartdHarness, live: TestFile[]): Promise<void> {
  const want = JSON.stringify([...new Set(live.map(keyOf))].sort());
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && (tempFiles(volumeOf(c)).length > 0 || JSON.stringify(blobKeysOnDisk(volumeOf(c))) !== want)) await sleep(20);
  expectOnlyBlobsOf(c, live);
}

describe.each(RUNNERS)('with the %s runner', (r) => {
  beforeAll(() => {
    runner = r;
  });

  describe('a 10 MiB volume under 8 concurrent carts of 3 MiB', () => {
    test('bytes never exceed 10 MiB, older ready carts make room, every cart ends ready, no partial file remains', async () => {
      const c = await start({ 'cartd.volume_max_bytes': String(10 * MiB), 'cartd.lru_buffer_time': '2', 'cartd.space_wait': '40' });
      const files = await Promise.all(Array.from({ length: 8 }, (_, i) => file(`burst-${i}`, 3 * MiB)));
      archive.throttleBytesPerSec = 12 * MiB; // transfers overlap the sampling
      const sampler = sampleVolume(volumeOf(c));
      const outcomes = await Promise.all(files.map((f, i) => stage(c, `burst-${i}`, [f])));
      const samples = await sampler.stop();

      expect(samples.length).toBeGreaterThan(50);
      expect(Math.max(...samples)).toBeLessThanOrEqual(10 * MiB);
      for (const o of outcomes) expect([o.code, o.status, o.message]).toEqual([204, 'ready', '']);
      // 24 MiB went through a 10 MiB volume: the carts made ready first were evicted for the later ones.
      const now = await Promise.all(files.map((_, i) => statusOf(c, `burst-${i}`)));
      const kept = files.filter((_, i) => now[i] === 'ready');
      expect(now.filter((s) => s === '404').length + kept.length).toBe(8);
      expect(kept.length).toBeGreaterThan(0);
      expect(kept.length).toBeLessThanOrEqual(3);
      expectOnlyBlobsOf(c, kept);
      expect(files.reduce((n, f) => n + archive.stats(f.id).get, 0)).toBe(8);
    });

    test('with no waiting for room (space_wait 0) each cart ends ready or No Space Available, and failed ones leave no bytes', async () => {
      // Two seconds of buffer: a cart just made ready is seen ready by its client before anyone may evict it.
      const c = await start({ 'cartd.volume_max_bytes': String(10 * MiB), 'cartd.lru_buffer_time': '2', 'cartd.space_wait': '0' });
      // Three files of 1 MiB per cart: a cart can fail with some of its files already staged.
      const carts = await Promise.all(
        Array.from({ length: 8 }, async (_, i) => Promise.all([0, 1, 2].map((j) => file(`nowait-${i}-${j}`, MiB)))),
      );
      archive.throttleBytesPerSec = 16 * MiB;
      const sampler = sampleVolume(volumeOf(c));
      const outcomes = await Promise.all(carts.map((fs, i) => stage(c, `nowait-${i}`, fs)));
      const samples = await sampler.stop();

      expect(Math.max(...samples)).toBeLessThanOrEqual(10 * MiB);
      const words = outcomes.map((o) => `${o.code} ${o.status} ${o.message}`);
      for (const w of words) expect(['204 ready ', '500 error No Space Available']).toContain(w);
      expect(words).toContain('500 error No Space Available');
      const now = await Promise.all(carts.map((_, i) => statusOf(c, `nowait-${i}`)));
      await expectSoonOnlyBlobsOf(c, carts.filter((_, i) => now[i] === 'ready').flat());
      expect(volumeBytes(volumeOf(c))).toBeLessThanOrEqual(10 * MiB);
    });
  });

  describe('least recently used first', () => {
    test('ready carts are evicted in the order of their last use (status or download), not of their creation', async () => {
      const c = await start({ 'cartd.volume_max_bytes': String(10 * MiB), 'cartd.space_wait': '0' });
      const [a, b, cc, d, e] = await Promise.all(['lru-a', 'lru-b', 'lru-c', 'lru-d', 'lru-e'].map((id) => file(id, 3 * MiB)));
      for (const [uid, f] of [['A', a], ['B', b], ['C', cc]] as const) expect((await stage(c, uid, [f!])).status).toBe('ready');
      await sleep(1100); // uses are recorded at most once a second per cart
      expect(await statusOf(c, 'C')).toBe('ready'); // used first: least recent of the three
      await sleep(5);
      await (await fetch(new URL('A?filename=a.tar', c.url))).arrayBuffer(); // a download is a use
      while (readersOf(c, 'A') !== 0) await sleep(5); // its end is recorded too: let that happen before the next use
      await sleep(5);
      expect(await statusOf(c, 'B')).toBe('ready');

      expect((await stage(c, 'D', [d!])).status).toBe('ready');
      // Checked on disk and by asking only about C: a status request is itself a use and would reorder A and B.
      expect(await statusOf(c, 'C')).toBe('404');
      expectOnlyBlobsOf(c, [a!, b!, d!]);
      expect((await stage(c, 'E', [e!])).status).toBe('ready');
      expect(await Promise.all(['A', 'B', 'C', 'D', 'E'].map((u) => statusOf(c, u)))).toEqual(['404', 'ready', '404', 'ready', 'ready']);
      expectOnlyBlobsOf(c, [b!, d!, e!]);
      // An evicted cart is gone like a deleted one: 404 on GET and DELETE too.
      expect((await fetch(new URL('C', c.url))).status).toBe(404);
      expect((await fetch(new URL('C', c.url), { method: 'DELETE' })).status).toBe(404);
    });
  });

  describe('never evicted while in use', () => {
    test('a cart being downloaded is not evicted even when least recently used; its download completes intact', async () => {
      const c = await start({ 'cartd.volume_max_bytes': String(24 * MiB), 'cartd.space_wait': '0' });
      const [a, b, cc, d] = await Promise.all([file('read-a', 16 * MiB), file('read-b', 4 * MiB), file('read-c', 4 * MiB), file('read-d', 4 * MiB)]);
      for (const [uid, f] of [['RA', a], ['RB', b], ['RC', cc]] as const) expect((await stage(c, uid, [f!])).status).toBe('ready');
      const held = await holdDownload(new URL('RA?filename=ra.tar', c.url));
      expect(held.status).toBe(200);
      await sleep(200);
      expect(readersOf(c, 'RA')).toBe(1); // the download is still streaming

      expect((await stage(c, 'RD', [d!])).status).toBe('ready');
      expect(await Promise.all(['RA', 'RB', 'RC', 'RD'].map((u) => statusOf(c, u)))).toEqual(['ready', '404', 'ready', 'ready']);
      const members = await held.finish();
      expect(members.get('ra/read-a.bin')).toBe(a!.hashsum);
      expectOnlyBlobsOf(c, [a!, cc!, d!]);
    });

    test('when only carts in use are in the way, a new cart waits (space_wait) and gets its room once the download ends', async () => {
      const c = await start({ 'cartd.volume_max_bytes': String(24 * MiB), 'cartd.space_wait': '30' });
      const [a, d] = await Promise.all([file('wait-a', 20 * MiB), file('wait-d', 8 * MiB)]);
      expect((await stage(c, 'WA', [a!])).status).toBe('ready');
      const held = await holdDownload(new URL('WA?filename=wa.tar', c.url));
      await sleep(200);
      expect(readersOf(c, 'WA')).toBe(1);
      expect((await postCart(c.url, 'WD', cartBody([d!]))).code).toBe(201);
      await sleep(800);
      expect(await statusOf(c, 'WD')).toBe('staging');
      expect(await statusOf(c, 'WA')).toBe('ready');

      expect((await held.finish()).get('wa/wait-a.bin')).toBe(a!.hashsum);
      expect((await waitForCart(c.url, 'WD', 20_000)).status).toBe('ready');
      expect(await statusOf(c, 'WA')).toBe('404');
      expectOnlyBlobsOf(c, [d!]);
    });

    test('a cart used within lru_buffer_time is not evicted; one used before it is', async () => {
      const c = await start({ 'cartd.volume_max_bytes': String(10 * MiB), 'cartd.lru_buffer_time': '3', 'cartd.space_wait': '0' });
      const [a, b, cc, d, e] = await Promise.all(['buf-a', 'buf-b', 'buf-c', 'buf-d', 'buf-e'].map((id) => file(id, 3 * MiB)));
      for (const [uid, f] of [['BA', a], ['BB', b], ['BC', cc]] as const) expect((await stage(c, uid, [f!])).status).toBe('ready');
      await sleep(2600);
      expect(await statusOf(c, 'BB')).toBe('ready'); // BB and BC used again; BA left alone
      expect(await statusOf(c, 'BC')).toBe('ready');
      await sleep(600); // BA: last used over 3 s ago; BB and BC: well within the buffer, however slow the machine

      expect((await stage(c, 'BD', [d!])).status).toBe('ready');
      // Used again (recorded if the last record is over a second old): inside the buffer once more.
      expect(await statusOf(c, 'BB')).toBe('ready');
      expect(await statusOf(c, 'BC')).toBe('ready');
      const full = await stage(c, 'BE', [e!]);
      expect([full.code, full.status, full.message]).toEqual([500, 'error', 'No Space Available']);
      expect(await Promise.all(['BA', 'BB', 'BC', 'BD'].map((u) => statusOf(c, u)))).toEqual(['404', 'ready', 'ready', 'ready']);
      expect(archive.stats(e!.id).get).toBe(0);
      expectOnlyBlobsOf(c, [b!, cc!, d!]);
    });
  });

  describe('carts that cannot fit', () => {
    test('a cart larger than the whole volume fails at once with No Space Available and evicts nothing', async () => {
      const c = await start({ 'cartd.volume_max_bytes': String(10 * MiB), 'cartd.space_wait': '30' });
      const [a, b, big, half1, half2] = await Promise.all([
        file('big-a', 3 * MiB),
        file('big-b', 3 * MiB),
        file('big-x', 12 * MiB),
        file('big-h1', 6 * MiB),
        file('big-h2', 6 * MiB),
      ]);
      for (const [uid, f] of [['XA', a], ['XB', b]] as const) expect((await stage(c, uid, [f!])).status).toBe('ready');

      const one = await stage(c, 'X1', [big!]);
      expect([one.code, one.status, one.message]).toEqual([500, 'error', 'No Space Available']);
      expect(archive.stats(big!.id).get).toBe(0);
      // Two files, each of which would fit, together larger than the volume.
      const two = await stage(c, 'X2', [half1!, half2!]);
      expect([two.code, two.status, two.message]).toEqual([500, 'error', 'No Space Available']);

      expect(await Promise.all(['XA', 'XB'].map((u) => statusOf(c, u)))).toEqual(['ready', 'ready']);
      await expectSoonOnlyBlobsOf(c, [a!, b!]);
    });

    test('with lru_purge off nothing is evicted: a cart that does not fit fails with No Space Available', async () => {
      const c = await start({ 'cartd.volume_max_bytes': String(10 * MiB), 'cartd.lru_purge': 'off' });
      const [a, b, cc, d] = await Promise.all(['off-a', 'off-b', 'off-c', 'off-d'].map((id) => file(id, 3 * MiB)));
      for (const [uid, f] of [['OA', a], ['OB', b], ['OC', cc]] as const) expect((await stage(c, uid, [f!])).status).toBe('ready');
      const full = await stage(c, 'OD', [d!]);
      expect([full.code, full.status, full.message]).toEqual([500, 'error', 'No Space Available']);
      expect(await Promise.all(['OA', 'OB', 'OC'].map((u) => statusOf(c, u)))).toEqual(['ready', 'ready', 'ready']);
      expectOnlyBlobsOf(c, [a!, b!, cc!]);
    });
  });
});
