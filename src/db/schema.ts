import { sql } from 'drizzle-orm';
import { index, integer, real, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

/** Carts, live and deleted. A uid names at most one live cart (deletedAt null). */
export const carts = sqliteTable(
  'carts',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    uid: text('uid').notNull(),
    status: text('status', { enum: ['staging', 'ready', 'error'] }).notNull(),
    message: text('message').notNull().default(''),
    requestDigest: text('request_digest').notNull(),
    fileCount: integer('file_count').notNull(),
    generation: integer('generation').notNull().default(0),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    lastUsedAt: integer('last_used_at').notNull(),
    /** Running counts of the cart's files, kept by triggers on `files`, so a status call reads one row. */
    filesStaged: integer('files_staged').notNull().default(0),
    /** SUM(size) of the files whose size the archive has told. */
    bytesTotal: integer('bytes_total').notNull().default(0),
    bytesStaged: integer('bytes_staged').notNull().default(0),
    /** Open downloads; a cart with any is never evicted. Reset at start. */
    readers: integer('readers').notNull().default(0),
    deletedAt: integer('deleted_at'),
  },
  (t) => [
    uniqueIndex('carts_live_uid').on(t.uid).where(sql`${t.deletedAt} IS NULL`),
    index('carts_status').on(t.status),
    // No index on lastUsedAt: every status call and download writes it, and an index entry
    // moved per write doubled the pages each commit dirties (and checkpoints copy back),
    // which stalled status calls with a million carts. The LRU order is sorted when an
    // eviction is planned, and only its first rows are read (space-plan.ts: SQLite keeps
    // the top rows of the sort, 0.3 s over a million ready carts).
  ],
);

/** The files of a cart, in the order the client listed them. */
export const files = sqliteTable(
  'files',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    cartId: integer('cart_id')
      .notNull()
      .references(() => carts.id, { onDelete: 'cascade' }),
    position: integer('position').notNull(),
    archiveId: text('archive_id').notNull(),
    path: text('path').notNull(),
    hashtype: text('hashtype').notNull(),
    hashsum: text('hashsum').notNull(),
    size: integer('size'),
    mtime: real('mtime'),
    status: text('status', { enum: ['pending', 'staged', 'error'] }).notNull().default('pending'),
    message: text('message').notNull().default(''),
    tries: integer('tries').notNull().default(0),
    recallAt: integer('recall_at'),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    uniqueIndex('files_cart_position').on(t.cartId, t.position),
    index('files_blob').on(t.hashtype, t.hashsum),
    index('files_cart_status').on(t.cartId, t.status),
  ],
);

/**
 * Bytes on the volume, stored once per (hashtype, hashsum). A row is written *before*
 * the bytes (state `reserved`), so SUM(size) is always an upper bound of what the
 * volume holds or is about to hold.
 */
export const blobs = sqliteTable(
  'blobs',
  {
    key: text('key').primaryKey(),
    size: integer('size').notNull(),
    /** `dropping`: the file is being removed; the row goes only after the bytes (no new enum value in SQL: text column). */
    state: text('state', { enum: ['reserved', 'present', 'dropping'] }).notNull(),
    mtime: real('mtime'),
    createdAt: integer('created_at').notNull(),
    /** Who holds a reservation (worker id) and until when it is valid; stale ones are reclaimed. */
    owner: text('owner'),
    leaseUntil: integer('lease_until'),
  },
  (t) => [index('blobs_state').on(t.state)],
);

/**
 * Running sums of the blobs ledger (one row, id 1), kept by triggers on `blobs` (see the
 * migration `0001_running_totals`): reserving room asks "how much is claimed?" for every file,
 * and a SUM over the whole ledger would make staging a cart of n files O(n^2).
 */
export const volumeTotals = sqliteTable('volume_totals', {
  id: integer('id').primaryKey(),
  /** SUM(size) of every row: present, reserved and being removed. */
  allBytes: integer('all_bytes').notNull(),
  /** SUM(size) of rows whose file is complete on disk (state != 'reserved'). */
  presentBytes: integer('present_bytes').notNull(),
  /**
   * Bumped by triggers (migration `0003_garbage_epoch`) whenever a stored file may have
   * become one no live cart needs: a cart leaving `staging`/`ready`, a file row removed, a
   * file made present that nobody needs. Until it moves, a search for such files that found
   * none need not be repeated (space-plan.ts): on a volume of a million files it costs seconds.
   */
  garbageEpoch: integer('garbage_epoch').notNull().default(0),
});
