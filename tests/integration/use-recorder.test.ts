/**
 * Uses of carts (status calls, downloads) recorded on the use-recorder thread, on a real
 * SQLite file: written within moments and visible to other connections, never lost at
 * close, counted at once by this process's eviction planning, and the WAL checkpointed by
 * the thread rather than by the event loop.
 */
import { statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Worker } from 'node:worker_threads';
import pino from 'pino';
import { CartsRepo } from '../../src/db/carts-repo';
import type { Db } from '../../src/db/open';
import { planSpace } from '../../src/db/space-plan';
import { UseRecorder } from '../../src/db/use-recorder';
import { eventually } from '../support/download-client';
import { tempDatabases } from '../support/temp-databases';

const MiB = 1024 * 1024;
const log = pino({ level: 'silent' });
const databases = tempDatabases('cartd-uses-');
const recorders: UseRecorder[] = [];

afterAll(async () => {
  for (const r of recorders) await r.close();
  databases.cleanup();
});

const freshDb = (): Db => databases.fresh();

function attach(db: Db): UseRecorder {
  const r = UseRecorder.attach(db, log);
  if (!r) throw new Error('no recorder for a file database');
  recorders.push(r);
  return r;
}

/** Another connection to the same file: what another process would read. */
function reader(db: Db): Db {
  return databases.open(db.path);
}

/** A ready cart holding one present blob of `size` bytes, last used at `lastUsedAt`. */
function readyCart(db: Db, uid: string, lastUsedAt: number, blob: number, size = 3 * MiB): number {
  const id = Number(
    db.sqlite
      .prepare(`INSERT INTO carts (uid, status, request_digest, file_count, created_at, updated_at, last_used_at, readers) VALUES (?, 'ready', 'd', 1, 0, 0, ?, 0)`)
      .run(uid, lastUsedAt).lastInsertRowid,
  );
  const hashsum = blob.toString(16).padStart(32, '0');
  db.sqlite
    .prepare(`INSERT INTO files (cart_id, position, archive_id, path, hashtype, hashsum, size, status, updated_at) VALUES (?, 0, ?, 'f', 'md5', ?, ?, 'staged', 0)`)
    .run(id, `${uid}-0`, hashsum, size);
  db.sqlite.prepare(`INSERT INTO blobs (key, size, state, created_at) VALUES (?, ?, 'present', 0)`).run(`md5-${hashsum}`, size);
  return id;
}

const lastUsed = (db: Db, id: number): number => (db.sqlite.prepare('SELECT last_used_at AS t FROM carts WHERE id = ?').get(id) as { t: number }).t;


test('a status call returns before its use is written, and other processes see the use moments later', async () => {
  const db = freshDb();
  const id = readyCart(db, 'a', 1000, 1);
  attach(db);
  const other = reader(db);
  new CartsRepo(db).touch(id, 5_000_000);
  // Nothing written on the caller's turn of the event loop...
  expect(lastUsed(other, id)).toBe(1000);
  // ...and written by the thread soon after.
  expect(await eventually(() => lastUsed(other, id) === 5_000_000, 2000)).toBe(true);
});

test('close writes every use still held', async () => {
  const db = freshDb();
  const ids = Array.from({ length: 50 }, (_, i) => readyCart(db, `c${i}`, 1000, 100 + i));
  const recorder = attach(db);
  const carts = new CartsRepo(db);
  ids.forEach((id, i) => carts.touch(id, 7_000_000 + i));
  await recorder.close();
  const other = reader(db);
  expect(ids.map((id) => lastUsed(other, id))).toEqual(ids.map((_, i) => 7_000_000 + i));
  // Closed: a later use is written on the spot.
  carts.touch(ids[0] as number, 9_000_000);
  expect(lastUsed(other, ids[0] as number)).toBe(9_000_000);
});

test('a recorder thread that dies loses no use: those it held are written on the event loop, later ones on the spot', async () => {
  const db = freshDb();
  const ids = Array.from({ length: 20 }, (_, i) => readyCart(db, `d${i}`, 1000, 200 + i));
  const recorder = attach(db);
  const carts = new CartsRepo(db);
  ids.forEach((id, i) => carts.touch(id, 8_000_000 + i));
  // What a crash or an out-of-memory abort of the thread looks like from the event loop: it ends.
  await (recorder as unknown as { thread: Worker }).thread.terminate();
  const other = reader(db);
  expect(await eventually(() => ids.every((id, i) => lastUsed(other, id) === 8_000_000 + i), 2000)).toBe(true);
  carts.touch(ids[0] as number, 9_500_000);
  expect(lastUsed(other, ids[0] as number)).toBe(9_500_000);
  // Eviction planning still works, now from what is written.
  expect(recorder.unwrittenAt(ids[0] as number)).toBeUndefined();
});

test('eviction planning counts a use this process recorded but has not written yet', () => {
  const db = freshDb();
  const a = readyCart(db, 'A', 10, 1);
  readyCart(db, 'B', 20, 2);
  attach(db);
  const req = { key: 'md5-new', size: 3 * MiB, cartId: 0, capacity: 6 * MiB, now: 1_000_000, evict: true, bufferMs: 0 };
  const victims = (): string[] => {
    const plan = planSpace(db, req);
    return plan.fits ? plan.victims.map((v) => v.uid) : [];
  };
  expect(victims()).toEqual(['A']);
  // A is polled now: its use is not in the database yet, but B is now the least recently used.
  new CartsRepo(db).touch(a, 900_000);
  expect(lastUsed(db, a)).toBe(10);
  expect(victims()).toEqual(['B']);
  // A use within lru_buffer_time spares the cart altogether.
  expect(planSpace(db, { ...req, size: 6 * MiB, bufferMs: 200_000 })).toMatchObject({ fits: false, why: 'later' });
});

test('the thread checkpoints the WAL: the event loop leaves that disk work to it', async () => {
  const db = freshDb();
  const ids = Array.from({ length: 20 }, (_, i) => readyCart(db, `w${i}`, 0, 1000 + i));
  attach(db);
  // The event loop's connection never checkpoints...
  expect(db.sqlite.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
  const mtime = (): bigint => statSync(db.path, { bigint: true }).mtimeNs;
  await sleep(1500); // the thread's first checkpoints copy the carts above into the file
  const before = mtime();
  const bump = db.sqlite.prepare('UPDATE carts SET updated_at = updated_at + 1 WHERE id = ?');
  for (const id of ids) bump.run(id);
  // ...so the commits above reach the database file only when the thread copies them there.
  expect(await eventually(() => mtime() !== before, 3000)).toBe(true);
});
