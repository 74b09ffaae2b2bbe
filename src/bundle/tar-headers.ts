/**
 * The one place that touches tar-stream's header encoder. We serve ranges of a tar that is
 * never built in one go, so we cannot use `pack()`; instead we call the same `encode` /
 * `encodePax` that `pack()` calls and mirror its `_encode` / `_encodePax` (pack.js), so our
 * bytes are exactly what `pack()` would write (a unit test compares the two byte for byte).
 * tar-stream's `exports` map hides headers.js, hence the load by file path.
 */
import path from 'node:path';

export const BLOCK = 512;

/** The header fields `pack().entry()` would have filled in for a regular file. */
export interface FileHeader {
  /** Full member name, UTF-8; PAX is used when it is non-ASCII or does not fit ustar. */
  readonly name: string;
  readonly size: number;
  /** Whole seconds since the epoch, 0 .. 2^31-1 (see `tarMtime`). */
  readonly mtime: number;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

interface EncodeOptions {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: Date;
  type: 'file' | 'pax-header';
  linkname?: string;
  uname?: string;
  gname?: string;
  devmajor?: number;
  devminor?: number;
}

/** The two functions of tar-stream/headers.js we use, as that file defines them. */
interface HeadersModule {
  /** One 512-byte ustar block, or null when the name is non-ASCII or does not fit. */
  encode(opts: EncodeOptions): Buffer | null;
  /** A PAX extended header body (unpadded): `path` and `linkpath` records plus `pax`. */
  encodePax(opts: { name: string; linkname?: string; pax?: Readonly<Record<string, string>> }): Buffer;
}

function isHeadersModule(m: unknown): m is HeadersModule {
  if (typeof m !== 'object' || m === null) return false;
  return typeof Reflect.get(m, 'encode') === 'function' && typeof Reflect.get(m, 'encodePax') === 'function';
}

function loadHeaders(): HeadersModule {
  const file = path.join(path.dirname(require.resolve('tar-stream')), 'headers.js');
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- not reachable through the package's exports map
  const m: unknown = require(file);
  if (!isHeadersModule(m)) throw new Error(`tar-stream's ${file} no longer exports encode/encodePax`);
  return m;
}

const headers = loadHeaders();

/**
 * The ustar mtime field is written by tar-stream as `(ms / 1000) | 0` into 11 octal digits:
 * outside 0 .. 2^31-1 that wraps into garbage, so clamp. Fractional seconds are floored.
 */
export function tarMtime(seconds: number): number {
  if (!Number.isFinite(seconds) || seconds <= 0) return 0;
  return Math.min(Math.floor(seconds), 2 ** 31 - 1);
}

/** Bytes of zero padding after `size` bytes of data, up to the next 512-byte block. */
export function padding(size: number): number {
  const rest = size % BLOCK;
  return rest === 0 ? 0 : BLOCK - rest;
}

/**
 * Every byte `pack()` writes before the body of this entry: one ustar block, or (when the
 * name needs it) a `pax-header` block named `PaxHeader`, the PAX records padded to a block,
 * then the file's ustar block, also named `PaxHeader`, exactly as pack.js `_encodePax` does.
 * Sizes of 8 GiB and more are written by `encode` in base-256, which GNU tar, bsdtar and
 * Python's tarfile all read (checked in tests/integration/bundle-readers.test.ts).
 */
export function encodeFileHeader(h: FileHeader): Buffer {
  const opts: EncodeOptions = {
    name: h.name,
    mode: h.mode,
    uid: h.uid,
    gid: h.gid,
    size: h.size,
    mtime: new Date(h.mtime * 1000),
    type: 'file',
  };
  const plain = headers.encode(opts);
  if (plain) return plain;

  const pax = headers.encodePax({ name: h.name });
  const paxBlock = headers.encode({ ...opts, name: 'PaxHeader', size: pax.byteLength, type: 'pax-header' });
  const fileBlock = headers.encode({ ...opts, name: 'PaxHeader' });
  if (!paxBlock || !fileBlock) throw new Error('tar-stream could not encode a PaxHeader block');
  return Buffer.concat([paxBlock, pax, Buffer.alloc(padding(pax.byteLength)), fileBlock]);
}
