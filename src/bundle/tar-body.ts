/**
 * Streams a tarball, or one byte range of it, straight from a `TarLayout`: it finds the entry
 * the range starts in by binary search and reads only the file slices it needs, so resuming
 * at byte 90 GB costs no more than starting at 0.
 */
import { Readable, addAbortSignal } from 'node:stream';
import { readFileSlice } from './file-slice';
import { entryEnd, type TarEntry, type TarLayout } from './layout';
import { BLOCK, encodeFileHeader } from './tar-headers';
import type { ByteRange } from './range';
import type { ReadBuffers } from './read-buffers';

export interface TarStreamOptions {
  /** Largest read from disk and largest chunk pushed; default 1 MiB. */
  readonly chunkSize?: number;
  /** Aborting destroys the stream (and so closes the open file). */
  readonly signal?: AbortSignal;
}

export interface TarPiecesOptions {
  /** Largest read from disk; default 1 MiB (`buffers.size` when given). */
  readonly chunkSize?: number;
  /** Read large files into these; the consumer hands each piece back once it is sent. */
  readonly buffers?: ReadBuffers;
}

const DEFAULT_CHUNK = 1024 * 1024;
/** Headers and small files are gathered up to this before being pushed: fewer, larger writes. */
const GATHER = 64 * 1024;
const ZEROS = Buffer.alloc(2 * BLOCK);

/** Index of the entry holding byte `pos`, or `entries.length` when it is in the trailer. */
function entryAt(entries: readonly TarEntry[], pos: number): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const e = entries[mid];
    if (e !== undefined && entryEnd(e) <= pos) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Files up to this size are read whole, several at once ahead of the one being sent. */
const SMALL_FILE = 256 * 1024;
/** Small files being read ahead at once. */
const READ_AHEAD = 16;

/** The whole body of a small file (checked like any slice: missing or resized throws). */
async function readWhole(source: string, size: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of readFileSlice(source, size, 0, size, size)) parts.push(part);
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/** The bytes [from, to) of one entry, relative to its start; `whole` is its body already being read. */
async function* entryBytes(e: TarEntry, from: number, to: number, chunk: number, whole: Promise<Buffer> | undefined, buffers: ReadBuffers | undefined): AsyncGenerator<Buffer> {
  const bodyStart = e.headerSize;
  const bodyEnd = bodyStart + e.header.size;
  if (from < bodyStart) yield encodeFileHeader(e.header).subarray(from, Math.min(to, bodyStart));
  const a = Math.max(from, bodyStart) - bodyStart;
  const b = Math.min(to, bodyEnd) - bodyStart;
  if (e.body.kind === 'bytes') {
    if (a < b) yield e.body.data.subarray(a, b);
  } else if (whole !== undefined) {
    const body = await whole;
    if (a < b) yield body.subarray(a, b);
  } else if (a < b || (e.header.size === 0 && from < bodyStart && to === bodyStart)) {
    // An empty file has no body bytes: it is still opened and checked once its header
    // has been sent, so "a missing source file makes the stream error" holds for it too.
    yield* readFileSlice(e.body.source, e.header.size, a, b, chunk, buffers);
  }
  const padFrom = Math.max(from, bodyEnd);
  if (padFrom < to) yield ZEROS.subarray(0, to - padFrom);
}

/**
 * Reads small files' bodies ahead, READ_AHEAD at a time, so a cart of many small files is not
 * sent at the pace of one open-stat-read-close after another. Each read opens and closes its
 * own file; one the consumer never reaches (client gone) just finishes and is dropped.
 */
class ReadAhead {
  private readonly reads = new Map<number, Promise<Buffer>>();
  private next: number;

  constructor(
    private readonly entries: readonly TarEntry[],
    first: number,
    private readonly stop: number,
  ) {
    this.next = first;
  }

