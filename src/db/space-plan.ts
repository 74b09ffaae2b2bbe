import type { Db } from './open';

/**
 * How to make room for one reservation: which blobs no cart needs (garbage) and which
 * ready carts, least recently used first, to evict. Read-only: the caller applies the plan
 * inside the same write transaction that computed it (or uses it as a cheap probe).
 */
export type SpacePlan =
  | { readonly fits: true; readonly victims: readonly EvictionVictim[]; readonly drop: readonly string[]; readonly freed: number }
  /**
   * `never`: the cart alone is larger than the volume; `no-evict`: eviction is off; `later`:
   * what is in use now is in the way; `sizes`: carts would have to be evicted, but the sizes
   * of some of this cart's files are not known yet, so whether it can fit at all is not known.
   */
  | { readonly fits: false; readonly why: NoRoomReason; readonly available: number };

export type NoRoomReason = 'never' | 'no-evict' | 'later' | 'sizes';

export interface EvictionVictim {
  readonly id: number;
  readonly uid: string;
  readonly lastUsedAt: number;
}

export interface PlanRequest {
  readonly key: string;
  readonly size: number;
  readonly cartId: number;
  /** The most the ledger may add up to. */
  readonly capacity: number;
  readonly now: number;
  readonly evict: boolean;
  /** A ready cart used (or made ready) less than this long ago is never evicted. */
  readonly bufferMs: number;
}

interface KeySize {
  readonly key: string;
  readonly size: number;
}

// A blob key is `hashtype-hashsum` (digest names hold no '-'); split it so files_blob is used.
const typeOf = (col: string): string => `substr(${col}, 1, instr(${col}, '-') - 1)`;
const sumOf = (col: string): string => `substr(${col}, instr(${col}, '-') + 1)`;

/** A blob is needed while a live cart that is staging or ready names it (failed carts never serve their files). */
export const NEEDED = (keyCol: string, excludeJson?: string): string => `EXISTS (
  SELECT 1 FROM files nf JOIN carts nc ON nc.id = nf.cart_id
  WHERE nf.hashtype = ${typeOf(keyCol)} AND nf.hashsum = ${sumOf(keyCol)}
    AND nc.deleted_at IS NULL AND nc.status IN ('staging', 'ready')
    ${excludeJson ? `AND nc.id NOT IN (SELECT value FROM json_each(${excludeJson}))` : ''})`;

const sum = (rows: readonly KeySize[]): number => rows.reduce((n, r) => n + r.size, 0);

/** Bytes the ledger holds for everything but `key` (present, reserved and being dropped), from the running totals. */
function othersBytes(db: Db, key: string): number {
  const r = db
    .stmt(`SELECT t.all_bytes - COALESCE((SELECT size FROM blobs WHERE key = ?), 0) AS n FROM volume_totals t WHERE t.id = 1`)
    .get(key) as { n: number } | undefined;
  return r?.n ?? 0;
}

/** What the cart needs on the volume at once, as far as the archive has told us sizes. */
function cartBytes(db: Db, cartId: number): number {
  const r = db.stmt(`SELECT COALESCE(SUM(s), 0) AS n FROM (SELECT MAX(size) AS s FROM files WHERE cart_id = ? AND size IS NOT NULL GROUP BY hashtype, hashsum)`)
    .get(cartId) as { n: number };
  return r.n;
}

function unknownSizes(db: Db, cartId: number): boolean {
  return db.stmt(`SELECT 1 FROM files WHERE cart_id = ? AND size IS NULL AND status = 'pending' LIMIT 1`).get(cartId) !== undefined;
}

/** Per database connection: the garbage epoch at which a search found no garbage. */
const noGarbageAt = new WeakMap<Db, number>();

/**
 * Present blobs that no staging or ready cart needs (left by failed or removed carts), but
 * `key`. The search reads every present blob (seconds on a volume of a million files), so
 * it is skipped while the garbage epoch (volume_totals, moved by triggers whenever garbage
 * may have appeared, in this process or another) has not moved since one found none.
 */
function garbage(db: Db, key: string): KeySize[] {
  const epoch = garbageEpoch(db);
  if (noGarbageAt.get(db) === epoch) return [];
  const all = db.stmt(`SELECT b.key, b.size FROM blobs b WHERE b.state = 'present' AND NOT ${NEEDED('b.key')}`).all() as KeySize[];
  if (all.length === 0) noGarbageAt.set(db, epoch);
  return all.filter((b) => b.key !== key);
}

