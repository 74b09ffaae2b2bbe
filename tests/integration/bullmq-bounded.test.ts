/**
 * Redis stays bounded: after 1,000 carts complete, the number of keys under cartd's prefix
 * is under a fixed bound (the same after 500 carts as after 1,000), no file job is left,
 * and each queue's event stream is capped.
 */
import { startArchiveServer, type ArchiveServer } from '../support/archive-server';
import { archiveFile, cartBody, headCart, postCart, startCartd, waitForCart, type CartdHarness, type TestFile } from '../support/cartd-harness';
import { describeWithRedis } from '../support/redis';

/**
 * The bound the README states: 100 finished carts are kept for inspection (a job hash and
 * its children's results: 2 keys each), plus BullMQ's fixed keys of the two queues (meta,
 * id counter, event stream, marker, stalled check, completed set...), whatever the traffic.
 * Carts in progress add about 2 keys each, and one per file job waiting or running.
 */
const KEY_BOUND = 250;
/** `[redis]` event streams are capped near 1,000 entries (approximate trimming: a little over is normal). */
const EVENTS_CAP = 1000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// A thousand carts on a loaded 2-core CI machine: a generous deadline.
jest.setTimeout(240_000);

describeWithRedis('Redis stays bounded', () => {
  let archive: ArchiveServer;
  let cartd: CartdHarness;
  /** Carts share these files (cart n names file n % 50): the jobs are what counts here, not the bytes. */
  const files: TestFile[] = [];

  beforeAll(async () => {
    archive = await startArchiveServer();
    cartd = await startCartd({ archive, runner: 'bullmq' });
    for (let i = 0; i < 50; i++) files.push(await archiveFile(archive, `b-${i}`, `f/${i}.txt`, `file ${i}\n`));
  });
  afterAll(async () => {
    await cartd?.close();
    await archive?.close();
  });

  async function stageCarts(from: number, to: number): Promise<void> {
    for (let i = from; i < to; i += 25) {
      await Promise.all(
        Array.from({ length: Math.min(25, to - i) }, async (_, j) => {
          const n = i + j;
          expect((await postCart(cartd.url, `bounded-${n}`, cartBody([files[n % files.length]!]))).code).toBe(201);
        }),
      );
    }
    const carts = cartd.running.cartd.state.carts;
    while (carts.unfinished().length > 0) await sleep(50);
    expect((await waitForCart(cartd.url, `bounded-${to - 1}`)).status).toBe('ready');
  }

  async function keyCount(): Promise<{ total: number; fileJobs: number; keys: string[] }> {
    const { server, prefix } = cartd.redis!;
    // The last finish jobs may still be completing when the carts are already ready.
    for (let i = 0; i < 100 && (await server.client.llen(`${prefix}:finish:active`)) > 0; i++) await sleep(20);
    const keys = await server.keys(prefix);
    return { total: keys.length, fileJobs: keys.filter((k) => k.includes(':stage:files-')).length, keys };
  }

  test(`after 1,000 carts complete, fewer than ${KEY_BOUND} keys under the prefix, and no more than after 500`, async () => {
    await stageCarts(0, 500);
    const half = await keyCount();
    await stageCarts(500, 1000);
    const full = await keyCount();

    for (let n = 0; n < 1000; n += 97) expect((await headCart(cartd.url, `bounded-${n}`)).status).toBe('ready');
    expect(full.fileJobs).toBe(0);
    expect(half.total).toBeLessThan(KEY_BOUND);
    expect(full.total).toBeLessThan(KEY_BOUND);
    expect(full.total).toBeLessThanOrEqual(half.total + 2);
    // Nothing outside the prefix was written by cartd.
    const { server, prefix } = cartd.redis!;
    const outside = (await server.keys(undefined)).filter((k) => !k.startsWith(`${prefix}:`));
    expect(outside).toEqual([]);
    for (const queue of ['stage', 'finish']) expect(await server.client.xlen(`${prefix}:${queue}:events`)).toBeLessThanOrEqual(EVENTS_CAP + 200);
  });
});
