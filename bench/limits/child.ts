/** A baseline runs in a child process of its own, like cartd: started with fork, driven over IPC. */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export interface Child<Reply> {
  readonly pid: number;
  /** The next message the child sends. */
  reply(): Promise<Reply>;
  send(message: unknown): void;
  stop(): Promise<void>;
}

/** Fork `bench/limits/<name>.js` (compiled). */
export function forkLimit<Reply>(name: string): Child<Reply> {
  const child: ChildProcess = fork(path.join(__dirname, `${name}.js`), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    pid: child.pid ?? -1,
    reply: () =>
      new Promise<Reply>((resolve, reject) => {
        const onExit = (code: number | null): void => reject(new Error(`baseline ${name} exited (${code}) without answering`));
        child.once('exit', onExit);
        child.once('message', (m: unknown) => {
          child.off('exit', onExit);
          if (typeof m === 'object' && m !== null && 'error' in m) reject(new Error(`baseline ${name}: ${String(m.error)}`));
          else resolve(m as Reply);
        });
      }),
    send: (message) => child.send(message as object),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** In the child: answer each message with `handle`'s result (or its error's text). */
export function serveParent<Msg, Reply>(handle: (msg: Msg) => Promise<Reply>): void {
  process.on('message', (msg: Msg) => {
    handle(msg).then(
      (reply) => process.send?.(reply),
      (err: unknown) => process.send?.({ error: err instanceof Error ? err.stack ?? err.message : String(err) }),
    );
  });
  process.on('SIGTERM', () => process.exit(0));
}

/** Peak RSS of this process so far, in bytes (getrusage). */
export function maxRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}
