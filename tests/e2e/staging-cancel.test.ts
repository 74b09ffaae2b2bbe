/**
 * DELETE during staging: within a second no transfer of the cart is open at the archive,
 * its queued and delayed work is gone (from Redis too, with BullMQ), HEAD is 404, no temp
 * file is left, and another cart staging beside it is unaffected. Both runners.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { startArchiveServer, type ArchiveServer } from '../support/archive-server';
import { RUNNERS, archiveFile, cartBody, headCart, postCart, startCartd, waitForCart, type CartdHarness, type TestFile } from '../support/cartd-harness';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe.each(RUNNERS)('DELETE during staging, with the %s runner', (runner) => {
  let archive: ArchiveServer;
  let cartd: CartdHarness;

  beforeAll(async () => {
    archive = await startArchiveServer({ tapeDelayMs: 500 });
    // Three steps at once: three slow pulls fill them, so the cart's other files wait in the queue.
    cartd = await startCartd({ archive, runner, overrides: { 'cartd.concurrency': '3', 'archiveinterface.tape_first_delay': '1' } });
  });
  afterAll(async () => {
    await cartd?.close();
    await archive?.close();
  });

  test('within 1 s: no open transfer, no queued or delayed work, HEAD 404, no temp file; the other cart is fine', async () => {
    const onTape = await archiveFile(archive, 'c-tape', 'c/tape.bin', 'on tape', { media: 'tape' });
    const slow: TestFile[] = [];
    for (let i = 0; i < 3; i++) {
      slow.push(await archiveFile(archive, `c-slow-${i}`, `c/slow-${i}.bin`, Buffer.alloc(1024 * 1024, i + 1)));
      archive.fault(`c-slow-${i}`, 'throttle', { bytesPerSec: 64 * 1024 });
    }
    const waiting: TestFile[] = [];
    for (let i = 0; i < 5; i++) waiting.push(await archiveFile(archive, `c-wait-${i}`, `c/wait-${i}.txt`, `waiting ${i}`));
    const other = await archiveFile(archive, 'other-1', 'o/1.txt', 'bystander');
    const doomedIds = [onTape, ...slow, ...waiting].map((f) => String(f.id));

    expect((await postCart(cartd.url, 'doomed', cartBody([onTape, ...slow, ...waiting]))).code).toBe(201);
    expect((await postCart(cartd.url, 'bystander', cartBody([other]))).code).toBe(201);
    // The tape file's recall went out (its re-check is now a delayed job) and all three pulls are under way.
    await until('the recall and three open pulls', () => archive.stats('c-tape').post === 1 && slow.every((f) => archive.openTransfers(f.id) === 1));
    const cartRow = cartd.running.cartd.state.carts.findLive('doomed');
    expect(cartRow).toBeDefined();

    const deletedAt = Date.now();
    const del = await fetch(new URL('doomed', cartd.url), { method: 'DELETE' });
    expect(del.status).toBe(200);
    const left = Math.max(0, 1000 - (Date.now() - deletedAt));
    const closed = await Promise.all(doomedIds.map((id) => archive.waitForTransfersClosed(id, left)));
    expect(closed.every(Boolean)).toBe(true);
    expect((await headCart(cartd.url, 'doomed')).code).toBe(404);
    if (cartd.redis) {
      const { server, prefix } = cartd.redis;
      // The cart's finish job and its file jobs (named after the cart, see bullmq-layout.ts).
      const { id, generation } = cartRow!;
      const isOfCart = (jobId: string): boolean => jobId === `cart-${id}-g${generation}` || jobId.startsWith(`files-${id}-g${generation}-`);
      const keys = await server.keys(prefix);
      expect(keys.filter((k) => k.split(':').some(isOfCart))).toEqual([]);
      const queued = [
        ...(await server.client.lrange(`${prefix}:stage:wait`, '0', '-1')),
        ...(await server.client.lrange(`${prefix}:stage:active`, '0', '-1')),
        ...(await server.client.zrange(`${prefix}:stage:delayed`, '0', '-1')),
        ...(await server.client.zrange(`${prefix}:finish:waiting-children`, '0', '-1')),
      ];
      expect(queued.filter(isOfCart)).toEqual([]);
    }
    expect(Date.now() - deletedAt).toBeLessThanOrEqual(1000);
    // Temp files are named after the bytes they will hold; the other cart may be writing its own.
    const doomedSums = [onTape, ...slow, ...waiting].map((f) => f.hashsum);
    expect(filesUnder(path.join(cartd.config.cartd.volumePath, 'tmp')).filter((p) => doomedSums.some((h) => p.includes(h)))).toEqual([]);

    // Nothing queued or delayed for the cart ever runs: past the tape re-check's time, the
    // archive has heard nothing more about its files, while the other cart got its turn.
    const requestsAtDelete = archive.requests.length;
    expect((await waitForCart(cartd.url, 'bystander', 10_000)).status).toBe('ready');
    await sleep(1500);
    expect(archive.requests.slice(requestsAtDelete).filter((r) => doomedIds.includes(r.id))).toEqual([]);
    for (const f of waiting) expect(archive.stats(f.id).get).toBe(0);
    expect(filesUnder(path.join(cartd.config.cartd.volumePath, 'tmp'))).toEqual([]);
  });
});
