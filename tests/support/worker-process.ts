/**
 * `cartd worker` as a real child process (the built bin/cartd), configured exactly like a
 * test cartd (same SQLite file, volume, archive, Redis and prefix) through an INI file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { iniText, type CartdHarness } from './cartd-harness';

const ROOT = path.resolve(__dirname, '..', '..');

export interface WorkerProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Everything it wrote (pino JSON lines on stdout, then stderr). */
  output(): string;
  /** Log lines (parsed) whose `msg` is `msg`. */
  logged(msg: string): Record<string, unknown>[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once it logged that it runs. */
  readonly ready: Promise<void>;
  kill(signal: NodeJS.Signals): void;
}

const running = new Set<WorkerProcess>();

export function spawnWorker(cartd: CartdHarness, args: readonly string[] = []): WorkerProcess {
  const ini = path.join(cartd.dir, `worker-${randomBytes(3).toString('hex')}.ini`);
  writeFileSync(ini, iniText(cartd.settings));
  // Only PATH: no REDIS_URL or other variable from the environment may override the INI file.
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'cartd'), 'worker', '-c', ini, ...args], {
    cwd: cartd.dir,
    env: { PATH: process.env.PATH ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const ready = new Promise<void>((resolve, reject) => {
    const check = (): void => {
      if (out.includes('"msg":"cartd worker running"')) {
        child.stdout?.off('data', check);
        resolve();
      }
    };
    child.stdout?.on('data', check);
    void exited.then(({ code, signal }) => reject(new Error(`cartd worker exited (${code ?? signal}) before it ran:\n${out}${err}`)));
  });
  ready.catch(() => undefined);
  const proc: WorkerProcess = {
    pid: child.pid ?? -1,
    child,
    output: () => out + err,
    logged: (msg) =>
      out
        .split('\n')
        .filter((l) => l.includes(`"msg":"${msg}"`))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    exited,
    ready,
    kill: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
  running.add(proc);
  void exited.then(() => running.delete(proc));
  return proc;
}

/** SIGKILL every worker still running (afterAll). */
export async function killAllWorkers(): Promise<void> {
  const all = [...running];
  for (const w of all) w.kill('SIGKILL');
  await Promise.all(all.map((w) => w.exited));
}
