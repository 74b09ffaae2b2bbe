/**
 * A transfer thread: pulls files from the archive into temp files on the volume while
 * hashing them (writeVerified), so the bytes of staged files never pass through the event
 * loop that answers status calls. Started by TransferThreads; one archive connection pool
 * per thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { HttpArchive } from '../archive/http-archive';
import { pullResuming } from '../archive/resuming-pull';
import { CancelledError, TransferError } from '../core/errors';
import { writeVerified } from '../volume/write-verified';
import { PROGRESS_MS, type FromThread, type ThreadError, type ThreadSetup, type ToThread, type TransferJob } from './transfer-job';

const setup = workerData as ThreadSetup;
const port = parentPort;
if (!port) throw new Error('transfer-thread runs only as a worker thread');
const archive = new HttpArchive(setup);
const running = new Map<number, AbortController>();
const send = (m: FromThread): void => port.postMessage(m);

function describe(err: unknown): ThreadError {
  if (err instanceof TransferError) return { name: err.name, message: err.message, retryable: err.retryable };
  if (err instanceof CancelledError) return { name: err.name, message: err.message };
  const e: NodeJS.ErrnoException = err instanceof Error ? err : new Error(String(err));
  return { name: e.name, message: e.message, ...(typeof e.code === 'string' ? { code: e.code } : {}) };
}

async function run(job: TransferJob): Promise<void> {
  const abort = new AbortController();
  running.set(job.id, abort);
  let reported = Date.now();
  try {
    const body = await pullResuming(archive, job.archiveId, job.size, {
      delayMs: setup.resumeDelayMs,
      signal: abort.signal,
      onResume: (at, cause) => send({ id: job.id, resumedAt: at, cause }),
    });
    try {
      await writeVerified(body, job.temp, {
        hashtype: job.hashtype,
        hashsum: job.hashsum,
        size: job.size,
        ...(job.mtime === undefined ? {} : { mtime: job.mtime }),
        signal: abort.signal,
        onChunk: (written) => {
          if (Date.now() - reported < PROGRESS_MS) return;
          reported = Date.now();
          send({ id: job.id, written });
        },
      });
    } finally {
      body.destroy();
    }
    send({ id: job.id, done: true });
  } catch (err) {
    send({ id: job.id, error: describe(abort.signal.aborted ? new CancelledError() : err) });
  } finally {
    running.delete(job.id);
  }
}

port.on('message', (m: ToThread) => {
  if ('job' in m) void run(m.job);
  else running.get(m.cancel)?.abort();
});
