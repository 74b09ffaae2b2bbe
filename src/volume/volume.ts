import { mkdir, rename, rm, rmdir, statfs } from 'node:fs/promises';
import * as path from 'node:path';
import type { Logger } from 'pino';
import { CancelledError } from '../core/errors';
import type { ByteSource } from '../core/ports';
import type { BlobsRepo, BlobRow } from '../db/blobs-repo';
import { newOwner, ownerIsGone, retireOwner } from './owners';
import { SpaceWaits } from './space-waits';
import { writeVerified } from './write-verified';

export interface VolumeOptions {
  readonly root: string;
  /** 0: no cap beyond the filesystem's free space. */
  readonly maxBytes: number;
  /** Free space always left on the filesystem. */
  readonly reserveBytes: number;
  /** How long a reservation stays valid without renewal (a dead worker's expires). Default 60 s. */
  readonly leaseMs?: number;
  /** Evict least-recently-used ready carts when room is needed (`lru_purge`). Default true. */
  readonly evict?: boolean;
  /** A ready cart used (or made ready) this recently is never evicted (`lru_buffer_time`). Default 0. */
  readonly lruBufferMs?: number;
  /** How long a file may wait for room now held by carts in progress or in use (`space_wait`); 0 (default): fail at once. */
  readonly spaceWaitMs?: number;
}

/** How long one statfs answer stands for the filesystem's room. */
const STATFS_TTL_MS = 500;

/** One file's claim on the volume. */
export interface SpaceRequest {
  readonly key: string;
  readonly size: number;
  readonly cartId: number;
  readonly fileId: number;
  /** Runs first inside the reservation's transaction (one commit per file, not two). */
  readonly alsoInTx?: () => void;
}

export interface IngestRequest {
  readonly key: string;
  readonly hashtype: string;
  readonly hashsum: string;
  readonly size: number;
  /** Seconds since the epoch, set on the file once it is in place. */
  readonly mtime: number;
  readonly signal?: AbortSignal;
  /** Called with bytes written so far. */
  readonly onProgress?: (bytes: number) => void;
  /** Runs inside the transaction that records the blob as present (one commit per file, not two). */
  readonly alsoInTx?: () => void;
}

/**
 * The local disk: blobs stored once by content key under `blobs/`, written through this
 * owner's folder in `tmp/` (temp file, hash while writing, verify, fsync, rename), so a file
 * under its final name is always complete and verified. Every byte written is covered by a
 * row of the ledger first, so the volume never holds more than its capacity.
 */
export class Volume {
  readonly leaseMs: number;
  readonly owner = newOwner();
  /** Keys this owner is transferring right now. */
  private readonly active = new Set<string>();
  /** Files waiting for room: file row id -> since when (ms). */
  private readonly waits: SpaceWaits;
  private tmpReady: Promise<unknown> | undefined;
  /** Stored bytes plus the filesystem's free bytes, and when statfs said so. */
  private room: { at: number; bytes: number } | undefined;
  /** Blob folders (`blobs/<2 hex>`) known to exist: made once, not once per file. */
  private readonly madeDirs = new Set<string>();

  constructor(
    readonly options: VolumeOptions,
    private readonly blobs: BlobsRepo,
    private readonly log?: Logger,
  ) {
    this.leaseMs = options.leaseMs ?? 60_000;
    this.waits = new SpaceWaits(options.spaceWaitMs ?? 0);
  }

  get blobDir(): string {
    return path.join(this.options.root, 'blobs');
  }

  get tmpDir(): string {
    return path.join(this.options.root, 'tmp');
  }

  /** Temp files of this owner only: others' are theirs until they are known dead. */
  get ownTmpDir(): string {
    return path.join(this.tmpDir, this.owner);
  }

  async init(): Promise<void> {
    await mkdir(this.blobDir, { recursive: true });
    await mkdir(this.tmpDir, { recursive: true });
  }

