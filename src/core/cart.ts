/** The domain: a cart is a list of archive files a user wants as one tarball. */

/** Only `staging` is ever sent while a cart is in progress (reference clients poll on it). */
export type CartStatus = 'staging' | 'ready' | 'error';
export type FileStatus = 'pending' | 'staged' | 'error';

/** One requested file, as validated from the POST body. */
export interface FileRequest {
  /** The file's id in the archive; fetched as `{archive_url}/{archiveId}`. */
  readonly archiveId: string;
  /** Where the file goes inside the tarball, below the root folder; already normalised. */
  readonly path: string;
  /** Canonical digest name (see core/digests). */
  readonly hashtype: string;
  /** Lowercase hex. */
  readonly hashsum: string;
}

export interface Cart {
  readonly id: number;
  readonly uid: string;
  readonly status: CartStatus;
  /** Empty unless the cart failed. */
  readonly message: string;
  /** Digest of the canonical request body: an identical re-POST is idempotent. */
  readonly requestDigest: string;
  readonly fileCount: number;
  /** Bumped whenever the cart is sent back to staging, so job ids never collide. */
  readonly generation: number;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** Last download or status request (ms); drives least-recently-used eviction. */
  readonly lastUsedAt: number;
}

export interface CartFile {
  readonly id: number;
  readonly cartId: number;
  readonly position: number;
  readonly archiveId: string;
  readonly path: string;
  readonly hashtype: string;
  readonly hashsum: string;
  /** Bytes, known once the archive answered HEAD (or the blob was already on the volume). */
  readonly size: number | null;
  /** Seconds since the epoch (may be fractional), from the archive's Last-Modified. */
  readonly mtime: number | null;
  readonly status: FileStatus;
  readonly message: string;
  /** Transfer attempts made so far (faults only; tape waits do not count). */
  readonly tries: number;
  /** When the recall from tape was requested (ms), null if never. */
  readonly recallAt: number | null;
}

/** The key under which identical bytes are stored once on the volume. */
export function blobKey(f: Pick<FileRequest, 'hashtype' | 'hashsum'>): string {
  return `${f.hashtype}-${f.hashsum}`;
}

export interface CartProgress {
  readonly files: number;
  readonly filesStaged: number;
  readonly bytes: number;
  readonly bytesStaged: number;
}
