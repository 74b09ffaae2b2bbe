import { Command } from 'commander';
import { stringify } from 'yaml';
import type { Cart, CartFile } from '../../core/cart';
import type { CartsRepo } from '../../db/carts-repo';
import { openState } from '../../main/open-state';
import { isoTime } from '../format';
import { addConfigOption, examples, loadCliConfig, outputClosed, requireDatabase, type CliContext, type ConfigOptions } from './context';

interface DumpOptions extends ConfigOptions {
  readonly json?: boolean;
}

function fileEntry(f: CartFile): Record<string, unknown> {
  return { id: f.archiveId, path: f.path, hashtype: f.hashtype, hashsum: f.hashsum, size: f.size, status: f.status, message: f.message };
}

function cartEntry(cart: Cart, files: readonly CartFile[]): Record<string, unknown> {
  return {
    uid: cart.uid,
    status: cart.status,
    message: cart.message,
    created: isoTime(cart.createdAt),
    updated: isoTime(cart.updatedAt),
    last_used: isoTime(cart.lastUsedAt),
    files_staged: files.filter((f) => f.status === 'staged').length,
    file_count: cart.fileCount,
    files: files.map(fileEntry),
  };
}

/**
 * Written one cart at a time so a large database never sits in memory whole. The YAML is
 * a mapping `carts:` whose items follow at the same indentation (valid block YAML).
 */
function dump(ctx: CliContext, opts: DumpOptions): void {
  const config = loadCliConfig(ctx, opts);
  requireDatabase(config);
  const state = openState(config, { migrate: 'never' });
  try {
    // One read transaction: a consistent picture while servers keep writing (WAL readers never block them).
    state.db.sqlite.transaction(() => write(ctx, state.carts, opts.json === true))();
  } finally {
    state.db.close();
  }
}

function write(ctx: CliContext, repo: CartsRepo, json: boolean): void {
  const carts = repo.allLive();
  if (json) ctx.stdout.write('{"carts": [');
  else ctx.stdout.write(carts.length === 0 ? 'carts: []\n' : 'carts:\n');
  for (const [i, cart] of carts.entries()) {
    // `dump | head`: the reader has all it wants; reading the rest of the database is wasted work.
    if (outputClosed(ctx.stdout)) return;
    const entry = cartEntry(cart, repo.files(cart.id));
    if (json) ctx.stdout.write(`${i === 0 ? '\n' : ',\n'}${JSON.stringify(entry)}`);
    else ctx.stdout.write(stringify([entry]));
  }
  if (json) ctx.stdout.write(carts.length === 0 ? ']}\n' : '\n]}\n');
}

export function dumpCommand(ctx: CliContext): Command {
  const cmd = new Command('dump')
    .description('Print every live cart with its files and their statuses, as YAML (default) or JSON.')
    .option('--json', 'JSON instead of YAML')
    .addHelpText('after', examples(['cartd-cmd dump | less', 'cartd-cmd dump --json | jq \'.carts[] | select(.status == "error") | .uid\'']))
    .action((opts: DumpOptions) => dump(ctx, opts));
  return addConfigOption(cmd);
}
