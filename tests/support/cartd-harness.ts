/**
 * Runs the real cartd in-process on port 0 with its own temp folder (SQLite file, volume),
 * against an archive test server. Timings are shortened through the same config keys a
 * user would set.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { loadConfig, type Config } from '../../src/config/config';
import { createLogger } from '../../src/main/logger';
import type { RunnerOptions } from '../../src/main/runner';
import { startServer, type RunningServer } from '../../src/main/server';
import type { ArchiveServer } from './archive-server';
import { printRedisSkipNotice, redisAvailable, redisRequired, startRedis, uniquePrefix, type RedisServer } from './redis';

export type RunnerName = 'embedded' | 'bullmq';

/**
 * The runners every end-to-end suite about carts runs under, with identical expectations
 * (`describe.each(RUNNERS)`). BullMQ is left out, with a printed notice, when there is no
 * redis-server, unless CARTD_REQUIRE_REDIS=1 (then its suites fail).
 */
export const RUNNERS: readonly RunnerName[] =
  redisAvailable || redisRequired ? ['embedded', 'bullmq'] : (printRedisSkipNotice('the BullMQ runner half of the end-to-end suites'), ['embedded']);

/** Fast timings for tests; any key can be overridden per test (`section.key` -> text). */
export const TEST_DEFAULTS: Readonly<Record<string, string>> = {
  'archiveinterface.timeout': '2',
  'archiveinterface.retries': '3',
  'archiveinterface.retry_delay': '0.05',
  'archiveinterface.retry_max_delay': '0.2',
  'archiveinterface.tape_first_delay': '0.2',
  'archiveinterface.tape_max_delay': '1',
  'cartd.volume_reserve_bytes': '0',
  'server.port': '0',
  'server.address': '127.0.0.1',
};

export interface CartdHarness {
  readonly url: string;
  readonly dir: string;
  readonly config: Config;
  readonly running: RunningServer;
  readonly runner: RunnerName;
  /** BullMQ only: the Redis in use and this cartd's key prefix. */
  readonly redis?: { readonly server: RedisServer; readonly prefix: string };
  /** The `section.key` settings this cartd runs with (to start `cartd worker` processes alike). */
  readonly settings: Readonly<Record<string, string>>;
  /** Stop the server, keep its folder (for restart tests). */
  stop(): Promise<void>;
  /** Stop and remove the folder. */
  close(): Promise<void>;
}

export interface HarnessOptions {
  readonly archive: ArchiveServer;
  readonly overrides?: Readonly<Record<string, string>>;
  /** Reuse a folder (restart); a new temp folder otherwise. */
  readonly dir?: string;
  /** Default embedded. */
  readonly runner?: RunnerName;
  /** BullMQ: a Redis to share (restarts, worker processes); a private one (stopped by close()) otherwise. */
  readonly redis?: RedisServer;
  /** BullMQ: key prefix (reuse it on restart); a unique one otherwise. */
  readonly prefix?: string;
  /** BullMQ: lock, drain (default 0: a stopping test server hands its jobs back at once), worker in this process. */
  readonly runnerOptions?: RunnerOptions;
}

export function testSettings(dir: string, archiveUrl: string, overrides: Readonly<Record<string, string>> = {}): Record<string, string> {
  return {
    ...TEST_DEFAULTS,
    'archiveinterface.url': archiveUrl,
    'cartd.volume_path': path.join(dir, 'volume'),
    'database.url': path.join(dir, 'cartd.sqlite3'),
    ...overrides,
  };
}

export function testConfig(dir: string, archiveUrl: string, overrides: Readonly<Record<string, string>> = {}): Config {
  return loadConfig({ cwd: dir, env: {}, overrides: testSettings(dir, archiveUrl, overrides) });
}

/** The same settings as an INI file's text (for `cartd worker -c FILE`). */
export function iniText(settings: Readonly<Record<string, string>>): string {
  const sections = new Map<string, string[]>();
  for (const [id, value] of Object.entries(settings)) {
    const [section, key] = id.split('.') as [string, string];
    sections.set(section, [...(sections.get(section) ?? []), `${key} = ${value}`]);
  }
  return [...sections].map(([section, lines]) => `[${section}]\n${lines.join('\n')}\n`).join('\n');
}

/** Harness-started Redis servers and how many harnesses use each: the last one to close stops it. */
const redisUsers = new Map<RedisServer, number>();

