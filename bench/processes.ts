/**
 * The programs under test, each its own process on loopback: the archive test server
 * (the built archive-cli) and cartd (the built bin/cartd) as a user runs it, configured
 * through environment variables only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export const ROOT = `${__dirname}/../..`;
const NODE = process.execPath;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface Proc {
  readonly role: string;
  readonly pid: number;
  readonly child: ChildProcess;
  readonly logFile: string;
  readonly exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  log(): string;
}

/** Start `node args...` with its output going to `logFile` (nothing piped through this process). */
export function startProc(role: string, args: readonly string[], opts: { env: NodeJS.ProcessEnv; cwd: string; logFile: string }): Proc {
  const fd = openSync(opts.logFile, 'a');
  const child = spawn(NODE, [...args], { cwd: opts.cwd, env: opts.env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stopping: Promise<void> | undefined;
  return {
    role,
    pid: child.pid ?? -1,
    child,
    logFile: opts.logFile,
    exited,
    log: () => {
      try {
        return readFileSync(opts.logFile, 'utf8');
      } catch {
        return '';
      }
    },
    stop(graceMs = 20_000) {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}

/** Poll `url` until it answers 200; fails early if `proc` exits. */
export async function waitForHttp(url: string, proc: Proc, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void proc.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${proc.role} exited before it answered on ${url}:\n${proc.log().slice(-4000)}`);
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  throw new Error(`${proc.role} did not answer on ${url} within ${timeoutMs} ms:\n${proc.log().slice(-4000)}`);
}

export interface ArchiveProc {
  readonly url: string;
  readonly proc: Proc;
}

/** The archive interface test server as its own process, serving the files in `dir`. */
export async function startArchive(dir: string, logFile: string): Promise<ArchiveProc> {
  const port = await freePort();
  const proc = startProc('archive', [`${ROOT}/dist/tests/support/archive-cli.js`, '--port', String(port), '--dir', dir], {
    env: { PATH: process.env.PATH ?? '' },
    cwd: dir,
    logFile,
  });
  const url = `http://127.0.0.1:${port}/`;
  await waitForHttp(url, proc);
  return { url, proc };
}
