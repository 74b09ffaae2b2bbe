import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { findDigest } from '../core/digests';
import { CancelledError, TransferError } from '../core/errors';

export interface VerifiedWrite {
  readonly hashtype: string;
  readonly hashsum: string;
  /** Bytes the archive announced: no more may be written, and no fewer accepted. */
  readonly size: number;
  readonly signal?: AbortSignal;
  /** Seconds since the epoch, set on the file before it is synced. */
  readonly mtime?: number;
  /** After each chunk, with the bytes written so far. */
  readonly onChunk?: (written: number) => void;
}

/**
 * Stream `source` into the file `temp` while hashing it; resolve once the file holds exactly
 * `size` bytes with the expected digest and is synced. Throws TransferError (retryable) for
 * too many, too few or wrong bytes, CancelledError when `signal` aborts. The caller owns
 * `temp`: it renames it into place, or removes it after an error.
 */
export async function writeVerified(source: AsyncIterable<Buffer>, temp: string, req: VerifiedWrite): Promise<void> {
  const digest = findDigest(req.hashtype);
  if (!digest) throw new TransferError(`unknown hashtype ${req.hashtype}`, false);
  const fh = await open(temp, 'w');
  // Chunks are gathered into writes of up to WRITE_BATCH bytes (one writev, no copy), and the
  // next batch is gathered and hashed while the previous one is being written.
  let inFlight: Promise<void> | undefined;
  let batch: Buffer[] = [];
  let batched = 0;
  let batchAt = 0;
  const flush = async (): Promise<void> => {
    if (batched === 0) return;
    const [buffers, at] = [batch, batchAt];
    batch = [];
    batched = 0;
    await inFlight;
    inFlight = fh.writev(buffers, at).then(() => undefined);
    inFlight.catch(() => undefined); // awaited below or before the next batch; never unhandled
  };
  try {
    const hash = createHash(digest.nodeName);
    let received = 0;
    let endsInHole = false;
    for await (const chunk of source) {
      if (req.signal?.aborted) throw new CancelledError();
      // Checked before writing: the temp file never outgrows its reservation.
      if (received + chunk.length > req.size) throw new TransferError(`archive sent more than the ${req.size} bytes it announced`, true);
      hash.update(chunk);
      // All-zero chunks become a hole (see isZeros): a sparse 9 GiB file stages without writing 9 GiB.
      endsInHole = isZeros(chunk);
      if (endsInHole) await flush();
      else {
        if (batched === 0) batchAt = received;
        batch.push(chunk);
        batched += chunk.length;
        if (batched >= WRITE_BATCH) await flush();
      }
      received += chunk.length;
      req.onChunk?.(received);
    }
    await flush();
    await inFlight;
    if (req.signal?.aborted) throw new CancelledError();
    if (received !== req.size) throw new TransferError(`transfer cut short: ${received} of ${req.size} bytes`, true);
    const got = hash.digest('hex');
    if (got !== req.hashsum) throw new TransferError(`hash mismatch: expected ${req.hashtype} ${req.hashsum}, got ${got}`, true);
    if (endsInHole) await fh.truncate(received); // a file ending in zeros is only that long once truncated
    if (req.mtime !== undefined) await fh.utimes(req.mtime, req.mtime);
    await fh.datasync();
  } finally {
    await inFlight?.catch(() => undefined);
    await fh.close().catch(() => undefined);
  }
}

/** Bytes gathered into one write. */
const WRITE_BATCH = 1024 * 1024;

const ZEROS = Buffer.alloc(1024 * 1024);

/** True when every byte is 0 (compared a MiB at a time, memcmp speed); such chunks are left as holes. */
function isZeros(chunk: Buffer): boolean {
  for (let at = 0; at < chunk.length; at += ZEROS.length) {
    const part = chunk.subarray(at, Math.min(chunk.length, at + ZEROS.length));
    if (!part.equals(ZEROS.subarray(0, part.length))) return false;
  }
  return true;
}
