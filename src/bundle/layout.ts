/**
 * The byte layout of a cart's tarball, worked out before the first byte is sent. It is a pure
 * function of its inputs, so Content-Length, a strong ETag and any Range can be answered up
 * front, and a download resumed after a restart gets the very same bytes.
 */
import { createHash } from 'node:crypto';
import { buildManifests } from './manifest';
import { BLOCK, encodeFileHeader, padding, tarMtime, type FileHeader } from './tar-headers';

/** One staged file, in cart order. */
export interface BundleFile {
  /** Below the root folder, `/`-separated, no `.`/`..`/empty segments. */
  readonly path: string;
  readonly size: number;
  /** Seconds since the epoch, may be fractional (floored in the header). */
  readonly mtime: number;
  /** Absolute path of the bytes on disk; not part of the ETag (the volume may move). */
  readonly source: string;
  /** When given, they go into the ETag and into the manifests. */
  readonly hashtype?: string;
  readonly hashsum?: string;
}

export interface TarLayoutOptions {
  /** Append `ROOT/MANIFEST.<hashtype>` for each hashtype present (see manifest.ts). */
  readonly manifest?: boolean;
}

export type EntryBody =
  | { readonly kind: 'file'; readonly source: string }
  | { readonly kind: 'bytes'; readonly data: Buffer };

/** One member: header bytes (re-encoded on demand, so a big cart costs no header memory), body, padding. */
export interface TarEntry {
  /** Where the entry's first header byte sits in the archive. */
  readonly offset: number;
  readonly header: FileHeader;
  readonly headerSize: number;
  readonly body: EntryBody;
}

export interface TarLayout {
  /** Exact Content-Length of the whole tarball. */
  readonly size: number;
  /**
   * Strong, quoted ETag: sha256 of every header byte (names, sizes, mtimes, modes), each
   * file's hashtype:hashsum and the manifests. Without hashsums, content is assumed to follow
   * size and mtime (the volume stores blobs by digest, so callers should pass them).
   */
  readonly etag: string;
  /** In archive order, offsets increasing. */
  readonly entries: readonly TarEntry[];
  /** Where the end-of-archive marker (two zero blocks, as pack's finalize writes) begins. */
  readonly trailerOffset: number;
}

export const FILE_MODE = 0o644;
const TRAILER = 2 * BLOCK;
/** Bump when the layout changes in a way the header bytes would not show. */
const LAYOUT_VERSION = 'cartd-tar-1';

/** Offset just past an entry's padding. */
export function entryEnd(e: TarEntry): number {
  return e.offset + e.headerSize + e.header.size + padding(e.header.size);
}

/**
 * Throws a RangeError unless every member would land inside ROOT. Paths are validated when a
 * cart is created; this stops a bad one (or a bad root from the query string) anyway.
 */
export function assertSafeBundle(root: string, files: readonly BundleFile[]): void {
  if (root === '' || root === '.' || root === '..' || /[/\0]/.test(root)) {
    throw new RangeError(`unsafe root folder name: ${JSON.stringify(root)}`);
  }
  for (const f of files) {
    const bad = f.path.split('/').some((s) => s === '' || s === '.' || s === '..' || s.includes('\0'));
    if (bad) throw new RangeError(`unsafe path in cart: ${JSON.stringify(f.path)}`);
    if (!Number.isSafeInteger(f.size) || f.size < 0) throw new RangeError(`bad size for ${f.path}: ${f.size}`);
  }
}

/** The tarball for `files` below the folder `root`, plus the manifests when asked. */
export function tarLayout(root: string, files: readonly BundleFile[], options: TarLayoutOptions = {}): TarLayout {
  assertSafeBundle(root, files);
  const hash = createHash('sha256').update(`${LAYOUT_VERSION}\0`);
  const entries: TarEntry[] = [];
  let offset = 0;

  const add = (path: string, size: number, mtime: number, body: EntryBody, identity: string | Buffer): void => {
    const header: FileHeader = { name: `${root}/${path}`, size, mtime: tarMtime(mtime), mode: FILE_MODE, uid: 0, gid: 0 };
    const bytes = encodeFileHeader(header);
    hash.update(bytes).update(identity).update('\0');
    entries.push({ offset, header, headerSize: bytes.byteLength, body });
    offset += bytes.byteLength + size + padding(size);
  };

  for (const f of files) {
    add(f.path, f.size, f.mtime, { kind: 'file', source: f.source }, `${f.hashtype ?? ''}:${f.hashsum ?? ''}`);
  }
  if (options.manifest === true) {
    for (const m of buildManifests(files)) {
      add(m.path, m.content.byteLength, m.mtime, { kind: 'bytes', data: m.content }, m.content);
    }
  }
  return { size: offset + TRAILER, etag: `"${hash.digest('hex')}"`, entries, trailerOffset: offset };
}
