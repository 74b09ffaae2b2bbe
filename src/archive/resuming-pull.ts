import { setTimeout as sleep } from 'node:timers/promises';
import { CancelledError, TransferError } from '../core/errors';
import type { ArchivePort, ByteSource } from '../core/ports';
import { byteSource } from './byte-source';

/** Resumes of one pull at most; each must have brought bytes since the one before. */
export const MAX_RESUMES = 3;

export interface ResumeOptions {
  /** Pause before asking for the rest. */
  readonly delayMs: number;
  readonly signal?: AbortSignal;
  /** Called before each resume with the bytes already received and why the body broke off. */
  readonly onResume?: (at: number, cause: string) => void;
}

/**
 * GET a file of `size` bytes as one stream of its bytes. When the body breaks off after some
 * bytes (connection closed early, reset, no byte for longer than the timeout), the rest is
 * asked for with `byte_range` from where it broke, and the stream goes on as if nothing
 * happened: whoever hashes and writes it sees the whole file once, and a hash mismatch still
 * condemns the whole. At most MAX_RESUMES, each only after new bytes arrived; otherwise the
 * last fault is thrown, for the caller's retry (from the start) to handle.
 */
export async function pullResuming(archive: Pick<ArchivePort, 'pull'>, archiveId: string, size: number, opts: ResumeOptions): Promise<ByteSource> {
  const first = await archive.pull(archiveId, { start: 0, size }, opts.signal);
  return byteSource(resumed(archive, archiveId, size, first, opts), () => first.destroy());
}

async function* resumed(archive: Pick<ArchivePort, 'pull'>, archiveId: string, size: number, first: ByteSource, opts: ResumeOptions): AsyncGenerator<Buffer> {
  let body = first;
  let got = 0;
  let resumes = 0;
  let resumedAt = 0;
  try {
    for (;;) {
      try {
        for await (const chunk of body) {
          got += chunk.length;
          yield chunk;
        }
        return;
      } catch (err) {
        body.destroy();
        if (opts.signal?.aborted) throw new CancelledError();
        const resumable = err instanceof TransferError && err.retryable && got > resumedAt && got < size;
        if (!resumable) throw err;
        if (resumes === MAX_RESUMES) throw new TransferError(`${err.message}; resumed ${MAX_RESUMES} times`, true);
        resumes += 1;
        resumedAt = got;
        opts.onResume?.(got, err.message);
        await sleep(opts.delayMs, undefined, opts.signal ? { signal: opts.signal } : {}).catch(() => {
          throw new CancelledError();
        });
        body = await archive.pull(archiveId, { start: got, size }, opts.signal);
      }
    }
  } finally {
    body.destroy();
  }
}
