import { Worker } from 'node:worker_threads';

/**
 * Copies the write-ahead log into the database file from a worker thread, every `everyMs`.
 * A checkpoint fsyncs; run inline by SQLite after a commit (its default), it would stall the
 * event loop of whichever request or staging step happened to commit, for seconds when the
 * disk is busy with staged bytes. The connection that uses this turns its own automatic
 * checkpoints off. The thread is unref'd: it never keeps a process alive.
 */
export class BackgroundCheckpoints {
  private readonly worker: Worker;

  constructor(file: string, everyMs = 1000) {
    this.worker = new Worker(THREAD, { eval: true, workerData: { module: require.resolve('better-sqlite3'), file, everyMs } });
    this.worker.on('error', () => undefined); // a failed checkpoint thread leaves the WAL to SQLite's next opener
    this.worker.unref();
  }

  stop(): Promise<number> {
    return this.worker.terminate();
  }
}

// Plain CommonJS: an eval'd worker cannot load TypeScript, and needs nothing of ours.
const THREAD = `
const { workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 5000');
setInterval(() => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch { /* busy: the next tick tries again */ }
}, workerData.everyMs);
`;
