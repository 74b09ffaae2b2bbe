/**
 * The cartd binary's process roles: `cartd` / `cartd serve` (API, plus staging unless
 * --no-worker) and `cartd worker`; the deployment of one API process and one worker
 * process on Redis, as an operator starts them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { getPriority } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startArchiveServer, type ArchiveServer } from '../support/archive-server';
import { archiveFile, cartBody, postCart, waitForCart } from '../support/cartd-harness';
import { describeWithRedis, startRedis, uniquePrefix, type RedisServer } from '../support/redis';
import { ROOT, cleanEnv, runBin, writeIni } from './cli-support';

interface Running {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  output(): string;
  /** Resolves with the log line whose msg is `msg`. */
  line(msg: string): Promise<Record<string, unknown>>;
}

function start(args: readonly string[]): Running {
  const child = spawn(process.execPath, [path.join('bin', 'cartd'), ...args], { cwd: ROOT, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    output: () => out,
    line: (msg) =>
      new Promise((resolve, reject) => {
        const look = (): void => {
          const found = out.split('\n').find((l) => l.includes(`"msg":"${msg}"`));
          if (found === undefined) return;
          child.stdout?.off('data', look);
          resolve(JSON.parse(found) as Record<string, unknown>);
        };
        child.stdout?.on('data', look);
        void exited.then((code) => reject(new Error(`cartd exited (${code}) before "${msg}":\n${out}`)));
      }),
  };
}

describe('cartd process roles without Redis', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'cartd-roles-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('help lists serve and worker', async () => {
    const r = await runBin('cartd', ['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\s+serve \[options\]/m);
    expect(r.stdout).toMatch(/^\s+worker \[options\]/m);
    expect(r.stdout).toContain('--no-worker');
  });

  test('`cartd worker` needs Redis: exit 2 and says which setting', async () => {
    const r = await runBin('cartd', ['worker', '-c', writeIni(dir, 'http://127.0.0.1:1/')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('cartd: cartd worker needs Redis: set [redis] url or REDIS_URL (workers take their jobs from its queues)\n');
  });

  test('`cartd serve --no-worker` needs Redis too: exit 2', async () => {
    const r = await runBin('cartd', ['serve', '--no-worker', '-c', writeIni(dir, 'http://127.0.0.1:1/')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--no-worker needs Redis ([redis] url or REDIS_URL)');
  });

  test('options before the command count too: `cartd -c FILE worker` reads FILE', async () => {
    const ini = writeIni(dir, 'http://127.0.0.1:1/', { 'cartd.concurrency': 'zero' });
    const r = await runBin('cartd', ['-c', ini, 'worker']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`[cartd] concurrency = "zero" ([cartd] concurrency in ${ini})`);
  });

  test('a bad --concurrency is refused before anything starts', async () => {
    const r = await runBin('cartd', ['worker', '--concurrency', '0']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("option '--concurrency <n>' argument '0' is invalid. expected a whole number, 1 or more");
  });
});

describeWithRedis('one `cartd serve --no-worker` and one `cartd worker` on Redis', () => {
  let archive: ArchiveServer;
  let redis: RedisServer;
  let dir: string;
  const procs: Running[] = [];

  beforeAll(async () => {
    archive = await startArchiveServer();
    redis = await startRedis();
    dir = mkdtempSync(path.join(os.tmpdir(), 'cartd-roles-'));
  });
  afterAll(async () => {
    for (const p of procs) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    await redis?.stop();
    await archive?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the API queues, the worker stages, the cart is ready; SIGTERM stops both with exit 0', async () => {
    const ini = writeIni(dir, archive.url, { 'redis.url': redis.url, 'redis.prefix': uniquePrefix('roles') });
    const api = start(['serve', '--no-worker', '-c', ini, '-p', '0']);
    procs.push(api);
    const serving = await api.line('cartd serving');
    expect(serving).toMatchObject({ runner: 'bullmq', worker: false });
    const url = String(serving.url);

    const f = await archiveFile(archive, 'role-1', 'r/1.txt', 'staged by the worker process');
    expect((await postCart(url, 'roles', cartBody([f]))).code).toBe(201);
    // No worker yet: the cart waits in the queue.
    await new Promise((r) => setTimeout(r, 300));
    expect(archive.stats('role-1').get).toBe(0);

    const worker = start(['worker', '-c', ini, '--concurrency', '2']);
    procs.push(worker);
    expect(await worker.line('cartd worker running')).toMatchObject({ concurrency: 2 });
    // Staging gives way to the API server: the worker runs 10 nicer (worker_nice), the API as started.
    expect(getPriority(worker.child.pid)).toBe(Math.min(19, getPriority() + 10));
    expect(getPriority(api.child.pid)).toBe(getPriority());
    expect((await waitForCart(url, 'roles', 20_000)).status).toBe('ready');
    expect(archive.stats('role-1').get).toBe(1);
    expect(worker.output()).toContain('"msg":"file staged"');

    api.child.kill('SIGTERM');
    worker.child.kill('SIGTERM');
    expect(await api.exited).toBe(0);
    expect(await worker.exited).toBe(0);
  });
});
