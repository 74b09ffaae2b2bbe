import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { Db, UseLog } from './open';
import { USE_RESOLUTION_MS, USE_SQL, writeUse } from './use-write';

/** How often recorded uses are handed to the thread (and so the most a use waits to be written). */
const BATCH_MS = 50;
/** How often the thread checkpoints the WAL into the database file. */
const CHECKPOINT_MS = 1000;
/** How long close() waits for the thread to write what it holds and finish. */
const CLOSE_WAIT_MS = 5000;

/**
 * The thread's code. Plain JavaScript run with `eval`, so it is the same under the compiled
 * server and under ts-jest; small on purpose: write batches of uses, checkpoint.
 */
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 10000');
db.pragma('synchronous = NORMAL');
const touch = db.prepare(${JSON.stringify(USE_SQL)});
const apply = db.transaction((uses) => {
  for (let i = 0; i < uses.length; i += 2) touch.run(uses[i + 1], uses[i], uses[i + 1] - ${USE_RESOLUTION_MS});
});
const checkpoint = setInterval(() => db.pragma('wal_checkpoint(PASSIVE)'), workerData.checkpointMs);
parentPort.on('message', (m) => {
  if (m.uses) {
    apply(m.uses);
    parentPort.postMessage({ written: m.batch });
  }
  if (m.close) {
    clearInterval(checkpoint);
    db.pragma('wal_checkpoint(PASSIVE)');
    db.close();
    parentPort.close();
  }
});
`;

interface Unwritten {
  readonly at: number;
  readonly batch: number;
}

/**
 * Records uses of carts (status calls, downloads) for least-recently-used eviction on a
 * thread with its own connection, which also does this process's WAL checkpoints.
 *
 * Why: a status call must not wait for the disk. Done on the event loop, every use of
 * another cart was a commit, and every thousandth commit ran a checkpoint that copies pages
 * into the database file and fsyncs it. While gigabytes of staged files are being written
 * that fsync takes seconds, and every request that arrives meanwhile waits with it: with a
 * million carts, after minutes of staging, the status p99 was 0.7 s with separate workers
 * and 2.1 s embedded. Now a use is a Map entry; every 50 ms the batch goes to the thread,
 * which writes it in one transaction and checkpoints once a second.
 *
 * Uses not yet known written stay visible through `unwrittenAt`, so this process's
 * eviction planning sees them at once; other processes see a use once written (within
 * about 50 ms, on top of CartsRepo.touch's once a second). If the thread fails, uses are
 * written on the event loop again and checkpoints go back to SQLite's default.
 */
export class UseRecorder implements UseLog {
  private readonly thread: Worker;
  private pending: number[] = [];
  private readonly inFlight = new Map<number, Unwritten>();
  private batch = 0;
  private failed = false;
  private closing: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly exited: Promise<void>;

  private constructor(
    private readonly db: Db,
    private readonly log: Logger,
  ) {
    db.sqlite.pragma('wal_autocheckpoint = 0');
    this.thread = new Worker(THREAD_SOURCE, {
      eval: true,
      workerData: { file: db.path, driver: require.resolve('better-sqlite3'), checkpointMs: CHECKPOINT_MS },
      resourceLimits: { maxYoungGenerationSizeMb: 2 },
    });
    // Never what keeps the process alive: the server is, and close() ends the thread with it.
    this.thread.unref();
    this.thread.on('message', (m: { written: number }) => this.acknowledge(m.written));
    this.thread.on('error', (err) => this.fail(err));
    this.exited = new Promise((resolve) => this.thread.once('exit', () => resolve()));
    this.thread.once('exit', (code) => {
      if (!this.closing) this.fail(new Error(`use recorder thread exited with code ${code}`));
    });
    this.timer = setInterval(() => this.flush(), BATCH_MS);
    this.timer.unref();
  }

  /** For a file database; ':memory:' has nothing another connection could share, so uses stay on the event loop. */
  static attach(db: Db, log: Logger): UseRecorder | undefined {
    if (db.path === ':memory:') return undefined;
    const recorder = new UseRecorder(db, log);
    db.uses = recorder;
    return recorder;
  }

  /** The latest use of a cart recorded here and perhaps not written yet (eviction planning). */
  unwrittenAt(id: number): number | undefined {
    return this.inFlight.get(id)?.at;
  }

  record(id: number, at: number): void {
    if (this.failed || this.closing) {
      writeUse(this.db, id, at);
      return;
    }
    this.pending.push(id, at);
    this.inFlight.set(id, { at, batch: this.batch + 1 });
  }

  private flush(): void {
    if (this.pending.length === 0 || this.failed) return;
    this.batch++;
    this.thread.postMessage({ uses: this.pending, batch: this.batch });
    this.pending = [];
  }

  private acknowledge(batch: number): void {
    for (const [id, u] of this.inFlight) if (u.batch <= batch) this.inFlight.delete(id);
  }

  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = true;
    clearInterval(this.timer);
    this.log.error({ err: err.message }, 'use recorder thread failed; recording uses on the main thread');
    this.db.sqlite.pragma('wal_autocheckpoint = 1000');
    for (const [id, u] of this.inFlight) writeUse(this.db, id, u.at);
    this.inFlight.clear();
    this.pending = [];
  }

  /** Hand over what is left, let the thread write it and checkpoint, and wait for it to end. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.timer);
      if (this.failed) return;
      this.flush();
      this.thread.postMessage({ close: true });
      const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), CLOSE_WAIT_MS).unref());
      if ((await Promise.race([this.exited, timeout])) === 'timeout') {
        this.log.warn('use recorder thread did not finish in time; stopped');
        await this.thread.terminate();
        for (const [id, u] of this.inFlight) writeUse(this.db, id, u.at);
      }
      this.inFlight.clear();
      if (this.db.sqlite.open) this.db.sqlite.pragma('wal_autocheckpoint = 1000');
      if (this.db.uses === this) this.db.uses = undefined;
    })();
    return this.closing;
  }
}