  /** This process is done with the volume: its temp folder goes and its owner id counts as dead. */
  async close(): Promise<void> {
    retireOwner(this.owner);
    await rmdir(this.ownTmpDir).catch(() => undefined);
  }

  blobPath(key: string): string {
    return path.join(this.blobDir, key.slice(key.indexOf('-') + 1, key.indexOf('-') + 3), key);
  }

  tempPath(key: string, owner = this.owner): string {
    return path.join(this.tmpDir, owner, `${key}.part`);
  }

  isPresent(key: string): boolean {
    return this.blobs.get(key)?.state === 'present';
  }

  /** A download found this blob's file missing or the wrong size: forget it, so staging fetches it again. */
  forgetMissing(key: string): boolean {
    return this.blobs.forgetPresent(key);
  }

  presentMtime(key: string): { size: number; mtime: number | null } | undefined {
    const row = this.blobs.get(key);
    return row?.state === 'present' ? { size: row.size, mtime: row.mtime } : undefined;
  }

  /** Another transfer (here or in another process) is bringing these bytes: ask again later, not the archive. */
  isBeingFetched(key: string, now = Date.now()): boolean {
    const row = this.blobs.get(key);
    return row !== undefined && row.state !== 'present' && !this.isStale(row, now);
  }

  /**
   * The most the ledger may add up to: what is stored plus what the filesystem can still take.
   * That sum does not change when our own blobs land or go (bytes move between "free" and
   * "stored"), only when something else uses the disk, so it is read from statfs at most
   * every STATFS_TTL_MS rather than once per file; `reserveBytes` absorbs what others write
   * meanwhile.
   */
  async capacity(now = Date.now()): Promise<number> {
    if (this.room === undefined || now - this.room.at > STATFS_TTL_MS) {
      const fs = await statfs(this.options.root);
      this.room = { at: now, bytes: this.blobs.presentBytes() + Number(fs.bavail) * Number(fs.bsize) };
    }
    let cap = this.room.bytes - this.options.reserveBytes;
    if (this.options.maxBytes > 0) cap = Math.min(cap, this.options.maxBytes);
    return Math.max(0, cap);
  }

  /**
   * Reserve room for a blob before any byte is written, evicting least-recently-used ready
   * carts if that makes it fit. `present`: already stored; `busy`: another transfer is
   * bringing the same bytes; `wait`: room is held by carts in progress or in use, try later;
   * `need-sizes`: carts would have to be evicted, so first learn the sizes of all of this
   * cart's files. Throws NoSpaceError when the cart cannot fit (or has waited long enough).
   */
  async reserve(req: SpaceRequest, now = Date.now()): Promise<'present' | 'reserved' | 'busy' | 'wait' | 'need-sizes'> {
    const result = this.blobs.tryReserve({
      ...req,
      capacity: await this.capacity(),
      now,
      evict: this.options.evict ?? true,
      bufferMs: this.options.lruBufferMs ?? 0,
      owner: this.owner,
      leaseMs: this.leaseMs,
      isStale: (row) => this.isStale(row, now),
    });
    if (result.outcome === 'no-room') return result.why === 'sizes' ? 'need-sizes' : this.waits.noRoom(req.fileId, req.size, result.why, result.available, now);
    this.waits.done(req.fileId);
    if (result.outcome !== 'reserved') return result.outcome;
    this.active.add(req.key);
    if (result.takenFrom !== null && result.takenFrom !== this.owner) await rm(this.tempPath(req.key, result.takenFrom), { force: true });
    for (const v of result.evicted) this.log?.info({ cart: v.uid, lastUsedAt: new Date(v.lastUsedAt).toISOString(), forFile: req.key }, 'cart evicted to make room');
    // The freed bytes leave the disk before any new byte arrives.
    await this.removeBlobs(result.dropping);
    return 'reserved';
  }

