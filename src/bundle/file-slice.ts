/**
 * Reads part of one staged file, opened only when the download reaches it and closed on every
 * way out (end, error, or the consumer calling `return()` when the client goes away).
 */
import { open } from 'node:fs/promises';

/** The bytes on disk are not the ones the layout promised: the archive would be corrupt. */
export class SourceChangedError extends Error {
  constructor(
    readonly source: string,
    message: string,
  ) {
    super(`${source}: ${message}`);
    this.name = 'SourceChangedError';
  }
}

/**
 * Yields bytes [from, to) of `source`, in reads of at most `chunkSize`, after checking that
 * the file is exactly `expectedSize` bytes long. A file that is missing (ENOENT from open)
 * or shrinks mid-read throws, so a tarball is never silently truncated.
 */
export async function* readFileSlice(
  source: string,
  expectedSize: number,
  from: number,
  to: number,
  chunkSize: number,
): AsyncGenerator<Buffer, void, undefined> {
  const handle = await open(source, 'r');
  try {
    const { size } = await handle.stat();
    if (size !== expectedSize) throw new SourceChangedError(source, `is ${size} bytes, expected ${expectedSize}`);
    let position = from;
    while (position < to) {
      // A fresh buffer per read: the previous one is still queued in the stream.
      const buffer = Buffer.allocUnsafe(Math.min(chunkSize, to - position));
      const { bytesRead } = await handle.read(buffer, 0, buffer.byteLength, position);
      if (bytesRead === 0) throw new SourceChangedError(source, `ended at byte ${position}, expected ${expectedSize}`);
      position += bytesRead;
      yield bytesRead === buffer.byteLength ? buffer : buffer.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}
