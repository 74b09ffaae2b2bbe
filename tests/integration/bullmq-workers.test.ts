/**
 * One API process (this test's in-process cartd, `--no-worker`) and separate `cartd worker`
 * processes on one Redis, sharing the SQLite file and the volume folder, as on one machine.
 * The tests run in order and share the workers: two at first, then some are killed, drained
 * and replaced.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { startArchiveServer, type ArchiveServer } from '../support/archive-server';
import { archiveFile, cartBody, headCart, postCart, startCartd, waitForCart, type CartdHarness, type TestFile } from '../support/cartd-harness';
import { describeWithRedis } from '../support/redis';
import { extractWith } from '../support/tar-readers';
import { killAllWorkers, spawnWorker, type WorkerProcess } from '../support/worker-process';

const MiB = 1024 * 1024;
const MAX_REQUESTS = 4;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// Separate processes staging a thousand files on a loaded 2-core CI machine: generous deadlines.
jest.setTimeout(240_000);

async function until(what: string, check: () => boolean, timeoutMs = 20_000, explain?: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${explain ? `\n${await explain()}` : ''}`);
    await sleep(5);
  }
}

describeWithRedis('cartd worker processes sharing one Redis, database and volume', () => {
  let archive: ArchiveServer;
  let cartd: CartdHarness;
  const workers: WorkerProcess[] = [];
  const tmpFiles = (): string[] =>
    readdirSync(path.join(cartd.config.cartd.volumePath, 'tmp'), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => path.join(e.parentPath, e.name));
  /**
   * A short job lock (3 s instead of 30) makes a killed worker's jobs move on within
   * seconds; all workers share it, since the stalled check runs at most once per interval
   * for all of them. Three slots each against a cap of four: together they could open more
   * than the cap allows (the cap test), yet neither can take every slot, so both share the
   * work. (With a worker as wide as the cap, BullMQ lets the worker that finishes a job take
   * the next in the same step, and the other may never get one.)
   */
  const startWorker = async (...args: string[]): Promise<WorkerProcess> => {
    const w = spawnWorker(cartd, ['--concurrency', '3', '--stall-timeout', '3', ...args]);
    workers.push(w);
    await w.ready;
    return w;
  };
  const staged = (w: WorkerProcess, id: string): boolean => w.logged('file staged').some((l) => l.file === id);
  /** Where the queues stand and what the workers said last: for a failure message. */
  const explain = async (): Promise<string> => {
    const { server, prefix } = cartd.redis!;
    const c = server.client;
    const lines = [
      `stage active ${JSON.stringify(await c.lrange(`${prefix}:stage:active`, '0', '-1'))}`,
      `stage wait ${JSON.stringify(await c.lrange(`${prefix}:stage:wait`, '0', '-1'))}`,
      `stage delayed ${JSON.stringify(await c.zrange(`${prefix}:stage:delayed`, '0', '-1'))}`,
      `stage meta ${JSON.stringify(await c.hgetall(`${prefix}:stage:meta`))}`,
      `tmp ${JSON.stringify(tmpFiles())}`,
    ];
    for (const w of workers) lines.push(`--- worker ${w.pid} (exit ${w.child.exitCode ?? w.child.signalCode ?? 'running'})`, ...w.output().split('\n').slice(-8));
    return lines.join('\n');
  };

  beforeAll(async () => {
    archive = await startArchiveServer();
    cartd = await startCartd({
      archive,
      runner: 'bullmq',
      runnerOptions: { worker: false },
      overrides: { 'archiveinterface.max_requests': String(MAX_REQUESTS), 'archiveinterface.timeout': '10' },
    });
    await Promise.all([startWorker(), startWorker()]);
  });
  afterAll(async () => {
    await killAllWorkers();
    await cartd?.close();
    await archive?.close();
  });
  afterEach(() => {
    // On a failure, what the workers said is the best clue.
    for (const w of workers) if (w.child.exitCode !== null && w.child.exitCode !== 0) process.stderr.write(w.output().slice(-4000));
  });

  test('20 carts of 50 files become ready through two workers, each file pulled exactly once', async () => {
    const carts: TestFile[][] = [];
    for (let c = 0; c < 20; c++) {
      const files: TestFile[] = [];
      for (let f = 0; f < 50; f++) files.push(await archiveFile(archive, `m-${c}-${f}`, `d/${f}.txt`, `cart ${c} file ${f}\n`));
      carts.push(files);
    }
    archive.resetStats();
    const posted = await Promise.all(carts.map((files, c) => postCart(cartd.url, `many-${c}`, cartBody(files))));
    expect(posted.every((p) => p.code === 201)).toBe(true);
    // One cart polled at a time: twenty pollers would load the machine more than the staging.
    const finals = [];
    for (let c = 0; c < carts.length; c++) finals.push((await waitForCart(cartd.url, `many-${c}`, 90_000)).status);
    expect(finals).toEqual(carts.map(() => 'ready'));

    const gets = carts.flat().map((f) => archive.stats(f.id).get);
    expect(gets.filter((n) => n !== 1)).toEqual([]);
    expect(archive.stats().total.get).toBe(1000);
    // The work was shared: each worker process staged some of the files, together all of them.
    const [a, b] = workers.map((w) => w.logged('file staged').length);
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(0);
    expect(a! + b!).toBe(1000);
    const tar = Buffer.from(await (await fetch(new URL('many-7?filename=m7.tar', cartd.url))).arrayBuffer());
    const tree = extractWith('gnutar', tar);
    expect(tree.size).toBe(50);
    expect(tree.get('m7/d/49.txt')?.toString()).toBe('cart 7 file 49\n');
  });

  test(`no more than [archiveinterface] max_requests (${MAX_REQUESTS}) transfers at once across all workers`, async () => {
    const files: TestFile[] = [];
    for (let i = 0; i < 12; i++) {
      files.push(await archiveFile(archive, `cap-${i}`, `c/${i}.bin`, Buffer.alloc(512 * 1024, i)));
      archive.fault(`cap-${i}`, 'throttle', { bytesPerSec: MiB, times: 1 });
    }
    let most = 0;
    const sampler = setInterval(() => (most = Math.max(most, archive.openTransfers())), 2);
    try {
      await postCart(cartd.url, 'capped', cartBody(files));
      expect((await waitForCart(cartd.url, 'capped', 60_000)).status).toBe('ready');
    } finally {
      clearInterval(sampler);
    }
    // Two workers of 3 slots each could open 6; the cap holds them to 4, and is reached.
    expect(most).toBeLessThanOrEqual(MAX_REQUESTS);
    expect(most).toBe(MAX_REQUESTS);
  });

  test('DELETE aborts transfers running in a worker process within 1 s and removes the jobs', async () => {
    const files: TestFile[] = [];
    for (let i = 0; i < 2; i++) {
      files.push(await archiveFile(archive, `del-${i}`, `x/${i}.bin`, Buffer.alloc(MiB, 7 + i)));
      archive.fault(`del-${i}`, 'throttle', { bytesPerSec: 64 * 1024 });
    }
    await postCart(cartd.url, 'remote-delete', cartBody(files));
    await until('both pulls under way', () => files.every((f) => archive.openTransfers(f.id) === 1));
    const cart = cartd.running.cartd.state.carts.findLive('remote-delete')!;
    const t0 = Date.now();
    expect((await fetch(new URL('remote-delete', cartd.url), { method: 'DELETE' })).status).toBe(200);
    const closed = await Promise.all(files.map((f) => archive.waitForTransfersClosed(f.id, Math.max(0, 1000 - (Date.now() - t0)))));
    expect(closed).toEqual([true, true]);
    expect((await headCart(cartd.url, 'remote-delete')).code).toBe(404);
    const { server, prefix } = cartd.redis!;
    const ofCart = (k: string): boolean => k.includes(`:cart-${cart.id}-g`) || k.includes(`:files-${cart.id}-g`);
    expect((await server.keys(prefix)).filter(ofCart)).toEqual([]);
    expect(tmpFiles().filter((p) => files.some((f) => p.includes(f.hashsum)))).toEqual([]);
  });

  test('SIGKILL of a worker in the middle of a 200 MiB pull: another worker takes over, the cart becomes ready, no temp file remains', async () => {
    // Leave one worker: the pull is certainly its.
    const [first, second] = workers as [WorkerProcess, WorkerProcess];
    second.kill('SIGTERM');
    expect(await second.exited).toEqual({ code: 0, signal: null });

    const size = 200 * MiB;
    // Not zeros: the volume writes zeros as holes, and the test watches the temp file grow.
    const big = await archiveFile(archive, 'big', 'big/data.bin', Buffer.alloc(size, 'cartd'));
    const small = await archiveFile(archive, 'big-companion', 'big/readme.txt', 'two hundred MiB\n');
    // The first pull is slow enough to be killed half-way; the one after the takeover is not.
    archive.fault('big', 'throttle', { bytesPerSec: 40 * MiB, times: 1 });
    await postCart(cartd.url, 'big-cart', cartBody([big, small]));
    await until('the pull to be under way, bytes on the volume', () => archive.openTransfers('big') === 1 && tmpFiles().some((p) => statSync(p).size > 10 * MiB), 20_000, explain);

    const rescuer = await startWorker();
    first.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');

    const final = await waitForCart(cartd.url, 'big-cart', 60_000);
    expect([final.code, final.status, final.message]).toEqual([204, 'ready', '']);
    expect(archive.stats('big').get).toBe(2);
    expect(staged(rescuer, 'big')).toBe(true);
    expect(tmpFiles()).toEqual([]);
    // Nor its temp folder `tmp/<owner>/`, once a worker starts again (as a supervisor restarts it).
    const ofKilled = (): string[] => readdirSync(path.join(cartd.config.cartd.volumePath, 'tmp')).filter((name) => new RegExp(`\\.${first.pid}\\.[0-9a-f]{12}$`).test(name));
    const restarted = await startWorker();
    expect(ofKilled()).toEqual([]);
    restarted.kill('SIGTERM');
    expect(await restarted.exited).toEqual({ code: 0, signal: null });
    const blob = readdirSync(path.join(cartd.config.cartd.volumePath, 'blobs'), { recursive: true, withFileTypes: true }).find((e) => e.name.includes(big.hashsum));
    expect(blob && statSync(path.join(blob.parentPath, blob.name)).size).toBe(size);
  });

  test('SIGTERM: a transfer that outlasts --drain-timeout goes back to the queue, the worker exits 0, another finishes it', async () => {
    const leaving = await startWorker('--drain-timeout', '0.3');
    // Only `leaving` and the rescuer of the previous test run; stop the rescuer so the pull is `leaving`'s.
    const rescuer = workers.find((w) => w !== leaving && w.child.exitCode === null && w.child.signalCode === null)!;
    rescuer.kill('SIGTERM');
    await rescuer.exited;
    const file = await archiveFile(archive, 'drain-long', 'l/long.bin', Buffer.alloc(8 * MiB, 3));
    archive.fault('drain-long', 'throttle', { bytesPerSec: MiB, times: 1 });
    await postCart(cartd.url, 'drain-long', cartBody([file]));
    await until('the long pull to be under way', () => archive.openTransfers('drain-long') === 1);

    const next = await startWorker();
    leaving.kill('SIGTERM');
    expect(await leaving.exited).toEqual({ code: 0, signal: null });
    expect(staged(leaving, 'drain-long')).toBe(false);
    const final = await waitForCart(cartd.url, 'drain-long', 30_000);
    expect(final.status).toBe('ready');
    expect(archive.stats('drain-long').get).toBe(2);
    expect(staged(next, 'drain-long')).toBe(true);
    expect(tmpFiles()).toEqual([]);
  });

  test('SIGTERM: a transfer that ends within the drain time is finished before the worker exits', async () => {
    const only = workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
    expect(only).toHaveLength(1);
    const file = await archiveFile(archive, 'drain-short', 's/short.bin', Buffer.alloc(2 * MiB, 4));
    archive.fault('drain-short', 'throttle', { bytesPerSec: 2 * MiB, times: 1 });
    await postCart(cartd.url, 'drain-short', cartBody([file]));
    await until('the short pull to be under way', () => archive.openTransfers('drain-short') === 1);
    only[0]!.kill('SIGTERM');
    expect(await only[0]!.exited).toEqual({ code: 0, signal: null });
    expect(staged(only[0]!, 'drain-short')).toBe(true);
    // Its cart is finished by whichever worker comes next; the file is not pulled again.
    await startWorker();
    expect((await waitForCart(cartd.url, 'drain-short', 30_000)).status).toBe('ready');
    expect(archive.stats('drain-short').get).toBe(1);
  });
});
