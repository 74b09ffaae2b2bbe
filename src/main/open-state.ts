import type { Config } from '../config/config';
import { BlobsRepo } from '../db/blobs-repo';
import { CartsRepo } from '../db/carts-repo';
import { isCurrent, migrateToLatest, schemaState } from '../db/migrations';
import { openDb, type Db } from '../db/open';

export class OutdatedSchemaError extends Error {
  constructor(applied: number, expected: number) {
    super(`database schema is not current (${applied} of ${expected} migrations applied); run \`cartd-cmd dbsync\` first`);
    this.name = 'OutdatedSchemaError';
  }
}

export interface State {
  readonly db: Db;
  readonly carts: CartsRepo;
  readonly blobs: BlobsRepo;
}

/**
 * Open the database. A brand-new one is created; an existing one must already be current
 * (migrating a shared database is an operator's decision: `cartd-cmd dbsync`).
 */
export function openState(config: Config, opts: { migrate?: 'if-empty' | 'always' | 'never' } = {}): State {
  const db = openDb(config.database.path);
  try {
    const state = schemaState(db);
    const mode = opts.migrate ?? 'if-empty';
    if (mode === 'always' || (mode === 'if-empty' && state.empty && state.applied === 0)) migrateToLatest(db);
    else if (!isCurrent(state)) throw new OutdatedSchemaError(state.applied, state.expected.length);
  } catch (err) {
    db.close();
    throw err;
  }
  return { db, carts: new CartsRepo(db), blobs: new BlobsRepo(db) };
}
