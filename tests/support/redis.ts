/**
 * A private redis-server per test file: free port, temp folder, no persistence. Every
 * test gets its own key prefix on it, so nothing leaks between tests.
 *
 * Without a `redis-server` binary on PATH the BullMQ suites are skipped with a printed
 * notice, unless CARTD_REQUIRE_REDIS=1 (set by CI), which turns the skip into a failure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';

export interface RedisServer {
  /** redis://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  /** A client for assertions (closed by stop()). */
  readonly client: Redis;
  /** Keys under `prefix` (`prefix:*`; SCAN, never KEYS); every key when `prefix` is undefined. */
  keys(prefix: string | undefined): Promise<string[]>;
  /** Stop the server answering (SIGSTOP): connections stay open, commands wait, as with a hung Redis. */
  freeze(): void;
  /** Let a frozen server answer again (SIGCONT). */
  thaw(): void;
  stop(): Promise<void>;
}

/** Absolute path of redis-server on PATH, or undefined. */
export function findRedisServer(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, 'redis-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export const redisRequired = process.env.CARTD_REQUIRE_REDIS === '1';
export const redisAvailable = findRedisServer() !== undefined;

let noticePrinted = false;
/** Say once per test file, loudly, that the BullMQ suites did not run. */
export function printRedisSkipNotice(what: string): void {
  if (noticePrinted) return;
  noticePrinted = true;
  process.stderr.write(
    `\n*** SKIPPED: ${what}: no redis-server on PATH. Install it (apt-get install redis-server) to run the BullMQ suites; ` +
      'set CARTD_REQUIRE_REDIS=1 to make this a failure. ***\n\n',
  );
}

/**
 * `describe` for suites that need Redis: runs them when redis-server exists; otherwise
 * skips them with a notice, or fails when CARTD_REQUIRE_REDIS=1.
 */
export function describeWithRedis(name: string, fn: () => void): void {
  if (redisAvailable) {
    describe(name, fn);
    return;
  }
  if (redisRequired) {
    describe(name, () => {
      test('needs redis-server on PATH (CARTD_REQUIRE_REDIS=1)', () => {
        throw new Error('redis-server is not on PATH but CARTD_REQUIRE_REDIS=1: install redis-server');
      });
    });
    return;
  }
  printRedisSkipNotice(name);
  describe.skip(name, fn);
}

/** A key prefix no other test uses. */
export function uniquePrefix(label = 't'): string {
  return `${label}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function waitForReady(child: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => finish(new Error(`redis-server not ready after ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      if (out.includes('Ready to accept connections')) finish();
    };
    const onExit = (code: number | null): void => finish(new Error(`redis-server exited (${code}):\n${out}`));
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve();
    };
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
}

/** Start a private redis-server; throws when there is none on PATH. */
export async function startRedis(): Promise<RedisServer> {
  const bin = findRedisServer();
  if (!bin) throw new Error('redis-server is not on PATH');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cartd-redis-'));
  let lastError: unknown;
  // A port found free can be taken before redis binds it: try a few.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      await waitForReady(child, 10_000);
    } catch (err) {
      lastError = err;
      child.kill('SIGKILL');
      continue;
    }
    child.stdout?.resume();
    child.stderr?.resume();
    const client = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1, lazyConnect: false });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let stopping: Promise<void> | undefined;
    return {
      url: `redis://127.0.0.1:${port}`,
      port,
      client,
      async keys(prefix: string | undefined): Promise<string[]> {
        const found: string[] = [];
        let cursor = '0';
        do {
          const [next, batch] = await client.scan(cursor, 'MATCH', prefix === undefined ? '*' : `${prefix}:*`, 'COUNT', 1000);
          cursor = next;
          found.push(...batch);
        } while (cursor !== '0');
        return found;
      },
      freeze(): void {
        child.kill('SIGSTOP');
      },
      thaw(): void {
        child.kill('SIGCONT');
      },
      stop(): Promise<void> {
        stopping ??= (async () => {
          client.disconnect();
          child.kill('SIGCONT'); // a frozen server would never see the SIGTERM
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
          await exited;
          clearTimeout(timer);
          rmSync(dir, { recursive: true, force: true });
        })();
        return stopping;
      },
    };
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}
