/** What the archive says of one file (HEAD). */
export interface ArchiveFileStatus {
  readonly size: number;
  /** Seconds since the epoch; may be fractional. */
  readonly mtime: number;
  readonly media: 'disk' | 'tape';
}

/** The archive interface as staging needs it (PROTOCOL.md section 2). */
export interface ArchivePort {
  /** HEAD; null when the archive has no such file (404). */
  status(archiveId: string, signal?: AbortSignal): Promise<ArchiveFileStatus | null>;
  /** POST: ask the archive to bring the file from tape to disk. */
  recall(archiveId: string, signal?: AbortSignal): Promise<void>;
  /** GET the file's bytes from `from.start` (0: the whole file) to its end, `from.size`. */
  pull(archiveId: string, from: ByteSpan, signal?: AbortSignal): Promise<ByteSource>;
}

/**
 * A body as it arrives: its chunks, read once, in order; `destroy` lets go of it (read or
 * not), so the connection it came on is closed or freed. A Readable is one.
 */
export interface ByteSource extends AsyncIterable<Buffer> {
  destroy(): void;
}

/** Where a GET starts in a file of `size` bytes (the size the archive's HEAD announced). */
export interface ByteSpan {
  readonly start: number;
  readonly size: number;
}

/** One file to pull from the archive into a temp file on the volume, verified and synced. */
export interface PullRequest {
  readonly archiveId: string;
  readonly temp: string;
  readonly hashtype: string;
  readonly hashsum: string;
  readonly size: number;
  /** Seconds since the epoch, set on the file before it is synced. */
  readonly mtime?: number;
  readonly signal?: AbortSignal;
  /** Bytes written so far, now and then. */
  readonly onChunk?: (written: number) => void;
  /** The body broke off after `at` bytes and the rest is being asked for (see pullResuming). */
  readonly onResume?: (at: number, cause: string) => void;
}

/**
 * Pulls files' bytes away from the event loop (transfer threads): the GET, the hash and the
 * writes. Rejects as writeVerified does: TransferError (retryable or not), CancelledError.
 */
export interface PullerPort {
  /** Is a file of `size` bytes worth handing over? Smaller ones are pulled on the event loop. */
  wants(size: number): boolean;
  pull(req: PullRequest): Promise<void>;
}

/**
 * Runs staging work: the embedded in-process runner or BullMQ workers. Both call the
 * same use-cases in staging/ and must pass the same end-to-end suite.
 */
export interface StagingRunner {
  /** Begin taking work (and pick up carts left unfinished by an earlier process). */
  start(): Promise<void>;
  /** Stage every file of a cart that was just created or sent back to staging. */
  submitCart(cartId: number): Promise<void>;
  /** Drop queued work for the cart and abort its transfers in progress. */
  cancelCart(cartId: number): Promise<void>;
  /** Stop taking work, let running work finish or release it, then close. */
  stop(): Promise<void>;
}