function garbageEpoch(db: Db): number {
  return (db.stmt(`SELECT garbage_epoch AS e FROM volume_totals WHERE id = 1`).get() as { e: number } | undefined)?.e ?? 0;
}

/**
 * Call in the write transaction that applied a fitting `plan` (carts evicted, `drop` marked
 * dropping): when it dropped or evicted anything, it took every unneeded file there was and
 * every one its evictions made, so none is left, whatever the triggers counted meanwhile.
 * (Without this, each eviction's own count would send the next reservation searching.)
 */
export function planApplied(db: Db, plan: SpacePlan): void {
  if (plan.fits && (plan.victims.length > 0 || plan.drop.length > 0)) noGarbageAt.set(db, garbageEpoch(db));
}

/** Candidates read at first; each further read takes this many times more (see candidates). */
const FIRST_PAGE = 256;
const PAGE_GROWTH = 16;

/**
 * Up to `limit` ready carts that may be evicted, least recently used first, counting the uses
 * this process recorded that may not be written yet (UseRecorder): a cart polled a moment ago
 * is not taken for one unused since. `complete` says no other candidate exists. SQLite sorts
 * only the top `limit` (no index on last use: see schema.ts), far cheaper than every row.
 */
function candidates(db: Db, now: number, bufferMs: number, limit: number): { rows: EvictionVictim[]; complete: boolean } {
  const cutoff = now - bufferMs;
  const rows = db.stmt(
      `SELECT id, uid, last_used_at AS lastUsedAt FROM carts
       WHERE deleted_at IS NULL AND status = 'ready' AND readers = 0 AND MAX(last_used_at, updated_at) <= ?
       ORDER BY last_used_at, id LIMIT ?`,
    )
    .all(cutoff, limit) as EvictionVictim[];
  const complete = rows.length < limit;
  const uses = db.uses;
  if (!uses) return { rows, complete };
  // Carts not read may have been used before a use not yet written: a cart moved to or past
  // the last row read (a tie is ordered by id, unknown here) is left for a longer read.
  const last = rows.at(-1)?.lastUsedAt ?? cutoff;
  const until = complete ? cutoff : Math.min(cutoff, last - 1);
  let moved = false;
  const seen = rows.flatMap((r) => {
    const at = uses.unwrittenAt(r.id);
    if (at === undefined || at <= r.lastUsedAt) return [r];
    moved = true;
    return at <= until ? [{ ...r, lastUsedAt: at }] : [];
  });
  return { rows: moved ? seen.sort((a, b) => a.lastUsedAt - b.lastUsedAt || a.id - b.id) : rows, complete };
}

interface NamedBlob extends KeySize {
  /** One of the victims that names it (a blob named by several comes once for each). */
  readonly cartId: number;
}

/**
 * Present blobs that evicting `victimIds` would free: named by one of them and needed by no
 * other live cart, with the victim naming each. Read from the victims' own files
 * (files_cart_status, then the blob's key), so the cost follows the victims, not the size of
 * the volume's ledger.
 */
function freedByVictim(db: Db, victimIds: readonly number[]): NamedBlob[] {
  if (victimIds.length === 0) return [];
  const ids = JSON.stringify(victimIds);
  return db.stmt(
      `SELECT DISTINCT b.key, b.size, f.cart_id AS cartId FROM json_each(?) v
       JOIN files f ON f.cart_id = v.value
       JOIN blobs b ON b.key = f.hashtype || '-' || f.hashsum
       WHERE b.state = 'present' AND NOT ${NEEDED('b.key', '?')}`,
    )
    .all(ids, ids) as NamedBlob[];
}

/** Present blobs that evicting `victimIds` would free, each once (see freedByVictim). */
export function freeable(db: Db, victimIds: readonly number[]): KeySize[] {
  const byKey = new Map<string, KeySize>();
  for (const { key, size } of freedByVictim(db, victimIds)) byKey.set(key, { key, size });
  return [...byKey.values()];
}

/** Would evicting the carts `ids` free enough for the request (`fitsAfter` the bytes they free)? */
function evictingFrees(db: Db, ids: readonly number[], fitsAfter: (freed: number) => boolean): boolean {
  return fitsAfter(sum(freeable(db, ids)));
}

