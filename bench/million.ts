/**
 * A database that already holds many carts (issue 7: "with 1,000,000 carts in the
 * database"): the schema as cartd creates it, then `n` ready carts of one staged file each,
 * inserted directly with prepared statements in one transaction before cartd starts.
 * No blob rows: at start cartd has nothing to reconcile for them, and a status call
 * reads only the cart and its files.
 */
import { migrateToLatest } from '../src/db/migrations';
import { openDb } from '../src/db/open';

export function millionUid(i: number): string {
  return `m-${i.toString(36).padStart(4, '0')}`;
}

export function fillCarts(dbPath: string, n: number): { seconds: number } {
  const t0 = Date.now();
  const db = openDb(dbPath);
  try {
    migrateToLatest(db);
    const now = Date.now();
    const addCart = db.sqlite.prepare(
      `INSERT INTO carts (id, uid, status, message, request_digest, file_count, generation, created_at, updated_at, last_used_at, readers)
       VALUES (?, ?, 'ready', '', ?, 1, 0, ?, ?, ?, 0)`,
    );
    const addFile = db.sqlite.prepare(
      `INSERT INTO files (cart_id, position, archive_id, path, hashtype, hashsum, size, mtime, status, message, tries, updated_at)
       VALUES (?, 0, ?, 'data/file.dat', 'sha1', ?, 1024, ?, 'staged', '', 0, ?)`,
    );
    db.sqlite.transaction(() => {
      for (let i = 1; i <= n; i++) {
        const digest = i.toString(16).padStart(40, '0');
        // Last used a minute ago: the first status call of each cart writes its new time, as in life.
        addCart.run(i, millionUid(i), digest, now - 86_400_000, now - 86_400_000, now - 60_000);
        addFile.run(i, `m${i}`, digest, now / 1000 - 86_400, now - 86_400_000);
      }
    })();
  } finally {
    db.close();
  }
  return { seconds: (Date.now() - t0) / 1000 };
}