  /** The body of entry `i` if it is a small file (starting the reads of those after it), else undefined. */
  take(i: number): Promise<Buffer> | undefined {
    this.next = Math.max(this.next, i);
    while (this.next < this.entries.length && this.next <= i + READ_AHEAD && this.reads.size < READ_AHEAD) {
      const e = this.entries[this.next];
      if (e === undefined || e.offset >= this.stop) break;
      if (e.body.kind === 'file' && e.header.size > 0 && e.header.size <= SMALL_FILE) {
        const read = readWhole(e.body.source, e.header.size);
        read.catch(() => undefined); // awaited when its entry is sent; an early failure is not unhandled
        this.reads.set(this.next, read);
      }
      this.next += 1;
    }
    const read = this.reads.get(i);
    this.reads.delete(i);
    return read;
  }
}

/** Every byte of [start, end], in order, in pieces of any size. */
async function* pieces(layout: TarLayout, start: number, end: number, chunk: number, buffers: ReadBuffers | undefined): AsyncGenerator<Buffer> {
  const stop = end + 1;
  const first = entryAt(layout.entries, start);
  const ahead = new ReadAhead(layout.entries, first, stop);
  for (let i = first; i < layout.entries.length; i += 1) {
    const e = layout.entries[i];
    if (e === undefined || e.offset >= stop) return;
    yield* entryBytes(e, Math.max(start, e.offset) - e.offset, Math.min(stop, entryEnd(e)) - e.offset, chunk, ahead.take(i), buffers);
  }
  const from = Math.max(start, layout.trailerOffset);
  if (from < stop) yield ZEROS.subarray(0, stop - from);
}

/** Joins small pieces so a cart of many small files is not sent 512 bytes at a time. */
async function* gather(source: AsyncIterable<Buffer>, target: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let length = 0;
  for await (const piece of source) {
    if (piece.byteLength === 0) continue;
    if (length === 0 && piece.byteLength >= target) {
      yield piece;
      continue;
    }
    if (piece.byteLength >= target) {
      // A big piece after small ones (a file's body after its header): top the small ones up
      // to `target` from it and send the rest as it is, so at most `target` bytes are copied,
      // not the whole piece (for 1 MiB files that was every byte of the download, once more).
      const take = target - length;
      parts.push(piece.subarray(0, take));
      yield Buffer.concat(parts, target);
      parts = [];
      length = 0;
      yield piece.subarray(take);
      continue;
    }
    parts.push(piece);
    length += piece.byteLength;
    if (length >= target) {
      yield Buffer.concat(parts, length);
      parts = [];
      length = 0;
    }
  }
  if (length > 0) yield Buffer.concat(parts, length);
}

/**
 * The tarball's bytes `range.start` to `range.end` inclusive (default: all of it), as pieces
 * pulled one at a time. Ending the iteration early (`return()`) closes the file being read;
 * a missing or resized source file throws, so the bytes never just stop short.
 */
export function tarPieces(layout: TarLayout, range?: ByteRange, options: TarPiecesOptions = {}): AsyncGenerator<Buffer> {
  const chunk = options.chunkSize ?? options.buffers?.size ?? DEFAULT_CHUNK;
  if (!Number.isSafeInteger(chunk) || chunk <= 0) throw new RangeError(`bad chunkSize: ${chunk}`);
  const start = range?.start ?? 0;
  const end = range?.end ?? layout.size - 1;
  if (!(Number.isSafeInteger(start) && Number.isSafeInteger(end) && start >= 0 && end < layout.size && start <= end + 1)) {
    throw new RangeError(`range ${start}-${end} is outside 0-${layout.size - 1}`);
  }
  return gather(pieces(layout, start, end, chunk, options.buffers), Math.min(GATHER, chunk));
}

/**
 * The same bytes as a stream, pulled with backpressure. Destroying the stream (client gone)
 * or aborting `signal` closes the file being read; a missing or resized source file makes
 * the stream error, never end.
 */
export function tarStream(layout: TarLayout, range?: ByteRange, options: TarStreamOptions = {}): Readable {
  const chunk = options.chunkSize ?? DEFAULT_CHUNK;
  const stream = Readable.from(tarPieces(layout, range, { chunkSize: chunk }), { objectMode: false, highWaterMark: chunk });
  return options.signal ? addAbortSignal(options.signal, stream) : stream;
}
