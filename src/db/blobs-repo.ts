import { and, eq, sql } from 'drizzle-orm';
import { writeTx, type Db } from './open';
import { blobs } from './schema';

export type ReserveOutcome = 'present' | 'reserved' | 'busy' | 'full';

export interface BlobRow {
  readonly key: string;
  readonly size: number;
  readonly state: 'reserved' | 'present';
  readonly mtime: number | null;
}

/** The volume's ledger: one row per stored (or about to be stored) blob. */
export class BlobsRepo {
  constructor(private readonly db: Db) {}

  get(key: string): BlobRow | undefined {
    return this.db.orm.select({ key: blobs.key, size: blobs.size, state: blobs.state, mtime: blobs.mtime }).from(blobs).where(eq(blobs.key, key)).get();
  }

  /**
   * Claim `size` bytes for `key` in one write transaction, so no two workers can both
   * believe the last free bytes are theirs. A reservation whose lease ran out (its worker
   * died) is taken over. `capacity` is the most the ledger may add up to.
   */
  tryReserve(key: string, size: number, owner: string, leaseMs: number, capacity: number, now: number): ReserveOutcome {
    return writeTx(this.db, () => {
      const row = this.db.orm.select().from(blobs).where(eq(blobs.key, key)).get();
      if (row?.state === 'present') return 'present';
      if (row && row.owner !== owner && (row.leaseUntil ?? 0) > now) return 'busy';
      const others = this.totalBytes() - (row?.size ?? 0);
      if (others + size > capacity) return 'full';
      this.db.orm
        .insert(blobs)
        .values({ key, size, state: 'reserved', createdAt: now, owner, leaseUntil: now + leaseMs })
        .onConflictDoUpdate({ target: blobs.key, set: { size, owner, leaseUntil: now + leaseMs, createdAt: now } })
        .run();
      return 'reserved';
    });
  }

  /** Keep a reservation alive while its transfer runs. */
  renewLease(key: string, owner: string, until: number): void {
    this.db.orm.update(blobs).set({ leaseUntil: until }).where(and(eq(blobs.key, key), eq(blobs.owner, owner), eq(blobs.state, 'reserved'))).run();
  }

  markPresent(key: string, size: number, mtime: number): void {
    this.db.orm.update(blobs).set({ state: 'present', size, mtime, owner: null, leaseUntil: null }).where(eq(blobs.key, key)).run();
  }

  /** Give back a reservation that did not become a blob. */
  release(key: string, owner: string): void {
    this.db.orm.delete(blobs).where(and(eq(blobs.key, key), eq(blobs.state, 'reserved'), eq(blobs.owner, owner))).run();
  }

  remove(key: string): void {
    this.db.orm.delete(blobs).where(eq(blobs.key, key)).run();
  }

  /** Bytes present plus bytes reserved. */
  totalBytes(): number {
    const r = this.db.orm.select({ n: sql<number>`COALESCE(SUM(${blobs.size}), 0)` }).from(blobs).get();
    return r?.n ?? 0;
  }

  presentBytes(): number {
    const r = this.db.orm.select({ n: sql<number>`COALESCE(SUM(${blobs.size}), 0)` }).from(blobs).where(eq(blobs.state, 'present')).get();
    return r?.n ?? 0;
  }

  all(): BlobRow[] {
    return this.db.orm.select({ key: blobs.key, size: blobs.size, state: blobs.state, mtime: blobs.mtime }).from(blobs).all();
  }

  /**
   * Forget a present blob if no live cart names its bytes; in one transaction, so a cart
   * created meanwhile either sees the blob gone or keeps it. Returns the removed row.
   */
  removeIfUnreferenced(key: string): BlobRow | undefined {
    return writeTx(this.db, () => {
      const row = this.get(key);
      if (!row || row.state !== 'present') return undefined;
      const used = this.db.sqlite
        .prepare(
          `SELECT 1 FROM files f JOIN carts c ON c.id = f.cart_id
           WHERE f.hashtype = ? AND f.hashsum = ? AND c.deleted_at IS NULL LIMIT 1`,
        )
        .get(key.slice(0, key.indexOf('-')), key.slice(key.indexOf('-') + 1));
      if (used) return undefined;
      this.remove(key);
      return row;
    });
  }
}
