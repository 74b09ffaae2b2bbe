/**
 * One cartd deployment under test, in a folder of its own (SQLite file, volume, logs):
 *   embedded  `cartd` (API and staging in one process)
 *   bullmq1   `cartd serve --no-worker` + 1 `cartd worker`, on a private redis-server
 *   bullmq2   the same with 2 workers
 */
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisServer } from '../tests/support/redis';
import { ROOT, freePort, startProc, waitForHttp, type Proc } from './processes';

export const RUNNER_NAMES = ['embedded', 'bullmq1', 'bullmq2'] as const;
export type RunnerName = (typeof RUNNER_NAMES)[number];

export interface DeploymentOptions {
  readonly runner: RunnerName;
  readonly dir: string;
  readonly archiveUrl: string;
  /** `[cartd] concurrency` of every staging process. */
  readonly concurrency: number;
  /** BullMQ runners only. */
  readonly redis?: RedisServer;
  /** Extra node flags for every cartd process (e.g. --cpu-prof). */
  readonly nodeArgs?: readonly string[];
}

export interface Deployment {
  readonly runner: RunnerName;
  readonly url: string;
  readonly dir: string;
  readonly volumeRoot: string;
  readonly dbPath: string;
  /** Every cartd process: `api` (embedded: the only one), `worker1`, `worker2`. */
  readonly procs: readonly Proc[];
  stop(): Promise<void>;
}

export function databasePath(dir: string): string {
  return path.join(dir, 'cartd.sqlite3');
}

const CARTD = path.resolve(ROOT, 'bin', 'cartd');

/** Resolves once `pid`'s BullMQ workers (stage and finish queues) are connected to Redis. */
async function workersConnected(redis: RedisServer, pid: number, proc: Proc, timeoutMs = 30_000): Promise<void> {
  const suffix = `:w:${os.hostname()}:${pid}`;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { exitCode, signalCode } = proc.child;
    if (exitCode !== null || signalCode !== null) throw new Error(`${proc.role} exited (code ${exitCode}, signal ${signalCode}):\n${proc.log().slice(-4000)}`);
    const list = String(await redis.client.call('CLIENT', 'LIST'));
    const names = list.split('\n').filter((line) => line.includes(suffix));
    if (names.length >= 2) return;
    await sleep(50);
  }
  throw new Error(`${proc.role} (pid ${pid}) did not connect its workers within ${timeoutMs} ms:\n${proc.log().slice(-4000)}`);
}

export async function startDeployment(opts: DeploymentOptions): Promise<Deployment> {
  mkdirSync(opts.dir, { recursive: true });
  const port = await freePort();
  const volumeRoot = path.join(opts.dir, 'volume');
  const dbPath = databasePath(opts.dir);
  const prefix = `bench-${path.basename(opts.dir)}`;
  if (opts.runner !== 'embedded' && opts.redis === undefined) throw new Error(`${opts.runner} needs a redis-server`);
  // Only these variables: nothing from the caller's environment may change what is measured.
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '',
    ARCHIVEINTERFACE_URL: opts.archiveUrl,
    VOLUME_PATH: volumeRoot,
    DATABASE_URL: dbPath,
    CARTD_PORT: String(port),
    CARTD_ADDRESS: '127.0.0.1',
    LOG_LEVEL: 'warn',
    STAGING_CONCURRENCY: String(opts.concurrency),
    // The embedded runner must not see Redis even when the run has one for the BullMQ runners.
    ...(opts.redis && opts.runner !== 'embedded' ? { REDIS_URL: opts.redis.url, REDIS_PREFIX: prefix } : {}),
  };
  const nodeArgs = opts.nodeArgs ?? [];
  const procs: Proc[] = [];
  const start = (role: string, args: string[]): Proc => {
    const p = startProc(role, [...nodeArgs, CARTD, ...args], { env, cwd: opts.dir, logFile: path.join(opts.dir, `${role}.log`) });
    procs.push(p);
    return p;
  };
  const url = `http://127.0.0.1:${port}/`;
  try {
    const api = start('api', opts.runner === 'embedded' ? [] : ['serve', '--no-worker']);
    // The API server creates the database; workers open it after.
    await waitForHttp(url, api);
    const workers = opts.runner === 'bullmq2' ? 2 : opts.runner === 'bullmq1' ? 1 : 0;
    for (let i = 1; i <= workers; i++) {
      const w = start(`worker${i}`, ['worker']);
      await workersConnected(opts.redis as RedisServer, w.pid, w);
    }
  } catch (err) {
    await Promise.all(procs.map((p) => p.stop(2000)));
    throw err;
  }
  return {
    runner: opts.runner,
    url,
    dir: opts.dir,
    volumeRoot,
    dbPath,
    procs,
    async stop() {
      // Workers first: the API server's stop must not wait on their jobs.
      await Promise.all(procs.filter((p) => p.role !== 'api').map((p) => p.stop()));
      await Promise.all(procs.filter((p) => p.role === 'api').map((p) => p.stop()));
    },
  };
}
