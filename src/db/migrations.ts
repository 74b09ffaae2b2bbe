import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Db } from './open';

/** The migrations folder ships beside package.json; find it from wherever this file was compiled to. */
export function migrationsFolder(): string {
  let dir = __dirname;
  for (;;) {
    const candidate = path.join(dir, 'migrations', 'meta', '_journal.json');
    if (existsSync(candidate)) return path.join(dir, 'migrations');
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('migrations folder not found');
    dir = parent;
  }
}

interface Journal {
  entries: { idx: number; when: number; tag: string }[];
}

export interface SchemaState {
  /** Migrations this program knows, oldest first. */
  readonly expected: readonly string[];
  /** How many of them the database has applied (by their timestamps). */
  readonly applied: number;
  /** Applied migrations this program does not know (a newer cartd wrote the database). */
  readonly unknown: number;
  /** The database has no cartd tables at all. */
  readonly empty: boolean;
}

export function schemaState(db: Db): SchemaState {
  const journal = JSON.parse(readFileSync(path.join(migrationsFolder(), 'meta', '_journal.json'), 'utf8')) as Journal;
  const expected = journal.entries.map((e) => e.tag);
  const knownWhen = new Set(journal.entries.map((e) => e.when));
  const hasTable = (name: string): boolean =>
    db.sqlite.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(name) !== undefined;
  const empty = !hasTable('carts');
  if (!hasTable('__drizzle_migrations')) return { expected, applied: 0, unknown: 0, empty };
  const rows = db.sqlite.prepare('SELECT created_at AS whenApplied FROM __drizzle_migrations').all() as { whenApplied: number }[];
  const applied = rows.filter((r) => knownWhen.has(Number(r.whenApplied))).length;
  return { expected, applied, unknown: rows.length - applied, empty };
}

export function isCurrent(state: SchemaState): boolean {
  return state.applied === state.expected.length && state.unknown === 0;
}

/** Create or bring the schema up to date; safe to run again and while servers run. */
export function migrateToLatest(db: Db): void {
  migrate(db.orm, { migrationsFolder: migrationsFolder() });
}
