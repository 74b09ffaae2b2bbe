/**
 * Reads part of one staged file, opened only when the download reaches it and closed on every
 * way out (end, error, or the consumer calling `return()` when the client goes away).
 */
import { open } from 'node:fs/promises';
import type { ReadBuffers } from './read-buffers';

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
 * or shrinks mid-read throws, so a tarball is never silently truncated. With `buffers`, reads
 * go into buffers the consumer hands back once it has sent them; without, into fresh ones.
 */
export async function* readFileSlice(
  source: string,
  expectedSize: number,
  from: number,
  to: number,
  chunkSize: number,
  buffers?: ReadBuffers,
): AsyncGenerator<Buffer, void, undefined> {
  const handle = await open(source, 'r');
  try {
    const { size } = await handle.stat();
    if (size !== expectedSize) throw new SourceChangedError(source, `is ${size} bytes, expected ${expectedSize}`);
    let position = from;
    while (position < to) {
      // Never the buffer of the previous read: it may still be queued for the socket.
      const length = Math.min(chunkSize, to - position);
      const buffer = buffers?.take(length) ?? Buffer.allocUnsafe(length);
      const { bytesRead } = await handle.read(buffer, 0, buffer.byteLength, position);
      if (bytesRead === 0) throw new SourceChangedError(source, `ended at byte ${position}, expected ${expectedSize}`);
      position += bytesRead;
      yield bytesRead === buffer.byteLength ? buffer : buffer.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}
