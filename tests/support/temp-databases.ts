import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { migrateToLatest } from '../../src/db/migrations';
import { openDb, type Db } from '../../src/db/open';

/** Real SQLite files with cartd's schema, each in its own temp folder; `cleanup` (afterAll) closes and removes them all. */
export function tempDatabases(prefix: string): { fresh(): Db; open(file: string): Db; cleanup(): void } {
  const dirs: string[] = [];
  const dbs: Db[] = [];
  const open = (file: string): Db => {
    const db = openDb(file);
    dbs.push(db);
    return db;
  };
  return {
    fresh() {
      const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
      dirs.push(dir);
      const db = open(path.join(dir, 'cartd.sqlite3'));
      migrateToLatest(db);
      return db;
    },
    open,
    cleanup() {
      for (const db of dbs.splice(0)) db.close();
      for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    },
  };
}
