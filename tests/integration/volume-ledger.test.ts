/**
 * The volume's ledger on a real SQLite file: which carts an eviction picks, and that
 * reservations with eviction stay within capacity when several processes race for the last
 * bytes (each in its own write transaction).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { BlobsRepo } from '../../src/db/blobs-repo';
import type { Db } from '../../src/db/open';
import { freeable, planSpace, type PlanRequest } from '../../src/db/space-plan';
import { tempDatabases } from '../support/temp-databases';

const MiB = 1024 * 1024;
const root = path.resolve(__dirname, '..', '..');
const databases = tempDatabases('cartd-ledger-');
afterAll(() => databases.cleanup());
const freshDb = (): Db => databases.fresh();

interface CartSpec {
  readonly status?: 'staging' | 'ready' | 'error';
  readonly lastUsedAt: number;
  readonly updatedAt?: number;
  readonly readers?: number;
  /** Blob keys (md5-<hex>) with sizes (null: the archive has not answered yet), staged (with a present blob) unless said pending. */
  readonly files: readonly (readonly [string, number | null, 'pending'?])[];
}

const key = (n: number): string => `md5-${n.toString(16).padStart(32, '0')}`;

/** Insert a live cart, its files, and a present blob for each staged file. */
function addCart(db: Db, uid: string, spec: CartSpec): number {
  const status = spec.status ?? 'ready';
  const { lastInsertRowid } = db.sqlite
    .prepare(
      `INSERT INTO carts (uid, status, request_digest, file_count, created_at, updated_at, last_used_at, readers) VALUES (?, ?, 'd', ?, 0, ?, ?, ?)`,
    )
    .run(uid, status, spec.files.length, spec.updatedAt ?? 0, spec.lastUsedAt, spec.readers ?? 0);
  const id = Number(lastInsertRowid);
  spec.files.forEach(([k, size, pending], i) => {
    const [hashtype, hashsum] = k.split('-') as [string, string];
    const staged = size !== null && pending === undefined;
    db.sqlite
      .prepare(`INSERT INTO files (cart_id, position, archive_id, path, hashtype, hashsum, size, status, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)`)
      .run(id, i, `${uid}-${i}`, `f${i}`, hashtype, hashsum, size, staged ? 'staged' : 'pending');
    if (staged) db.sqlite.prepare(`INSERT OR IGNORE INTO blobs (key, size, state, created_at) VALUES (?, ?, 'present', 0)`).run(k, size);
  });
  return id;
}

/** Drop the triggers that move the garbage epoch (migration 0003), so garbage can be made unannounced. */
function dropGarbageTriggers(db: Db): void {
  const names = db.sqlite.prepare(`SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%garbage%'`).all() as { name: string }[];
  expect(names.length).toBe(6);
  for (const { name } of names) db.sqlite.exec(`DROP TRIGGER ${name}`);
}

const request = (over: Partial<PlanRequest>): PlanRequest => ({ key: key(999), size: 3 * MiB, cartId: 0, capacity: 10 * MiB, now: 1_000_000, evict: true, bufferMs: 0, ...over });
const victimsOf = (db: Db, req: PlanRequest): string[] => {
  const plan = planSpace(db, req);
  return plan.fits ? plan.victims.map((v) => v.uid) : [`no room: ${plan.why}`];
};

