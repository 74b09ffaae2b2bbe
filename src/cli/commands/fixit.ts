import { Command } from 'commander';
import { checkUid } from '../../carts/request';
import type { Cart } from '../../core/cart';
import { buildCartd } from '../../main/build';
import { CliError, EXIT_USAGE } from '../exit';
import { plural } from '../format';
import { progressView } from '../progress';
import { addConfigOption, addVerboseOption, cliLogger, examples, loadCliConfig, requireDatabase, type CliContext, type ConfigOptions, type VerboseOptions } from './context';
import { openWorkerQueue } from './worker-queue';
import { cartLine, describeRestage, stageInline } from './fixit-inline';

interface FixitOptions extends ConfigOptions, VerboseOptions {
  readonly cartid: string[];
  readonly queue?: boolean;
}

function checkUids(uids: readonly string[]): string[] {
  const unique = [...new Set(uids)];
  for (const uid of unique) {
    try {
      checkUid(uid);
    } catch (err) {
      throw new CliError(`--cartid: ${(err as Error).message}`, EXIT_USAGE);
    }
  }
  return unique;
}

async function fixit(ctx: CliContext, opts: FixitOptions): Promise<void> {
  const uids = checkUids(opts.cartid);
  const config = loadCliConfig(ctx, opts);
  requireDatabase(config);
  // With [redis] url set the server's runner is BullMQ: ours only produces (never works jobs, never resubmits).
  const cartd = await buildCartd(config, cliLogger(ctx, config, opts), { migrate: 'never', runner: { worker: false, resubmit: false } });
  try {
    const repo = cartd.state.carts;
    const found = uids.map((uid) => ({ uid, cart: repo.findLive(uid) }));
    const missing = found.filter((f) => !f.cart).map((f) => f.uid);
    if (missing.length > 0) throw new CliError(`no live cart ${missing.join(', ')}; \`cartd-cmd dump\` lists the carts there are`);
    const queue = opts.queue ? await openWorkerQueue(cartd, '--queue', 'run without --queue to stage here') : undefined;
    const view = progressView(ctx.stdout);
    const todo: Cart[] = [];
    for (const { cart } of found as { uid: string; cart: Cart }[]) {
      const before = cartLine(repo, cart);
      if (cart.status === 'ready') {
        view.note(`cart ${cart.uid}: ready, ${plural(before.files, 'file')} staged; nothing to fix`);
        continue;
      }
      view.note(describeRestage(before));
      repo.restage(cart.id, Date.now());
      todo.push(cart);
    }
    if (queue) {
      try {
        for (const cart of todo) {
          await queue.submitCart(cart.id);
          view.note(`cart ${cart.uid}: handed to the workers; \`cartd-cmd dump\` or HEAD /${cart.uid} shows how it goes`);
        }
      } finally {
        await queue.close();
      }
      return;
    }
    if (todo.length === 0) return;
    const lines = await stageInline(cartd, todo, view, ctx.interrupted);
    view.finish(lines);
    if (ctx.interrupted.aborted) {
      const left = lines.filter((l) => l.status === 'staging').map((l) => l.uid);
      throw new CliError(`interrupted; ${left.length > 0 ? `cart ${left.join(', ')} left staging, ` : ''}run the same fixit again to finish`);
    }
    const failed = lines.filter((l) => l.status !== 'ready');
    if (failed.length > 0) {
      const why = failed.map((l) => `${l.uid} (${l.status === 'gone' ? 'removed meanwhile' : l.message})`).join('; ');
      throw new CliError(`not fixed: ${why}; see \`cartd-cmd dump\` for each file's message, fix the cause, then run fixit again`);
    }
  } finally {
    await cartd.close();
  }
}

export function fixitCommand(ctx: CliContext): Command {
  const cmd = new Command('fixit')
    .description(
      'Re-stage the files of carts that failed or stalled (errored files included; staged files are left alone) and finish the carts. ' +
        'Runs the staging here, against the server\'s database and volume, with progress bars on a terminal and plain lines otherwise.',
    )
    .requiredOption('--cartid <uid...>', 'the carts to fix (one or more uids)')
    .option('--queue', 'hand the carts to the running BullMQ workers instead of staging them here (needs [redis] url)')
    .addHelpText(
      'after',
      examples([
        'cartd-cmd fixit --cartid 38                          fix one cart, staging here',
        'cartd-cmd fixit -c /etc/cartd/server.ini --cartid 38 39 40',
        'cartd-cmd fixit --queue --cartid 38                  let the workers do it',
      ]),
    )
    .action((opts: FixitOptions) => fixit(ctx, opts));
  return addVerboseOption(addConfigOption(cmd));
}
