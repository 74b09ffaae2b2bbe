import { Command } from 'commander';
import { isCurrent, migrateToLatest, schemaState, type SchemaState } from '../../db/migrations';
import { openDb, type Db } from '../../db/open';
import { CliError } from '../exit';
import { addConfigOption, examples, loadCliConfig, type CliContext, type ConfigOptions } from './context';
import { schemaSummary } from './schema-summary';

/**
 * Create or migrate the schema. Harmless when it is already current (nothing is written),
 * and when another dbsync or a starting server migrates at the same moment: if our attempt
 * fails but the schema is current afterwards, the other one did the work.
 */
function sync(db: Db): { before: SchemaState; after: SchemaState } {
  const before = schemaState(db);
  if (isCurrent(before)) return { before, after: before };
  if (before.unknown > 0) {
    throw new CliError(`cannot migrate: ${schemaSummary(before)}; use the cartd-cmd of the cartd that migrated it`);
  }
  try {
    migrateToLatest(db);
  } catch (err) {
    if (!isCurrent(schemaState(db))) throw new CliError(`migration failed: ${(err as Error).message}; the database was left as it was (${schemaSummary(schemaState(db))})`);
  }
  return { before, after: schemaState(db) };
}

export function dbsyncCommand(ctx: CliContext): Command {
  const cmd = new Command('dbsync')
    .description('Create the database schema, or migrate it to the one this cartd expects. Idempotent; safe while servers and workers run.')
    .addHelpText('after', examples(['cartd-cmd dbsync -c /etc/cartd/server.ini', 'cartd-cmd dbchk || cartd-cmd dbsync']))
    .action((opts: ConfigOptions) => {
      const config = loadCliConfig(ctx, opts);
      const db = openDb(config.database.path);
      try {
        const { before, after } = sync(db);
        const applied = after.applied - before.applied;
        const what = applied === 0 ? 'already current, nothing to do' : `applied ${applied} migration${applied === 1 ? '' : 's'}`;
        ctx.stdout.write(`schema ${what}: ${schemaSummary(after)} in ${config.database.path}\n`);
      } finally {
        db.close();
      }
    });
  return addConfigOption(cmd);
}
