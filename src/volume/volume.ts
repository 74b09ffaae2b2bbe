import { createHash, randomUUID } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, statfs, utimes } from 'node:fs/promises';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { findDigest } from '../core/digests';
import { CancelledError, NoSpaceError, TransferError } from '../core/errors';
import type { BlobsRepo } from '../db/blobs-repo';

export interface VolumeOptions {
  readonly root: string;
  /** 0: no cap beyond the filesystem's free space. */
  readonly maxBytes: number;
  /** Free space always left on the filesystem. */
  readonly reserveBytes: number;
  /** How long a reservation stays valid without renewal (a dead worker's expires). */
  readonly leaseMs?: number;
}

export interface IngestRequest {
  readonly key: string;
  readonly hashtype: string;
  readonly hashsum: string;
  readonly size: number;
  /** Seconds since the epoch, set on the file once it is in place. */
  readonly mtime: number;
  readonly signal?: AbortSignal;
  /** Called with bytes written so far (for progress and lease renewal). */
  readonly onProgress?: (bytes: number) => void;
}

/**
 * The local disk: blobs stored once by content key under `blobs/`, written through
 * `tmp/` (temp file, hash while writing, verify, fsync, rename), so a file under its final
 * name is always complete and verified.
 */
export class Volume {
  readonly leaseMs: number;
  readonly owner = randomUUID();

  constructor(
    readonly options: VolumeOptions,
    private readonly blobs: BlobsRepo,
  ) {
    this.leaseMs = options.leaseMs ?? 60_000;
  }

  get blobDir(): string {
    return path.join(this.options.root, 'blobs');
  }

  get tmpDir(): string {
    return path.join(this.options.root, 'tmp');
  }

  async init(): Promise<void> {
    await mkdir(this.blobDir, { recursive: true });
    await mkdir(this.tmpDir, { recursive: true });
  }

  blobPath(key: string): string {
    return path.join(this.blobDir, key.slice(key.indexOf('-') + 1, key.indexOf('-') + 3), key);
  }

  isPresent(key: string): boolean {
    return this.blobs.get(key)?.state === 'present';
  }

  presentMtime(key: string): { size: number; mtime: number | null } | undefined {
    const row = this.blobs.get(key);
    return row?.state === 'present' ? { size: row.size, mtime: row.mtime } : undefined;
  }

  /** The most the ledger may add up to: what is stored plus what the filesystem can still take. */
  async capacity(): Promise<number> {
    const fs = await statfs(this.options.root);
    const free = Number(fs.bavail) * Number(fs.bsize);
    let cap = this.blobs.presentBytes() + free - this.options.reserveBytes;
    if (this.options.maxBytes > 0) cap = Math.min(cap, this.options.maxBytes);
    return Math.max(0, cap);
  }

  /**
   * Reserve room for a blob before any byte is written. `present`: already stored;
   * `busy`: another transfer is bringing the same bytes (try later). Throws NoSpaceError.
   */
  async reserve(key: string, size: number, now = Date.now()): Promise<'present' | 'reserved' | 'busy'> {
    const outcome = this.blobs.tryReserve(key, size, this.owner, this.leaseMs, await this.capacity(), now);
    if (outcome === 'full') throw new NoSpaceError(size, Math.max(0, (await this.capacity()) - this.blobs.totalBytes()));
    return outcome;
  }

  release(key: string): void {
    this.blobs.release(key, this.owner);
  }

  /** Write `source` as blob `key`: temp file, hash, compare, fsync, rename, mtime. */
  async ingest(source: Readable, req: IngestRequest): Promise<void> {
    const digest = findDigest(req.hashtype);
    if (!digest) throw new TransferError(`unknown hashtype ${req.hashtype}`, false);
    const temp = path.join(this.tmpDir, `${randomUUID()}.part`);
    const fh = await open(temp, 'wx');
    let closed = false;
    try {
      const hash = createHash(digest.nodeName);
      let written = 0;
      for await (const chunk of source as AsyncIterable<Buffer>) {
        if (req.signal?.aborted) throw new CancelledError();
        hash.update(chunk);
        await fh.write(chunk);
        written += chunk.length;
        if (written > req.size) throw new TransferError(`archive sent more than the ${req.size} bytes it announced`, true);
        req.onProgress?.(written);
      }
      if (req.signal?.aborted) throw new CancelledError();
      if (written !== req.size) throw new TransferError(`transfer cut short: ${written} of ${req.size} bytes`, true);
      const got = hash.digest('hex');
      if (got !== req.hashsum) throw new TransferError(`hash mismatch: expected ${req.hashtype} ${req.hashsum}, got ${got}`, true);
      await fh.datasync();
      await fh.close();
      closed = true;
      const final = this.blobPath(req.key);
      await mkdir(path.dirname(final), { recursive: true });
      await utimes(temp, req.mtime, req.mtime);
      await rename(temp, final);
      this.blobs.markPresent(req.key, req.size, req.mtime);
    } catch (err) {
      if (!closed) await fh.close().catch(() => undefined);
      await rm(temp, { force: true });
      if (req.signal?.aborted && !(err instanceof CancelledError)) throw new CancelledError();
      throw err;
    } finally {
      source.destroy();
    }
  }

  /** Remove the blobs among `keys` that no live cart needs any more; returns bytes freed. */
  async dropUnreferenced(keys: readonly string[]): Promise<number> {
    let freed = 0;
    for (const key of keys) {
      const row = this.blobs.removeIfUnreferenced(key);
      if (!row) continue;
      await rm(this.blobPath(key), { force: true });
      freed += row.size;
    }
    return freed;
  }

  /** Temp files left by a process that died mid-transfer: never a finished blob, always safe to drop for their owner. */
  async discardTemps(): Promise<number> {
    const names = await readdir(this.tmpDir).catch(() => [] as string[]);
    await Promise.all(names.map((n) => rm(path.join(this.tmpDir, n), { force: true })));
    return names.length;
  }
}