export async function startCartd(opts: HarnessOptions): Promise<CartdHarness> {
  const dir = opts.dir ?? mkdtempSync(path.join(os.tmpdir(), 'cartd-test-'));
  const runner = opts.runner ?? 'embedded';
  // A Redis another harness started (a restart passes `redis: first.redis.server`) is shared until both close.
  const ownRedis = runner === 'bullmq' ? (opts.redis === undefined ? await startRedis() : redisUsers.has(opts.redis) ? opts.redis : undefined) : undefined;
  if (ownRedis) redisUsers.set(ownRedis, (redisUsers.get(ownRedis) ?? 0) + 1);
  const releaseRedis = async (): Promise<void> => {
    if (!ownRedis) return;
    const left = (redisUsers.get(ownRedis) ?? 1) - 1;
    if (left > 0) redisUsers.set(ownRedis, left);
    else {
      redisUsers.delete(ownRedis);
      await ownRedis.stop();
    }
  };
  const redisServer = opts.redis ?? ownRedis;
  const redis = runner === 'bullmq' && redisServer ? { server: redisServer, prefix: opts.prefix ?? uniquePrefix('cartd') } : undefined;
  const settings = testSettings(dir, opts.archive.url, { ...(redis ? { 'redis.url': redis.server.url, 'redis.prefix': redis.prefix } : {}), ...opts.overrides });
  const config = loadConfig({ cwd: dir, env: {}, overrides: settings });
  const log = process.env.TEST_LOG ? createLogger(process.env.TEST_LOG) : pino({ level: 'silent' });
  let running: RunningServer;
  try {
    running = await startServer(config, log, { runner: { drainMs: 0, ...opts.runnerOptions } });
  } catch (err) {
    await releaseRedis();
    throw err;
  }
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await running.stop();
  };
  return {
    url: running.url,
    dir,
    config,
    running,
    runner,
    ...(redis ? { redis } : {}),
    settings,
    stop,
    async close() {
      await stop();
      await releaseRedis();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface TestFile {
  readonly id: string | number;
  readonly path: string;
  readonly hashtype: string;
  readonly hashsum: string;
  readonly data: Buffer;
}

export function digest(data: Buffer | string, hashtype = 'md5'): string {
  return createHash(hashtype).update(data).digest('hex');
}

/** Store a file on the archive and describe it as a cart entry. */
export async function archiveFile(
  archive: ArchiveServer,
  id: string | number,
  filePath: string,
  data: Buffer | string,
  opts: { hashtype?: string; media?: 'disk' | 'tape'; mtime?: number } = {},
): Promise<TestFile> {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data);
  await archive.put(String(id), buf, { media: opts.media, mtime: opts.mtime });
  const hashtype = opts.hashtype ?? 'md5';
  const nodeName = { sha3_256: 'sha3-256', blake2b: 'blake2b512', blake2s: 'blake2s256' }[hashtype] ?? hashtype;
  return { id, path: filePath, hashtype, hashsum: digest(buf, nodeName), data: buf };
}

export function cartBody(files: readonly TestFile[]): { fileids: { id: string | number; path: string; hashtype: string; hashsum: string }[] } {
  return { fileids: files.map((f) => ({ id: f.id, path: f.path, hashtype: f.hashtype, hashsum: f.hashsum })) };
}

export interface StatusAnswer {
  readonly code: number;
  readonly status: string | null;
  readonly message: string | null;
  readonly headers: Headers;
}

export async function headCart(url: string, uid: string): Promise<StatusAnswer> {
  const res = await fetch(new URL(uid, url), { method: 'HEAD' });
  return { code: res.status, status: res.headers.get('x-pacifica-status'), message: res.headers.get('x-pacifica-message'), headers: res.headers };
}

/**
 * Poll HEAD the way pacifica-python-downloader does: while 204 + staging, wait; return the
 * first other answer. Records every status word seen so tests can assert only `staging` appeared.
 */
export async function waitForCart(url: string, uid: string, timeoutMs = 30_000, seen?: string[]): Promise<StatusAnswer> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const a = await headCart(url, uid);
    seen?.push(`${a.code} ${a.status ?? ''}`);
    if (!(a.code === 204 && a.status === 'staging')) return a;
    if (Date.now() > deadline) throw new Error(`cart ${uid} still staging after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function postCart(url: string, uid: string, body: unknown): Promise<{ code: number; json: unknown }> {
  const res = await fetch(new URL(uid, url), { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { code: res.status, json: await res.json().catch(() => null) };
}
