import { and, asc, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { Cart, CartFile, CartProgress, CartStatus, FileRequest } from '../core/cart';
import { conflict } from '../core/errors';
import { placeholder as ph, writeTx, type Db, type Drizzle } from './open';
import { carts, files } from './schema';
import { USE_RESOLUTION_MS, writeUse } from './use-write';

const toCart = (r: typeof carts.$inferSelect): Cart => ({
  id: r.id,
  uid: r.uid,
  status: r.status,
  message: r.message,
  requestDigest: r.requestDigest,
  fileCount: r.fileCount,
  generation: r.generation,
  createdAt: r.createdAt,
  updatedAt: r.updatedAt,
  lastUsedAt: r.lastUsedAt,
});

const toFile = (r: typeof files.$inferSelect): CartFile => ({
  id: r.id,
  cartId: r.cartId,
  position: r.position,
  archiveId: r.archiveId,
  path: r.path,
  hashtype: r.hashtype,
  hashsum: r.hashsum,
  size: r.size,
  mtime: r.mtime,
  status: r.status,
  message: r.message,
  tries: r.tries,
  recallAt: r.recallAt,
});

/**
 * The statements staging runs for every file, built and compiled once per connection:
 * building a drizzle query costs far more than SQLite running it.
 */
function prepareHotQueries(orm: Drizzle) {
  const byId = eq(files.id, sql.placeholder('id'));
  return {
    file: orm.select().from(files).where(byId).prepare(),
    liveCart: orm.select().from(carts).where(and(eq(carts.id, sql.placeholder('id')), isNull(carts.deletedAt))).prepare(),
    liveByUid: orm.select().from(carts).where(and(eq(carts.uid, sql.placeholder('uid')), isNull(carts.deletedAt))).prepare(),
    facts: orm.update(files).set({ size: ph('size'), mtime: ph('mtime'), updatedAt: ph('now') }).where(byId).prepare(),
    recallAt: orm.update(files).set({ recallAt: ph('at'), updatedAt: ph('at') }).where(byId).prepare(),
    tries: orm.update(files).set({ tries: ph('tries'), message: ph('message'), updatedAt: ph('now') }).where(byId).prepare(),
    staged: orm.update(files).set({ status: 'staged', size: ph('size'), mtime: ph('mtime'), message: '', updatedAt: ph('now') }).where(byId).prepare(),
    failed: orm.update(files).set({ status: 'error', message: ph('message'), updatedAt: ph('now') }).where(byId).prepare(),
  };
}

type HotQueries = ReturnType<typeof prepareHotQueries>;

/** Carts and their files. Every method is synchronous (better-sqlite3) and returns plain objects. */
export class CartsRepo {
  private hot: HotQueries | undefined;
  /** Carts this process recorded a use of, and when (see touch). */
  private readonly touched = new Map<number, number>();

  constructor(private readonly db: Db) {}

  /** Prepared on first use: the tables may not exist yet when the repository is made. */
  private get q(): HotQueries {
    return (this.hot ??= prepareHotQueries(this.db.orm));
  }

  /**
   * Create the cart unless a live one has this uid: the same request again returns the
   * existing cart (idempotent), a different one is a conflict.
   */
  create(uid: string, requestDigest: string, requests: readonly FileRequest[], now: number): { cart: Cart; created: boolean } {
    return writeTx(this.db, () => {
      const existing = this.findLive(uid);
      if (existing) {
        if (existing.requestDigest === requestDigest) return { cart: existing, created: false };
        throw conflict(`cart ${uid} already exists with different files; DELETE it first or use another uid`);
      }
      const row = this.db.orm
        .insert(carts)
        .values({ uid, status: 'staging', requestDigest, fileCount: requests.length, createdAt: now, updatedAt: now, lastUsedAt: now })
        .returning()
        .get();
      // One compiled statement run per file: building a drizzle INSERT of many rows costs far more than SQLite storing them.
      const insert = this.db.stmt(
        `INSERT INTO files (cart_id, position, archive_id, path, hashtype, hashsum, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      );
      requests.forEach((f, position) => insert.run(row.id, position, f.archiveId, f.path, f.hashtype, f.hashsum, now));
      return { cart: toCart(row), created: true };
    });
  }

  findLive(uid: string): Cart | undefined {
    const r = this.q.liveByUid.get({ uid });
    return r && toCart(r);
  }

  /** The cart if it is still live (not deleted or evicted). */
  getLive(id: number): Cart | undefined {
    const r = this.q.liveCart.get({ id });
    return r && toCart(r);
  }

  /**
   * Record a use (status or download) for LRU; at most one write a second per cart. A cart
   * this process touched less than a second ago is skipped without a statement at all: a
   * portal polling at hundreds of calls a second would otherwise take the write lock for each.
   * When the server attached a UseRecorder, the write is done on its thread.
   */
  touch(id: number, now: number): void {
    const last = this.touched.get(id);
    if (last !== undefined && now - last < USE_RESOLUTION_MS && now >= last) return;
    if (this.touched.size >= 10_000) this.touched.clear();
    this.touched.set(id, now);
    if (this.db.uses) this.db.uses.record(id, now);
    else writeUse(this.db, id, now);
  }

  files(cartId: number): CartFile[] {
    return this.db.orm.select().from(files).where(eq(files.cartId, cartId)).orderBy(asc(files.position)).all().map(toFile);
  }

  pendingFileIds(cartId: number): number[] {
    return this.db.stmt(`SELECT id FROM files WHERE cart_id = ? AND status = 'pending' ORDER BY position`).pluck().all(cartId) as number[];
  }

  file(id: number): CartFile | undefined {
    const r = this.q.file.get({ id });
    return r && toFile(r);
  }

  /**
   * Does the cart have a pending file the archive has not described yet (no size)? A tape
   * file gets its size only once its recall was answered, so false means every recall of
   * the cart has been sent.
   */
  hasUnexamined(cartId: number): boolean {
    return this.db.stmt(`SELECT 1 FROM files WHERE cart_id = ? AND status = 'pending' AND size IS NULL LIMIT 1`).get(cartId) !== undefined;
  }

  /** Read from the cart's running counts (kept by triggers on `files`): one row, whatever the cart's size. */
  progress(cartId: number): CartProgress {
    const r = this.db
      .stmt(`SELECT file_count AS files, files_staged AS filesStaged, bytes_total AS bytes, bytes_staged AS bytesStaged FROM carts WHERE id = ?`)
      .get(cartId) as CartProgress | undefined;
    return r ?? { files: 0, filesStaged: 0, bytes: 0, bytesStaged: 0 };
  }

  /** Facts learned from the archive's HEAD, kept so the tar layout never needs the archive again. */
  setFileFacts(id: number, size: number, mtime: number, now: number): void {
    this.q.facts.run({ id, size, mtime, now });
  }

  setRecallAt(id: number, at: number): void {
    this.q.recallAt.run({ id, at });
  }

  setTries(id: number, tries: number, message: string, now: number): void {
    this.q.tries.run({ id, tries, message, now });
  }

  markStaged(id: number, size: number, mtime: number, now: number): void {
    this.q.staged.run({ id, size, mtime, now });
  }

  markFailed(id: number, message: string, now: number): void {
    this.q.failed.run({ id, message, now });
  }

  /**
   * Settle the cart once no file is pending: `ready` if all staged, else `error` with the
   * first failure's message. Only a cart still `staging` changes, so this runs at most once
   * per staging round whoever calls it. Returns the status it set, or undefined.
   */
  finishIfSettled(cartId: number, now: number): CartStatus | undefined {
    // Asked after every file: an index lookup, not a write transaction, while files are pending.
    if (this.db.stmt(`SELECT 1 FROM files WHERE cart_id = ? AND status = 'pending' LIMIT 1`).get(cartId) !== undefined) return undefined;
    return writeTx(this.db, () => {
      const cart = this.getLive(cartId);
      if (!cart || cart.status !== 'staging') return undefined;
      const counts = this.db.stmt(`SELECT COALESCE(SUM(status = 'pending'), 0) AS pending, COALESCE(SUM(status = 'error'), 0) AS failed FROM files WHERE cart_id = ?`)
        .get(cartId) as { pending: number; failed: number };
      if (counts.pending > 0) return undefined;
      if (counts.failed === 0) {
        this.db.orm.update(carts).set({ status: 'ready', message: '', updatedAt: now }).where(eq(carts.id, cartId)).run();
        return 'ready';
      }
      const first = this.db.orm
        .select({ message: files.message })
        .from(files)
        .where(and(eq(files.cartId, cartId), eq(files.status, 'error')))
        .orderBy(asc(files.position))
        .get();
      const more = counts.failed > 1 ? ` (and ${counts.failed - 1} more file${counts.failed > 2 ? 's' : ''} failed)` : '';
      this.db.orm.update(carts).set({ status: 'error', message: `${first?.message ?? 'staging failed'}${more}`, updatedAt: now }).where(eq(carts.id, cartId)).run();
      return 'error';
    });
  }

  /** Fail the whole cart at once (e.g. No Space Available): pending files stop too. */
  fail(cartId: number, message: string, now: number): void {
    writeTx(this.db, () => {
      this.db.orm
        .update(files)
        .set({ status: 'error', message, updatedAt: now })
        .where(and(eq(files.cartId, cartId), eq(files.status, 'pending')))
        .run();
      this.db.orm
        .update(carts)
        .set({ status: 'error', message, updatedAt: now })
        .where(and(eq(carts.id, cartId), eq(carts.status, 'staging')))
        .run();
    });
  }

  /** Mark deleted; the uid is free again at once. Returns false if it was not live. */
  markDeleted(cartId: number, now: number): boolean {
    const r = this.db.orm
      .update(carts)
      .set({ deletedAt: now, updatedAt: now })
      .where(and(eq(carts.id, cartId), isNull(carts.deletedAt)))
      .run();
    return r.changes > 0;
  }

  /** Live carts still staging: picked up again when a runner starts. */
  unfinished(): Cart[] {
    return this.db.orm
      .select()
      .from(carts)
      .where(and(eq(carts.status, 'staging'), isNull(carts.deletedAt)))
      .orderBy(asc(carts.id))
      .all()
      .map(toCart);
  }

  /** Send a cart's unstaged files (errored ones included) back to staging. */
  restage(cartId: number, now: number): void {
    writeTx(this.db, () => {
      this.db.orm
        .update(files)
        .set({ status: 'pending', message: '', tries: 0, recallAt: null, updatedAt: now })
        .where(and(eq(files.cartId, cartId), sql`${files.status} != 'staged'`))
        .run();
      this.db.orm
        .update(carts)
        .set({ status: 'staging', message: '', generation: sql`${carts.generation} + 1`, updatedAt: now })
        .where(eq(carts.id, cartId))
        .run();
    });
  }

  /** Count an open download (+1) or its end (-1); a cart being read is never evicted. */
  addReader(cartId: number, delta: number): void {
    this.db.orm
      .update(carts)
      .set({ readers: sql`MAX(0, ${carts.readers} + ${delta})` })
      .where(eq(carts.id, cartId))
      .run();
  }

  /** Distinct blob keys of a cart's files. */
  blobKeysOf(cartId: number): string[] {
    const rows = this.db.stmt(`SELECT DISTINCT hashtype || '-' || hashsum AS key FROM files WHERE cart_id = ?`).all(cartId) as { key: string }[];
    return rows.map((r) => r.key);
  }

  /** No download survives a restart of the API server. */
  resetReaders(): void {
    this.db.orm.update(carts).set({ readers: 0 }).where(sql`${carts.readers} != 0`).run();
  }

  /** Every live cart, oldest first (for `cartd-cmd dump`). */
  allLive(): Cart[] {
    return this.db.orm.select().from(carts).where(isNull(carts.deletedAt)).orderBy(asc(carts.id)).all().map(toCart);
  }

  /**
   * Live carts neither changed nor used (status or download) since `before` (ms), oldest
   * first, with their open downloads (for `cartd-cmd purge`).
   */
  idleSince(before: number): { cart: Cart; readers: number }[] {
    return this.db.orm
      .select()
      .from(carts)
      .where(and(isNull(carts.deletedAt), sql`MAX(${carts.updatedAt}, ${carts.lastUsedAt}) < ${before}`))
      .orderBy(asc(carts.id))
      .all()
      .map((r) => ({ cart: toCart(r), readers: r.readers }));
  }

  /**
   * Count a download that is about to stream, in one statement with the liveness check, so
   * an eviction either happened before (the cart is gone: false) or sees the reader and
   * keeps the cart.
   */
  pinReady(cartId: number): boolean {
    const r = this.db.orm
      .update(carts)
      .set({ readers: sql`${carts.readers} + 1` })
      .where(and(eq(carts.id, cartId), isNull(carts.deletedAt), eq(carts.status, 'ready')))
      .run();
    return r.changes > 0;
  }

  /** Ids of live carts with no open download, unused (status, download, or change) since `before` (ms). */
  expiryCandidates(before: number, limit = 1000): number[] {
    return this.db.orm
      .select({ id: carts.id })
      .from(carts)
      .where(and(isNull(carts.deletedAt), eq(carts.readers, 0), sql`MAX(${carts.updatedAt}, ${carts.lastUsedAt}) < ${before}`))
      .orderBy(asc(carts.lastUsedAt))
      .limit(limit)
      .all()
      .map((r) => r.id);
  }

  /** Mark deleted only if still live, unread and unused since `before`, in one statement (a download starting now wins). */
  markExpired(cartId: number, before: number, now: number): boolean {
    const r = this.db.orm
      .update(carts)
      .set({ deletedAt: now, updatedAt: now })
      .where(and(eq(carts.id, cartId), isNull(carts.deletedAt), eq(carts.readers, 0), sql`MAX(${carts.updatedAt}, ${carts.lastUsedAt}) < ${before}`))
      .run();
    return r.changes > 0;
  }

  /**
   * The bytes of `key` are gone from the volume: files of live staging or ready carts that
   * had them staged go back to pending and those carts back to staging. Returns the carts.
   */
  unstageBlob(key: string, now: number): number[] {
    const sep = key.indexOf('-');
    const [hashtype, hashsum] = [key.slice(0, sep), key.slice(sep + 1)];
    return writeTx(this.db, () => {
      const ids = (
        this.db.stmt(
            `SELECT DISTINCT f.cart_id AS id FROM files f JOIN carts c ON c.id = f.cart_id
             WHERE f.hashtype = ? AND f.hashsum = ? AND f.status = 'staged' AND c.deleted_at IS NULL AND c.status IN ('staging', 'ready')`,
          )
          .all(hashtype, hashsum) as { id: number }[]
      ).map((r) => r.id);
      if (ids.length === 0) return [];
      this.db.orm
        .update(files)
        .set({ status: 'pending', message: '', tries: 0, updatedAt: now })
        .where(and(eq(files.hashtype, hashtype), eq(files.hashsum, hashsum), eq(files.status, 'staged'), inArray(files.cartId, ids)))
        .run();
      for (const id of ids) this.restage(id, now);
      return ids;
    });
  }
}
