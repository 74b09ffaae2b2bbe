import { and, eq, inArray, sql } from 'drizzle-orm';
import { placeholder as ph, writeTx, type Db, type Drizzle } from './open';
import { blobs, carts } from './schema';
import { NEEDED, planApplied, planSpace, type EvictionVictim, type NoRoomReason, type PlanRequest, type SpacePlan } from './space-plan';

export type BlobState = 'reserved' | 'present' | 'dropping';

export interface BlobRow {
  readonly key: string;
  readonly size: number;
  readonly state: BlobState;
  readonly mtime: number | null;
  /** Who holds a reservation or is removing the bytes (a volume owner id). */
  readonly owner: string | null;
  readonly leaseUntil: number | null;
}

export interface ReserveRequest extends PlanRequest {
  readonly owner: string;
  readonly leaseMs: number;
  /** May the reservation in `row` (held by someone else, or by us but idle) be taken over? */
  readonly isStale: (row: BlobRow) => boolean;
  /** Runs first inside the transaction (the caller's own bookkeeping, committed with it). */
  readonly alsoInTx?: () => void;
}

export type ReserveResult =
  | { readonly outcome: 'present' | 'busy' }
  | { readonly outcome: 'reserved'; readonly takenFrom: string | null; readonly evicted: readonly EvictionVictim[]; readonly dropping: readonly string[]; readonly freed: number }
  | { readonly outcome: 'no-room'; readonly why: NoRoomReason; readonly available: number };

const COLUMNS = { key: blobs.key, size: blobs.size, state: blobs.state, mtime: blobs.mtime, owner: blobs.owner, leaseUntil: blobs.leaseUntil };

/** Statements run for every file staged, compiled once per connection. */
function prepareHotQueries(orm: Drizzle) {
  const key = eq(blobs.key, sql.placeholder('key'));
  return {
    get: orm.select(COLUMNS).from(blobs).where(key).prepare(),
    reserve: orm
      .insert(blobs)
      .values({ key: sql.placeholder('key'), size: sql.placeholder('size'), state: 'reserved', createdAt: sql.placeholder('now'), owner: sql.placeholder('owner'), leaseUntil: sql.placeholder('until') })
      .onConflictDoUpdate({ target: blobs.key, set: { size: ph('size'), state: 'reserved', owner: ph('owner'), leaseUntil: ph('until'), createdAt: ph('now') } })
      .prepare(),
    renew: orm
      .update(blobs)
      .set({ leaseUntil: ph('until') })
      .where(and(key, eq(blobs.owner, sql.placeholder('owner')), eq(blobs.state, 'reserved')))
      .prepare(),
    present: orm
      .insert(blobs)
      .values({ key: sql.placeholder('key'), size: sql.placeholder('size'), state: 'present', mtime: sql.placeholder('mtime'), createdAt: sql.placeholder('now') })
      .onConflictDoUpdate({ target: blobs.key, set: { state: 'present', size: ph('size'), mtime: ph('mtime'), owner: null, leaseUntil: null } })
      .prepare(),
    release: orm.delete(blobs).where(and(key, eq(blobs.state, 'reserved'), eq(blobs.owner, sql.placeholder('owner')))).prepare(),
    finishDrop: orm.delete(blobs).where(and(key, eq(blobs.state, 'dropping'))).prepare(),
  };
}

type HotQueries = ReturnType<typeof prepareHotQueries>;

/**
 * The volume's ledger: one row per stored, about-to-be-stored or being-removed blob. A row
 * is written *before* the bytes and deleted only *after* them, so SUM(size) is always an
 * upper bound of what the volume holds.
 */
export class BlobsRepo {
  private hot: HotQueries | undefined;

  constructor(private readonly db: Db) {}

  /** Prepared on first use: the tables may not exist yet when the repository is made. */
  private get q(): HotQueries {
    return (this.hot ??= prepareHotQueries(this.db.orm));
  }

  get(key: string): BlobRow | undefined {
    return this.q.get.get({ key });
  }

  all(): BlobRow[] {
    return this.db.orm.select(COLUMNS).from(blobs).all();
  }

  /**
   * Claim `size` bytes for `key` in one write transaction, evicting least-recently-used
   * ready carts if that makes it fit, so no two workers (or processes) can both believe the
   * last free bytes are theirs. Evicted carts are marked deleted and the bytes they free are
   * marked `dropping` in the same transaction; the caller removes those files, then calls
   * finishDrop().
   */
  tryReserve(req: ReserveRequest): ReserveResult {
    return writeTx(this.db, () => {
      req.alsoInTx?.();
      const row = this.get(req.key);
      if (row?.state === 'present') return { outcome: 'present' };
      if (row && (row.state === 'dropping' || !req.isStale(row))) return { outcome: 'busy' };
      const plan: SpacePlan = planSpace(this.db, req);
      if (!plan.fits) return { outcome: 'no-room', why: plan.why, available: plan.available };
      if (plan.victims.length > 0) {
        this.db.orm
          .update(carts)
          .set({ deletedAt: req.now, updatedAt: req.now })
          .where(and(inArray(carts.id, plan.victims.map((v) => v.id)), sql`${carts.deletedAt} IS NULL`))
          .run();
      }
      this.markDropping(plan.drop, req.owner, req.now, req.now + req.leaseMs);
      planApplied(this.db, plan);
      this.q.reserve.run({ key: req.key, size: req.size, now: req.now, owner: req.owner, until: req.now + req.leaseMs });
      return { outcome: 'reserved', takenFrom: row?.owner ?? null, evicted: plan.victims, dropping: plan.drop, freed: plan.freed };
    });
  }

