/**
 * A server or worker never checkpoints the write-ahead log inline after a commit (an fsync
 * on the event loop, seconds long when the disk is busy with staged bytes): a thread of its
 * own copies the log into the database file.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { migrateToLatest } from '../../src/db/migrations';
import { openDb, type Db } from '../../src/db/open';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'cartd-checkpoints-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const sizeOf = (file: string): number => statSync(file).size;

/** 4 MiB of rows in one commit: far over SQLite's 1,000-page automatic checkpoint. */
function writeMuch(db: Db): void {
  const insert = db.sqlite.prepare(`INSERT INTO carts (uid, status, request_digest, file_count, created_at, updated_at, last_used_at) VALUES (?, 'ready', ?, 0, 0, 0, 0)`);
  db.sqlite.transaction(() => {
    for (let i = 0; i < 4096; i++) insert.run(`cart-${i}`, 'x'.repeat(1000));
  })();
}

async function until(check: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) if (check()) return true;
  return check();
}

test('with background checkpoints the commit leaves the log alone, and the thread copies it into the database file', async () => {
  const file = path.join(dir, 'cartd.sqlite3');
  const db = openDb(file, { backgroundCheckpoints: true });
  try {
    migrateToLatest(db);
    expect(db.sqlite.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    const before = sizeOf(file);
    writeMuch(db);
    // Right after the commit the rows are only in the log: nothing was checkpointed inline.
    expect(sizeOf(file)).toBe(before);
    expect(sizeOf(`${file}-wal`)).toBeGreaterThan(4 * 1024 * 1024);
    // Within a few ticks of the thread they are in the database file.
    expect(await until(() => sizeOf(file) > before + 4 * 1024 * 1024, 10_000)).toBe(true);
    expect(db.sqlite.prepare('SELECT COUNT(*) AS n FROM carts').get()).toEqual({ n: 4096 });
  } finally {
    db.close();
  }
});

test('without them (admin commands) SQLite checkpoints inline as usual', () => {
  const file = path.join(dir, 'cartd.sqlite3');
  const db = openDb(file);
  try {
    migrateToLatest(db);
    expect(db.sqlite.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    const before = sizeOf(file);
    writeMuch(db);
    expect(sizeOf(file)).toBeGreaterThan(before + 4 * 1024 * 1024);
  } finally {
    db.close();
  }
});
