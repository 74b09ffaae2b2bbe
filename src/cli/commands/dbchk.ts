import { Command } from 'commander';
import { isCurrent, schemaState } from '../../db/migrations';
import { openDb } from '../../db/open';
import { CliError } from '../exit';
import { addConfigOption, examples, loadCliConfig, requireDatabase, type CliContext, type ConfigOptions } from './context';
import { schemaSummary } from './schema-summary';

interface DbchkOptions extends ConfigOptions {
  readonly equal?: boolean;
}

/**
 * Exit 0 when every migration this cartd knows is applied; `--equal` also refuses a database
 * a newer cartd has migrated further (the reference's "version equal" check).
 */
export function dbchkCommand(ctx: CliContext): Command {
  const cmd = new Command('dbchk')
    .description('Check that the database schema is current (exit 0) or needs `cartd-cmd dbsync` (exit 1). Never creates or changes the database.')
    .option('--equal', 'require exactly the schema this cartd has: a database migrated by a newer cartd fails too')
    .addHelpText('after', examples(['cartd-cmd dbchk -c /etc/cartd/server.ini; echo $?', 'cartd-cmd dbchk --equal || cartd-cmd dbsync']))
    .action((opts: DbchkOptions) => {
      const config = loadCliConfig(ctx, opts);
      const file = requireDatabase(config);
      const db = openDb(file);
      let state;
      try {
        state = schemaState(db);
      } finally {
        db.close();
      }
      const summary = schemaSummary(state);
      const allKnownApplied = state.applied === state.expected.length;
      if (allKnownApplied && (state.unknown === 0 || !opts.equal)) {
        ctx.stdout.write(`schema current: ${summary} in ${file}\n`);
        return;
      }
      if (allKnownApplied && !isCurrent(state)) {
        throw new CliError(`schema newer than this cartd: ${summary} in ${file}; use the cartd-cmd of the cartd that migrated it`);
      }
      throw new CliError(`schema not current: ${summary} in ${file}; run \`cartd-cmd dbsync\` to bring it up to date`);
    });
  return addConfigOption(cmd);
}