describe('which ready carts an eviction picks', () => {
  test('least recently used first, and only as many as the room needs', () => {
    const db = freshDb();
    addCart(db, 'B', { lastUsedAt: 20, files: [[key(2), 3 * MiB]] });
    addCart(db, 'A', { lastUsedAt: 10, files: [[key(1), 3 * MiB]] });
    addCart(db, 'C', { lastUsedAt: 30, files: [[key(3), 3 * MiB]] });
    expect(victimsOf(db, request({ size: MiB }))).toEqual([]); // 9 + 1 fits in 10
    expect(victimsOf(db, request({ size: 3 * MiB }))).toEqual(['A']);
    expect(victimsOf(db, request({ size: 5 * MiB }))).toEqual(['A', 'B']);
    expect(victimsOf(db, request({ size: 10 * MiB }))).toEqual(['A', 'B', 'C']);
  });

  test('bytes shared with a cart that stays free nothing: such a cart is spared', () => {
    const db = freshDb();
    addCart(db, 'A', { lastUsedAt: 10, files: [[key(1), 3 * MiB]] });
    addCart(db, 'B', { lastUsedAt: 20, files: [[key(2), 3 * MiB]] });
    addCart(db, 'C', { lastUsedAt: 30, files: [[key(1), 3 * MiB]] }); // same bytes as A
    const plan = planSpace(db, request({ capacity: 6 * MiB }));
    expect(plan.fits && plan.victims.map((v) => v.uid)).toEqual(['B']);
    expect(plan.fits && plan.drop).toEqual([key(2)]);
    // Needing both: A and C go together, since only then do their shared bytes leave.
    expect(victimsOf(db, request({ capacity: 6 * MiB, size: 6 * MiB }))).toEqual(['A', 'B', 'C']);
  });

  test('never a cart being read, staging, used within the buffer, or the requesting cart itself', () => {
    const db = freshDb();
    addCart(db, 'read', { lastUsedAt: 1, readers: 1, files: [[key(1), 2 * MiB]] });
    addCart(db, 'staging', { status: 'staging', lastUsedAt: 2, files: [[key(2), 2 * MiB]] });
    addCart(db, 'recent', { lastUsedAt: 999_500, files: [[key(3), 2 * MiB]] });
    addCart(db, 'just-ready', { lastUsedAt: 3, updatedAt: 999_800, files: [[key(4), 2 * MiB]] });
    const self = addCart(db, 'self', { status: 'staging', lastUsedAt: 0, files: [[key(5), 2 * MiB], [key(999), 2 * MiB, 'pending']] });
    addCart(db, 'old', { lastUsedAt: 50, files: [[key(6), MiB]] });
    // 11 MiB stored; 2 more need 1 freed, and only `old` may go.
    const req = request({ cartId: self, size: 2 * MiB, capacity: 12 * MiB, bufferMs: 1000 });
    expect(victimsOf(db, req)).toEqual(['old']);
    // With the old one not enough, what is in use now only makes it a later matter.
    expect(victimsOf(db, { ...req, size: 3 * MiB })).toEqual(['no room: later']);
    expect(victimsOf(db, { ...req, evict: false })).toEqual(['no room: no-evict']);
  });

  test("bytes only failed carts name are dropped before anyone's cart is evicted", () => {
    const db = freshDb();
    addCart(db, 'A', { lastUsedAt: 10, files: [[key(1), 3 * MiB]] });
    addCart(db, 'failed', { status: 'error', lastUsedAt: 99, files: [[key(2), 3 * MiB]] });
    const plan = planSpace(db, request({ capacity: 6 * MiB }));
    expect(plan).toEqual({ fits: true, victims: [], drop: [key(2)], freed: 3 * MiB });
  });

  test('bytes that become unneeded after a search found none are still dropped first: a cart failing, deleted in another process, a file nobody needs', () => {
    const db = freshDb();
    const other = databases.open(db.sqlite.name); // another process's connection to the same file
    addCart(db, 'A', { lastUsedAt: 10, files: [[key(1), 3 * MiB]] });
    addCart(db, 'B', { lastUsedAt: 20, files: [[key(2), 3 * MiB]] });
    addCart(db, 'C', { lastUsedAt: 30, files: [[key(3), 2 * MiB]] });
    const req = request({ capacity: 8 * MiB });
    expect(victimsOf(db, req)).toEqual(['A']); // no garbage: the search found none
    db.sqlite.prepare(`UPDATE carts SET status = 'error' WHERE uid = 'B'`).run();
    expect(planSpace(db, req)).toEqual({ fits: true, victims: [], drop: [key(2)], freed: 3 * MiB });
    db.sqlite.prepare(`DELETE FROM blobs WHERE key = ?`).run(key(2)); // as the plan's caller drops it
    expect(victimsOf(db, request({ capacity: 6 * MiB }))).toEqual(['A']);
    other.sqlite.prepare(`UPDATE carts SET deleted_at = 5 WHERE uid = 'C'`).run();
    expect(planSpace(db, request({ capacity: 7 * MiB }))).toEqual({ fits: true, victims: [], drop: [key(3)], freed: 2 * MiB });
    db.sqlite.prepare(`DELETE FROM blobs WHERE key = ?`).run(key(3));
    // A file made present for a cart deleted while it was being pulled.
    other.sqlite.prepare(`INSERT INTO blobs (key, size, state, created_at) VALUES (?, ?, 'reserved', 0)`).run(key(4), 4 * MiB);
    expect(victimsOf(db, request({ capacity: 8 * MiB }))).toEqual(['A']);
    other.sqlite.prepare(`UPDATE blobs SET state = 'present' WHERE key = ?`).run(key(4));
    expect(planSpace(db, request({ capacity: 8 * MiB }))).toEqual({ fits: true, victims: [], drop: [key(4)], freed: 4 * MiB });
  });

  test('the search for unneeded bytes is not repeated while nothing could have made any', () => {
    const db = freshDb();
    addCart(db, 'A', { lastUsedAt: 10, files: [[key(1), 3 * MiB]] });
    addCart(db, 'B', { lastUsedAt: 20, files: [[key(2), 3 * MiB]] });
    const req = request({ capacity: 6 * MiB });
    expect(victimsOf(db, req)).toEqual(['A']);
    // Garbage made behind the triggers' back (they are what tells a search is due) goes unseen...
    dropGarbageTriggers(db);
    db.sqlite.prepare(`UPDATE carts SET status = 'error' WHERE uid = 'B'`).run();
    expect(victimsOf(db, req)).toEqual(['A']);
    // ...until the epoch moves.
    db.sqlite.exec(`UPDATE volume_totals SET garbage_epoch = garbage_epoch + 1`);
    expect(planSpace(db, req)).toEqual({ fits: true, victims: [], drop: [key(2)], freed: 3 * MiB });
  });

  test('an eviction leaves no unneeded bytes behind: the reservation after it does not search for them again', () => {
    const db = freshDb();
    const blobs = new BlobsRepo(db);
    addCart(db, 'A', { lastUsedAt: 10, files: [[key(1), 3 * MiB]] });
    addCart(db, 'B', { lastUsedAt: 20, files: [[key(2), 3 * MiB]] });
    addCart(db, 'C', { lastUsedAt: 30, files: [[key(3), 3 * MiB]] });
    const reserve = (k: string): ReturnType<BlobsRepo['tryReserve']> =>
      blobs.tryReserve({ ...request({ key: k, capacity: 9 * MiB }), owner: 'me', leaseMs: 60_000, isStale: () => false });
    const first = reserve(key(100));
    expect(first.outcome === 'reserved' && first.evicted.map((v) => v.uid)).toEqual(['A']);
    blobs.finishDrop(key(1)); // as the volume does once A's file is removed
    // With the triggers gone, garbage made now goes unseen: proof that no search runs.
    dropGarbageTriggers(db);
    db.sqlite.prepare(`UPDATE carts SET status = 'error' WHERE uid = 'C'`).run();
    const second = reserve(key(101));
    expect(second.outcome === 'reserved' && second.evicted.map((v) => v.uid)).toEqual(['B']);
  });

  test('carts sharing bytes in every way: the fewest least recently used carts that make room, as one cart at a time would pick them', () => {
    // A reference that asks the database what each set of carts frees, one set at a time:
    // the shortest LRU prefix that makes room, then, newest first, every cart the rest can do without.
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let round = 0; round < 40; round++) {
      const db = freshDb();
      const sizeOf = (k: number): number => (1 + (k % 4)) * MiB;
      const ready: string[] = [];
      for (let c = 0; c < 14; c++) {
        const keys = [...new Set(Array.from({ length: 1 + random(3) }, () => 1 + random(12)))];
        const staging = random(5) === 0;
        addCart(db, `c${c}`, { status: staging ? 'staging' : 'ready', lastUsedAt: 10 + random(1000) * 16 + c, files: keys.map((k) => [key(k), sizeOf(k)] as const) });
        if (!staging) ready.push(`c${c}`);
      }
      const stored = new BlobsRepo(db).totalBytes();
      const req = request({ size: (1 + random(Math.min(10, stored / MiB))) * MiB, capacity: stored });
      const lru = db.sqlite.prepare(`SELECT id, uid FROM carts WHERE status = 'ready' ORDER BY last_used_at, id`).all() as { id: number; uid: string }[];
      const frees = (ids: readonly number[]): number => freeable(db, ids).reduce((n, b) => n + b.size, 0);
      const fits = (ids: readonly number[]): boolean => stored - frees(ids) + req.size <= req.capacity;
      let length = 1;
      while (length <= lru.length && !fits(lru.slice(0, length).map((c) => c.id))) length++;
      let expected: string[] | 'later' = 'later';
      if (length <= lru.length) {
        let victims = lru.slice(0, length);
        for (const v of [...victims].reverse()) {
          const without = victims.filter((x) => x !== v);
          if (fits(without.map((x) => x.id))) victims = without;
        }
        expected = victims.map((v) => v.uid);
      }
      const plan = planSpace(db, req);
      expect({ round, victims: plan.fits ? plan.victims.map((v) => v.uid) : plan.why }).toEqual({ round, victims: expected });
      if (plan.fits) expect(plan.freed).toBe(frees(plan.victims.map((v) => v.id)));
    }
  });

  test('among more ready carts than one read of candidates holds, still the least recently used, counting uses not yet written', () => {
    const db = freshDb();
    const n = 700; // more than the first read (256) and than two doublings of what is needed
    const ids = Array.from({ length: n }, (_, i) => addCart(db, `c${i}`, { lastUsedAt: 1000 + i, files: [[key(i + 1), MiB]] }));
    // c3 was polled after every other cart, and this process has not written that use yet.
    const moved = ids[3] as number;
    db.uses = { record: () => undefined, unwrittenAt: (id) => (id === moved ? 5000 : undefined) };
    const order = ids.map((_, i) => `c${i}`).filter((uid) => uid !== 'c3');
    // As many as the first read holds: c3's unwritten use puts it after carts that read left out.
    expect(victimsOf(db, request({ size: 256 * MiB, capacity: n * MiB }))).toEqual(order.slice(0, 256));
    // Room for 300 more files: the 300 least recently used go, c3 not among them.
    expect(victimsOf(db, request({ size: 300 * MiB, capacity: n * MiB }))).toEqual(order.slice(0, 300));
    // All but one: c3, used last, is the one that stays.
    expect(victimsOf(db, request({ size: (n - 1) * MiB, capacity: n * MiB }))).toEqual(order);
    // More than every evictable cart frees: a later matter, not a wrong pick.
    db.sqlite.prepare('UPDATE carts SET readers = 1 WHERE id = ?').run(ids[0]);
    expect(victimsOf(db, request({ size: n * MiB, capacity: n * MiB }))).toEqual(['no room: later']);
  });

  test('a cart larger than the volume has no room, ever, and evicts nobody; unknown sizes are learned first', () => {
    const db = freshDb();
    addCart(db, 'A', { lastUsedAt: 10, files: [[key(1), 5 * MiB]] });
    const big = addCart(db, 'big', { status: 'staging', lastUsedAt: 0, files: [[key(7), 6 * MiB, 'pending'], [key(8), 6 * MiB, 'pending']] });
    expect(victimsOf(db, request({ cartId: big, key: key(7), size: 6 * MiB }))).toEqual(['no room: never']);
    const unsure = addCart(db, 'unsure', { status: 'staging', lastUsedAt: 0, files: [[key(9), 8 * MiB, 'pending'], [key(10), null]] });
    expect(victimsOf(db, request({ cartId: unsure, key: key(9), size: 8 * MiB }))).toEqual(['no room: sizes']);
  });
});

