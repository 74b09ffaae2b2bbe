import { Command, Option } from 'commander';
import { finishRemoval } from '../../carts/remove-cart';
import { buildCartd } from '../../main/build';
import { isoTime, plural } from '../format';
import { parseTimeAgo, type TimeAgo } from '../time-ago';
import { openWorkerQueue } from './worker-queue';
import { addConfigOption, addVerboseOption, cliLogger, examples, loadCliConfig, requireDatabase, type CliContext, type ConfigOptions, type VerboseOptions } from './context';

const DEFAULT_TIME_AGO = '180 days ago';

interface PurgeOptions extends ConfigOptions, VerboseOptions {
  readonly timeAgo?: TimeAgo;
  readonly dryRun?: boolean;
}

/**
 * Remove carts nobody changed or used since the cutoff, each the way DELETE does (mark
 * deleted, then finishRemoval: cancel its work, drop the bytes no live cart needs). A cart
 * with a download in progress is left alone: it is in use, whatever its timestamps say.
 */
async function purge(ctx: CliContext, opts: PurgeOptions): Promise<void> {
  const when = opts.timeAgo ?? parseTimeAgo(DEFAULT_TIME_AGO, ctx.startedAt);
  const config = loadCliConfig(ctx, opts);
  requireDatabase(config);
  // With [redis] url set, DELETE's cancelCart removes the cart's jobs from the workers' queue; we never work jobs.
  const cartd = await buildCartd(config, cliLogger(ctx, config, opts), { migrate: 'never', runner: { worker: false, resubmit: false } });
  try {
    // Under BullMQ, removing cancels the cart's jobs in Redis: make sure it answers first.
    if (!opts.dryRun && cartd.config.redis.url !== '') await (await openWorkerQueue(cartd, 'removing carts cancels their BullMQ jobs', 'unset [redis] url if no workers run')).close();
    const idle = cartd.state.carts.idleSince(when.cutoff);
    let removed = 0;
    for (const { cart, readers } of idle) {
      const what = `cart ${cart.uid} (${cart.status}, ${plural(cart.fileCount, 'file')}, last changed or used ${isoTime(Math.max(cart.updatedAt, cart.lastUsedAt))})`;
      if (readers > 0) {
        ctx.stdout.write(`skipped ${what}: ${plural(readers, 'download')} in progress\n`);
        continue;
      }
      if (opts.dryRun) {
        ctx.stdout.write(`would remove ${what}\n`);
        continue;
      }
      // DELETE's path, with its first step made conditional in one statement: a cart that was
      // opened for download, used or removed since we listed it stays as it is.
      if (!cartd.state.carts.markExpired(cart.id, when.cutoff, Date.now())) {
        if (cartd.state.carts.getLive(cart.id)) ctx.stdout.write(`skipped ${what}: used or changed meanwhile\n`);
        continue;
      }
      await finishRemoval({ carts: cartd.state.carts, volume: cartd.volume, runner: cartd.runner, log: cartd.log }, cart, 'deleted');
      removed++;
      ctx.stdout.write(`removed ${what}\n`);
    }
    const since = `not changed or used since ${isoTime(when.cutoff)} (${when.text})`;
    ctx.stderr.write(
      opts.dryRun
        ? `purge: dry run, nothing removed: ${plural(idle.length, 'cart')} ${since}; run again without --dry-run to remove them\n`
        : `purge: removed ${plural(removed, 'cart')} ${since}\n`,
    );
  } finally {
    await cartd.close();
  }
}

export function purgeCommand(ctx: CliContext): Command {
  const cmd = new Command('purge')
    .description('Remove the carts not changed or used since a time in the past, exactly as DELETE would, printing each cart removed.')
    .addOption(
      new Option('--time-ago <when>', `how old a cart must be: "N unit ago", unit seconds, minutes, hours, days or weeks (default: "${DEFAULT_TIME_AGO}")`).argParser((v) =>
        parseTimeAgo(v, ctx.startedAt),
      ),
    )
    .option('--dry-run', 'only list the carts that would be removed')
    .addHelpText(
      'after',
      examples([
        'cartd-cmd purge                                   carts idle for 180 days',
        'cartd-cmd purge --time-ago="60 days ago"',
        'cartd-cmd purge --time-ago "12 hours ago" --dry-run',
      ]),
    )
    .action((opts: PurgeOptions) => purge(ctx, opts));
  return addVerboseOption(addConfigOption(cmd));
}