  /** The same plan, outside a transaction: would a reservation fit now? (A cheap re-check for a file waiting for room.) */
  probe(req: PlanRequest): SpacePlan {
    return planSpace(this.db, req);
  }

  /** Keep a reservation alive while its transfer runs. */
  renewLease(key: string, owner: string, until: number): void {
    this.q.renew.run({ key, owner, until });
  }

  /** The bytes are in place and verified (whoever held the reservation by now). */
  markPresent(key: string, size: number, mtime: number, now: number, alsoInTx?: () => void): void {
    writeTx(this.db, () => {
      this.q.present.run({ key, size, mtime, now });
      alsoInTx?.();
    });
  }

  /** Give back a reservation that did not become a blob. */
  release(key: string, owner: string): void {
    this.q.release.run({ key, owner });
  }

  /** Take over a gone owner's reservation or removal, as a removal of our own (the caller removes the file, then finishDrop()). */
  claimFrom(key: string, from: string | null, owner: string, leaseUntil: number): boolean {
    return (
      this.db.orm
        .update(blobs)
        .set({ state: 'dropping', owner, leaseUntil })
        .where(and(eq(blobs.key, key), from === null ? sql`${blobs.owner} IS NULL` : eq(blobs.owner, from), sql`${blobs.state} != 'present'`))
        .run().changes > 0
    );
  }

  /** Owners holding rows (reservations or removals) and the latest of their leases. */
  owners(): { owner: string; leaseUntil: number }[] {
    return this.db.stmt(`SELECT owner, COALESCE(MAX(lease_until), 0) AS leaseUntil FROM blobs WHERE owner IS NOT NULL GROUP BY owner`)
      .all() as { owner: string; leaseUntil: number }[];
  }

  /** Bytes present plus reserved plus being removed (running totals kept by triggers). */
  totalBytes(): number {
    return this.totals().allBytes;
  }

  /** Bytes whose files are complete on disk (present, or present until their removal finishes). */
  presentBytes(): number {
    return this.totals().presentBytes;
  }

  private totals(): { allBytes: number; presentBytes: number } {
    const r = this.db.stmt(`SELECT all_bytes AS allBytes, present_bytes AS presentBytes FROM volume_totals WHERE id = 1`).get() as
      | { allBytes: number; presentBytes: number }
      | undefined;
    return r ?? { allBytes: 0, presentBytes: 0 };
  }

  /**
   * Mark the blobs among `keys` that no staging or ready cart needs as `dropping`, in one
   * transaction, so a cart created meanwhile either sees them gone or keeps them.
   */
  claimUnreferenced(keys: readonly string[], owner: string, now: number, leaseUntil: number): { key: string; size: number }[] {
    if (keys.length === 0) return [];
    return writeTx(this.db, () => {
      const found = this.db.stmt(`SELECT b.key, b.size FROM blobs b WHERE b.state = 'present' AND b.key IN (SELECT value FROM json_each(?)) AND NOT ${NEEDED('b.key')}`)
        .all(JSON.stringify(keys)) as { key: string; size: number }[];
      this.markDropping(
        found.map((r) => r.key),
        owner,
        now,
        leaseUntil,
      );
      return found;
    });
  }

  /** The file of a `dropping` blob is gone: forget the row. */
  finishDrop(key: string): void {
    this.q.finishDrop.run({ key });
  }

  /** A present blob whose file is missing or damaged: forget it (its carts are staged again). */
  forgetPresent(key: string): boolean {
    return this.db.orm.delete(blobs).where(and(eq(blobs.key, key), eq(blobs.state, 'present'))).run().changes > 0;
  }

  /**
   * Inside a write transaction. A failed cart's files that named these bytes no longer have
   * them, so they are marked failed too: sending that cart back to staging fetches them again.
   */
  private markDropping(keys: readonly string[], owner: string, now: number, leaseUntil: number): void {
    if (keys.length === 0) return;
    const json = JSON.stringify(keys);
    this.db.stmt(`UPDATE blobs SET state = 'dropping', owner = ?, lease_until = ? WHERE state = 'present' AND key IN (SELECT value FROM json_each(?))`)
      .run(owner, leaseUntil, json);
    this.db.stmt(
        `UPDATE files SET status = 'error', message = 'file ' || archive_id || ': removed from the volume after the cart failed', updated_at = ?
         WHERE status = 'staged' AND hashtype || '-' || hashsum IN (SELECT value FROM json_each(?))
           AND cart_id IN (SELECT id FROM carts WHERE status = 'error' AND deleted_at IS NULL)`,
      )
      .run(now, json);
  }
}
