import { availableParallelism } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { CancelledError, TransferError } from '../core/errors';
import type { PullerPort, PullRequest } from '../core/ports';
import type { FromThread, ThreadError, ThreadSetup, ToThread, TransferJob } from './transfer-job';

interface Slot {
  readonly worker: Worker;
  running: number;
  /** Ends the thread once it has been idle for IDLE_MS. */
  idle?: NodeJS.Timeout;
}

/**
 * Files smaller than this are pulled on the event loop: hashing them costs less than handing
 * them to a thread and back, and a process serving only small carts never starts one.
 */
const THREAD_MIN_BYTES = 1024 * 1024;

/** A thread idle this long ends, giving back its memory (a download after staging should not pay for it). */
const IDLE_MS = 2000;

interface Waiting {
  readonly slot: Slot;
  readonly onChunk?: (written: number) => void;
  readonly onResume?: (at: number, cause: string) => void;
  settle(err?: Error): void;
}

/** Threads for the bytes: one less than the cores (the event loop keeps one), at least one, at most four. */
export function defaultThreadCount(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

/**
 * The compiled thread entry. Under ts-jest the sources are TypeScript, which a worker thread
 * cannot load: the thread then runs the build of the same file (the test setup compiles dist/ first).
 */
function threadScript(): string {
  if (__filename.endsWith('.js')) return path.join(__dirname, 'transfer-thread.js');
  return path.resolve(__dirname, '..', '..', 'dist', 'src', 'main', 'transfer-thread.js');
}

function rebuild(e: ThreadError): Error {
  if (e.name === 'TransferError') return new TransferError(e.message, e.retryable ?? true);
  if (e.name === 'CancelledError') return new CancelledError(e.message);
  const err: NodeJS.ErrnoException = new Error(e.message);
  err.name = e.name;
  if (e.code !== undefined) err.code = e.code;
  return err;
}

/**
 * Pulls staged files' bytes on worker threads (transfer-thread.ts): the GET, the hash and the
 * writes of every file run there, and the event loop only hears "done" or why not. With the
 * bytes on the event loop, a process staging large files spent most of its time hashing and
 * copying them, and status calls queued behind that work (and behind the CPU the machine had
 * left): HEAD p99 of hundreds of ms with the embedded runner. Threads start on first use, so
 * a process that never stages never starts one; a thread that dies fails its transfers as
 * retryable faults and is replaced on the next.
 */
export class TransferThreads implements PullerPort {
  private readonly slots: Slot[] = [];
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly setup: ThreadSetup,
    private readonly count = defaultThreadCount(),
  ) {}

  /** Is a file of `size` bytes worth a thread? */
  wants(size: number): boolean {
    return size >= THREAD_MIN_BYTES;
  }

  pull(req: PullRequest): Promise<void> {
    if (this.closed || req.signal?.aborted) return Promise.reject(new CancelledError());
    const slot = this.pick();
    const id = this.nextId++;
    const job: TransferJob = {
      id,
      archiveId: req.archiveId,
      temp: req.temp,
      hashtype: req.hashtype,
      hashsum: req.hashsum,
      size: req.size,
      ...(req.mtime === undefined ? {} : { mtime: req.mtime }),
    };
    return new Promise<void>((resolve, reject) => {
      const cancel = (): void => this.post(slot, { cancel: id });
      req.signal?.addEventListener('abort', cancel, { once: true });
      this.waiting.set(id, {
        slot,
        ...(req.onChunk ? { onChunk: req.onChunk } : {}),
        ...(req.onResume ? { onResume: req.onResume } : {}),
        settle: (err) => {
          this.waiting.delete(id);
          req.signal?.removeEventListener('abort', cancel);
          // An idle thread never keeps the process alive, and ends after a while.
          if (--slot.running === 0) this.rest(slot);
          if (err) reject(err);
          else resolve();
        },
      });
      if (slot.running++ === 0) {
        clearTimeout(slot.idle);
        slot.worker.ref();
      }
      this.post(slot, { job });
    });
  }

  /** Stop every thread; transfers still running fail as cancelled. */
  async close(): Promise<void> {
    this.closed = true;
    const slots = this.slots.splice(0);
    for (const s of slots) clearTimeout(s.idle);
    await Promise.all(slots.map((s) => s.worker.terminate()));
    for (const w of [...this.waiting.values()]) w.settle(new CancelledError());
  }

  private rest(slot: Slot): void {
    slot.worker.unref();
    slot.idle = setTimeout(() => {
      if (slot.running > 0) return;
      this.forget(slot);
      void slot.worker.terminate();
    }, IDLE_MS);
    slot.idle.unref();
  }

  private forget(slot: Slot): void {
    const at = this.slots.indexOf(slot);
    if (at >= 0) this.slots.splice(at, 1);
  }

  private post(slot: Slot, m: ToThread): void {
    slot.worker.postMessage(m);
  }

  /** The least busy thread, starting another while fewer than `count` run. */
  private pick(): Slot {
    const idle = this.slots.find((s) => s.running === 0);
    if (idle) return idle;
    if (this.slots.length < this.count) return this.start();
    return this.slots.reduce((a, b) => (b.running < a.running ? b : a));
  }

  private start(): Slot {
    // The bytes are Buffers outside the JS heap; a small young generation keeps the thread's own
    // memory small (V8's default semi-spaces would add tens of MB to the process).
    const worker = new Worker(threadScript(), { workerData: this.setup, resourceLimits: { maxYoungGenerationSizeMb: 4 } });
    const slot: Slot = { worker, running: 0 };
    worker.unref();
    worker.on('message', (m: FromThread) => {
      const w = this.waiting.get(m.id);
      if (!w) return;
      if ('written' in m) w.onChunk?.(m.written);
      else if ('resumedAt' in m) w.onResume?.(m.resumedAt, m.cause);
      else if ('done' in m) w.settle();
      else w.settle(rebuild(m.error));
    });
    // A thread gone on its own fails its transfers as retryable faults; one ended by close() cancels them.
    const lost = (why: string): void => {
      this.forget(slot);
      for (const w of [...this.waiting.values()]) {
        if (w.slot === slot) w.settle(this.closed ? new CancelledError() : new TransferError(`transfer thread stopped: ${why}`, true));
      }
    };
    worker.on('error', (err) => lost(err.message));
    worker.on('exit', (code) => lost(`exit code ${code}`));
    this.slots.push(slot);
    return slot;
  }
}
