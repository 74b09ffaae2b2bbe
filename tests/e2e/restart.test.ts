import { startArchiveServer, type ArchiveServer } from '../support/archive-server';
import { RUNNERS, archiveFile, cartBody, headCart, postCart, startCartd, waitForCart, type CartdHarness } from '../support/cartd-harness';
import { extractWith } from '../support/tar-readers';

let archive: ArchiveServer;
const started: CartdHarness[] = [];

describe.each(RUNNERS)('with the %s runner', (runner) => {
  beforeAll(async () => {
    archive = await startArchiveServer({ tapeDelayMs: 400 });
  });
  afterAll(async () => {
    for (const c of started.splice(0)) await c.close();
    await archive?.close();
  });

  test('a restart in the middle of staging resumes unfinished carts and they become ready', async () => {
    const first = await startCartd({ archive, runner });
    started.push(first);
    const onTape = await archiveFile(archive, 'r-tape', 'a/tape.txt', 'recalled after restart', { media: 'tape' });
    const slow = await archiveFile(archive, 'r-slow', 'a/slow.bin', Buffer.alloc(2 * 1024 * 1024, 3));
    const quick = await archiveFile(archive, 'r-quick', 'a/quick.txt', 'quick');
    archive.fault('r-slow', 'throttle', { bytesPerSec: 512 * 1024, times: 1 });
    await postCart(first.url, 'resume-me', cartBody([onTape, slow, quick]));
    // Wait until the recall went out and the slow pull is under way, then stop mid-staging.
    for (let i = 0; i < 100 && !(archive.stats('r-tape').post > 0 && archive.openTransfers('r-slow') > 0); i++) await new Promise((r) => setTimeout(r, 20));
    expect(archive.openTransfers('r-slow')).toBe(1);
    expect((await headCart(first.url, 'resume-me')).status).toBe('staging');
    await first.stop();

    // BullMQ: the same Redis and prefix, as a restarted server would find them.
    const second = await startCartd({ archive, dir: first.dir, runner, redis: first.redis?.server, prefix: first.redis?.prefix });
    started.push(second);
    const final = await waitForCart(second.url, 'resume-me', 20_000);
    expect([final.code, final.status]).toEqual([204, 'ready']);
    const tar = Buffer.from(await (await fetch(new URL('resume-me?filename=r.tar', second.url))).arrayBuffer());
    const tree = extractWith('python', tar);
    expect(tree.get('r/a/tape.txt')?.toString()).toBe('recalled after restart');
    // Buffer.equals: jest's toEqual walks a 2 MiB buffer byte by byte (seconds).
    expect(tree.get('r/a/slow.bin')?.equals(slow.data)).toBe(true);
    expect(tree.get('r/a/quick.txt')?.toString()).toBe('quick');
  });
});