/**
 * The candidates in LRU order and the length of a prefix of them whose eviction frees enough
 * (its half does not), or undefined when evicting every candidate would not. Evicting more
 * carts never frees less, so the prefix doubles until it is enough (the caller bisects the
 * rest), and candidates are read in growing pages: the work follows the carts evicted, not
 * the carts that could be (a million ready carts to free room for one file).
 */
function enoughPrefix(db: Db, req: PlanRequest, fitsAfter: (freed: number) => boolean): { all: EvictionVictim[]; length: number } | undefined {
  let length = 1;
  for (let limit = FIRST_PAGE; ; limit *= PAGE_GROWTH) {
    const page = candidates(db, req.now, req.bufferMs, limit);
    const ids = page.rows.map((c) => c.id);
    const enough = (k: number): boolean => evictingFrees(db, ids.slice(0, k), fitsAfter);
    while (length < ids.length && !enough(length)) length *= 2;
    if (length < ids.length) return { all: page.rows, length };
    if (ids.length > 0 && enough(ids.length)) return { all: page.rows, length: ids.length };
    if (page.complete) return undefined;
    length = ids.length;
  }
}

export function planSpace(db: Db, req: PlanRequest): SpacePlan {
  const others = othersBytes(db, req.key);
  if (others + req.size <= req.capacity) return { fits: true, victims: [], drop: [], freed: 0 };
  const available = Math.max(0, req.capacity - others);
  // A cart that could not fit on an empty volume fails now and costs nobody their cart.
  if (Math.max(cartBytes(db, req.cartId), req.size) > req.capacity) return { fits: false, why: 'never', available };
  if (!req.evict) return { fits: false, why: 'no-evict', available };
  const junk = garbage(db, req.key);
  const junkBytes = sum(junk);
  const fitsAfter = (freed: number): boolean => others - junkBytes - freed + req.size <= req.capacity;
  if (fitsAfter(0)) return { fits: true, victims: [], drop: junk.map((b) => b.key), freed: junkBytes };
  // Never evict anyone's cart for a cart that may turn out too large for the volume.
  if (unknownSizes(db, req.cartId)) return { fits: false, why: 'sizes', available: available + junkBytes };
  const found = enoughPrefix(db, req, fitsAfter);
  if (!found) return { fits: false, why: 'later', available: available + junkBytes };
  const { all } = found;
  const ids = all.map((c) => c.id);
  let hi = found.length;
  let lo = Math.max(1, (hi >> 1) + 1);
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (evictingFrees(db, ids.slice(0, mid), fitsAfter)) hi = mid;
    else lo = mid + 1;
  }
  const { victims, freed, freedBytes } = spareNeedless(db, all.slice(0, lo), fitsAfter);
  return { fits: true, victims, drop: [...junk.map((b) => b.key), ...freed.keys()], freed: junkBytes + freedBytes };
}

/**
 * Spare the carts of `prefix` (newest first) whose eviction the room does not need: their
 * bytes are shared with carts that stay, or the others free enough without them. Sparing a
 * cart keeps every byte it names, so what the rest frees is what the whole prefix frees less
 * those bytes: one read of the prefix's freeable bytes and who names them, then no query per
 * cart (a thousand carts evicted for one large file took seconds of queries).
 */
function spareNeedless(
  db: Db,
  prefix: readonly EvictionVictim[],
  fitsAfter: (freed: number) => boolean,
): { victims: EvictionVictim[]; freed: Map<string, number>; freedBytes: number } {
  const freed = new Map<string, number>();
  const keysOf = new Map<number, string[]>();
  for (const r of freedByVictim(db, prefix.map((v) => v.id))) {
    freed.set(r.key, r.size);
    const keys = keysOf.get(r.cartId);
    if (keys) keys.push(r.key);
    else keysOf.set(r.cartId, [r.key]);
  }
  let freedBytes = [...freed.values()].reduce((n, size) => n + size, 0);
  const spared = new Set<number>();
  for (const v of [...prefix].reverse()) {
    const kept = new Set((keysOf.get(v.id) ?? []).filter((k) => freed.has(k)));
    const keptBytes = [...kept].reduce((n, k) => n + (freed.get(k) ?? 0), 0);
    if (!fitsAfter(freedBytes - keptBytes)) continue;
    spared.add(v.id);
    for (const k of kept) freed.delete(k);
    freedBytes -= keptBytes;
  }
  return { victims: prefix.filter((v) => !spared.has(v.id)), freed, freedBytes };
}