const CHILD = `
const { openDb } = require(${JSON.stringify(path.join(root, 'dist/src/db/open.js'))});
const { BlobsRepo } = require(${JSON.stringify(path.join(root, 'dist/src/db/blobs-repo.js'))});
const [file, who, first, count, cap] = process.argv.slice(1);
const db = openDb(file);
const blobs = new BlobsRepo(db);
const out = { reserved: 0, noRoom: 0, evicted: [], maxLive: 0 };
for (let i = 0; i < Number(count); i++) {
  const k = 'md5-' + (Number(first) + i).toString(16).padStart(32, '0');
  const r = blobs.tryReserve({ key: k, size: ${MiB}, cartId: 0, capacity: Number(cap), now: Date.now(), evict: true, bufferMs: 0,
    owner: who, leaseMs: 60000, isStale: () => false });
  if (r.outcome === 'reserved') {
    out.reserved++;
    out.evicted.push(...r.evicted.map((v) => v.uid));
    for (const d of r.dropping) blobs.finishDrop(d);
  } else out.noRoom++;
  const live = db.sqlite.prepare("SELECT COALESCE(SUM(size), 0) AS n FROM blobs WHERE state != 'dropping'").get().n;
  out.maxLive = Math.max(out.maxLive, live);
}
process.stdout.write(JSON.stringify(out));
`;

