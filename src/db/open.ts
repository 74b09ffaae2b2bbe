import Database from 'better-sqlite3';
import { sql, type SQL } from 'drizzle-orm';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import * as schema from './schema';

export type Drizzle = BetterSQLite3Database<typeof schema>;

/** Where uses of carts go when they are not written on the spot (see UseRecorder). */
export interface UseLog {
  record(id: number, at: number): void;
  /** A use recorded but perhaps not yet in the database. */
  unwrittenAt(id: number): number | undefined;
}

/** The database handle every repository takes: drizzle for queries, the raw handle for pragmas. */
export interface Db {
  readonly orm: Drizzle;
  readonly sqlite: Database.Database;
  readonly path: string;
  /** The raw handle's prepared statement for `sql`, compiled once per connection (hot paths run per file). */
  stmt(sql: string): Database.Statement;
  /** Set by the API server: uses of carts are recorded off the event loop. */
  uses: UseLog | undefined;
  close(): void;
}

/**
 * Open (creating the folder if needed) with the settings several processes sharing one file
 * need: WAL so readers never block the writer, a busy timeout so writers wait rather than
 * fail with `database is locked`, and foreign keys on. Set before drizzle sees the handle.
 */
export function openDb(file: string): Db {
  if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
  const sqlite = new Database(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('busy_timeout = 10000');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  const orm = drizzle(sqlite, { schema });
  const statements = new Map<string, Database.Statement>();
  const stmt = (sql: string): Database.Statement => {
    let s = statements.get(sql);
    if (!s) {
      s = sqlite.prepare(sql);
      statements.set(sql, s);
    }
    return s;
  };
  return { orm, sqlite, path: file, stmt, uses: undefined, close: () => sqlite.close() };
}

/** A named placeholder of a prepared drizzle statement, usable where a column value (`.set()`) is expected. */
export const placeholder = (name: string): SQL => sql`${sql.placeholder(name)}`;

/**
 * Run `fn` as a write transaction that takes the write lock up front (BEGIN IMMEDIATE), so
 * two processes never deadlock upgrading read locks. `fn` must be synchronous.
 */
export function writeTx<T>(db: Db, fn: () => T): T {
  return db.sqlite.transaction(fn).immediate();
}