  /**
   * For a file that is waiting for room: is it still in the way? Answers without asking the
   * archive anything; throws NoSpaceError once the wait is over.
   */
  async stillWaiting(req: SpaceRequest, now = Date.now()): Promise<boolean> {
    if (!this.waits.isWaiting(req.fileId)) return false;
    const plan = this.blobs.probe({ ...req, capacity: await this.capacity(), now, evict: this.options.evict ?? true, bufferMs: this.options.lruBufferMs ?? 0 });
    if (plan.fits || plan.why === 'sizes') return false;
    this.waits.noRoom(req.fileId, req.size, plan.why, plan.available, now);
    return true;
  }

  /** How long a file waiting for room sleeps before it looks again: longer the longer it has waited. */
  spaceRetryDelay(fileId: number, baseMs: number, now = Date.now()): number {
    return this.waits.retryDelay(fileId, baseMs, now);
  }

  private isStale(row: BlobRow, now: number): boolean {
    if (row.owner === this.owner) return !this.active.has(row.key);
    return ownerIsGone(row.owner, row.leaseUntil, now);
  }

  release(key: string): void {
    this.active.delete(key);
    this.blobs.release(key, this.owner);
  }

  /** Write `source` as blob `key`: temp file, hash, compare, fsync, rename, mtime. */
  async ingest(source: ByteSource, req: IngestRequest): Promise<void> {
    try {
      await this.ingestBy((temp, onChunk) => writeVerified(source, temp, { ...req, onChunk }), req);
    } finally {
      source.destroy();
    }
  }

  /**
   * Blob `key` from whatever `write` puts into the temp file it is given (verified, synced:
   * writeVerified's promise, here or on a transfer thread), reporting bytes written through
   * `onChunk`; then rename, record as present. The temp file goes on any failure.
   */
  async ingestBy(write: (temp: string, onChunk: (written: number) => void) => Promise<void>, req: IngestRequest): Promise<void> {
    this.tmpReady ??= mkdir(this.ownTmpDir, { recursive: true });
    await this.tmpReady;
    const temp = this.tempPath(req.key);
    let renewed = Date.now();
    try {
      await write(temp, (written) => {
        if (Date.now() - renewed > this.leaseMs / 3) {
          renewed = Date.now();
          this.blobs.renewLease(req.key, this.owner, renewed + this.leaseMs);
        }
        req.onProgress?.(written);
      });
      await this.moveIntoPlace(temp, this.blobPath(req.key));
      this.blobs.markPresent(req.key, req.size, req.mtime, Date.now(), req.alsoInTx);
      this.active.delete(req.key);
    } catch (err) {
      await rm(temp, { force: true });
      // Our temp folder was removed under us (another process judged this owner dead): the retry makes it again.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') this.tmpReady = undefined;
      if (req.signal?.aborted && !(err instanceof CancelledError)) throw new CancelledError();
      throw err;
    }
  }

  private async moveIntoPlace(temp: string, final: string): Promise<void> {
    const dir = path.dirname(final);
    if (!this.madeDirs.has(dir)) {
      await mkdir(dir, { recursive: true });
      this.madeDirs.add(dir);
    }
    try {
      await rename(temp, final);
    } catch (err) {
      // The folder was removed behind our back (by hand, or a volume wiped while running): make it again.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await mkdir(dir, { recursive: true });
      await rename(temp, final);
    }
  }

  /** Remove the blobs among `keys` that no staging or ready cart needs; returns bytes freed. */
  async dropUnreferenced(keys: readonly string[], now = Date.now()): Promise<number> {
    const claimed = this.blobs.claimUnreferenced(keys, this.owner, now, now + this.leaseMs);
    await this.removeBlobs(claimed.map((b) => b.key));
    return claimed.reduce((n, b) => n + b.size, 0);
  }

  /** Files first, rows after: the ledger never claims less than the disk holds. */
  async removeBlobs(keys: readonly string[]): Promise<void> {
    for (const key of keys) {
      await rm(this.blobPath(key), { force: true });
      this.blobs.finishDrop(key);
    }
  }
}