describe('several processes racing for the last bytes', () => {
  test('each reservation and eviction is one write transaction: never over capacity, no cart evicted twice', async () => {
    const db = freshDb();
    for (let i = 0; i < 20; i++) addCart(db, `r${i}`, { lastUsedAt: 100 + i, files: [[key(i + 1), MiB]] });
    const run = promisify(execFile);
    const results = await Promise.all(
      [0, 1, 2, 3].map(async (n) => {
        const { stdout } = await run(process.execPath, ['-e', CHILD, db.path, `proc-${n}`, String(1000 + n * 100), '6', String(20 * MiB)]);
        return JSON.parse(stdout) as { reserved: number; noRoom: number; evicted: string[]; maxLive: number };
      }),
    );
    const evicted = results.flatMap((r) => r.evicted);
    expect(results.reduce((n, r) => n + r.reserved, 0)).toBe(20);
    expect(results.reduce((n, r) => n + r.noRoom, 0)).toBe(4);
    expect(evicted).toHaveLength(20);
    expect(new Set(evicted).size).toBe(20);
    for (const r of results) {
      expect(r.maxLive).toBeLessThanOrEqual(20 * MiB);
      // Each process saw its victims in least-recently-used order.
      expect(r.evicted.map((u) => Number(u.slice(1)))).toEqual([...r.evicted.map((u) => Number(u.slice(1)))].sort((a, b) => a - b));
    }
    const live = db.sqlite.prepare(`SELECT COUNT(*) AS n FROM carts WHERE deleted_at IS NULL`).get() as { n: number };
    expect(live.n).toBe(0);
    expect(new BlobsRepo(db).totalBytes()).toBe(20 * MiB);
  });
});
