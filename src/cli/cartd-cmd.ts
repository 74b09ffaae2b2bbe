import { Command } from 'commander';
import { dbchkCommand } from './commands/dbchk';
import { dbsyncCommand } from './commands/dbsync';
import { dumpCommand } from './commands/dump';
import { fixitCommand } from './commands/fixit';
import { purgeCommand } from './commands/purge';
import { examples, type CliContext } from './commands/context';
import { describeFailure, EXIT_FAILED, EXIT_OK } from './exit';

/** `cartd-cmd`: the reference's admin commands (pacifica-cartd-cmd), same names, arguments and exit codes. */
export function program(ctx: CliContext): Command {
  const root = new Command('cartd-cmd')
    .description('Admin commands for cartd: check and migrate the database, fix, purge and list carts. Safe to run while servers and workers run.')
    .addHelpText(
      'after',
      examples([
        'cartd-cmd dbchk || cartd-cmd dbsync                  bring the schema up to date',
        'cartd-cmd fixit --cartid 38                          re-stage a failed cart',
        'cartd-cmd purge --time-ago="60 days ago" --dry-run   list idle carts',
        'cartd-cmd dump --json                                every live cart and file',
        '',
        'Every command takes -c/--config FILE (default $CARTD_CONFIG). Exit codes: 0 done, 1 failed, 2 wrong usage.',
      ]),
    );
  for (const make of [dbchkCommand, dbsyncCommand, fixitCommand, purgeCommand, dumpCommand]) root.addCommand(make(ctx));
  // Usage errors become exceptions (exit 2 in main) and say where help is; commander prints the error itself.
  for (const cmd of [root, ...root.commands]) {
    cmd
      .exitOverride()
      .showHelpAfterError(`(run \`${cmd === root ? 'cartd-cmd' : `cartd-cmd ${cmd.name()}`} --help\` for usage)`)
      .configureOutput({ writeOut: (s) => ctx.stdout.write(s), writeErr: (s) => ctx.stderr.write(s) });
  }
  return root;
}

/** Wait until what was written to `stream` has been handed to the OS, so exit() loses nothing. */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write('', () => resolve()));
}

/**
 * Watch a standard stream for write errors (without a listener Node throws them as an
 * uncaught exception, with a stack). EPIPE means the reader went away (`cartd-cmd dump |
 * head`, quitting `less`): as for any Unix tool that is no failure. Node has destroyed the
 * stream, so later writes are dropped silently; the command's work goes on (a purge or
 * fixit still finishes what it started, dump stops: see outputClosed) and its exit code
 * stands. Any other error is returned by `failure()` to be reported once the command ends.
 */
function watchWrites(stream: NodeJS.WriteStream): { failure(): Error | undefined } {
  let failed: Error | undefined;
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') failed ??= err;
  });
  return { failure: () => failed };
}

/** `startedAt`: when the process began (the launcher takes it before loading this module). */
export async function main(argv: string[], startedAt: number = Date.now()): Promise<void> {
  const interrupt = new AbortController();
  process.once('SIGINT', () => interrupt.abort());
  process.once('SIGTERM', () => interrupt.abort());
  const outWrites = watchWrites(process.stdout);
  const errWrites = watchWrites(process.stderr);
  const ctx: CliContext = { env: process.env, stdout: process.stdout, stderr: process.stderr, interrupted: interrupt.signal, startedAt };
  const name = argv[2] !== undefined && !argv[2].startsWith('-') ? `cartd-cmd ${argv[2]}` : 'cartd-cmd';
  let code = EXIT_OK;
  try {
    await program(ctx).parseAsync(argv);
  } catch (e) {
    const failure = describeFailure(e);
    code = failure.code;
    if (failure.message !== undefined) ctx.stderr.write(`${name}: ${failure.message}\n`);
  }
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  // Output that could not be written (a full disk, say) is a failure, even if the work was done.
  const lost = outWrites.failure() ?? errWrites.failure();
  if (lost !== undefined && code === EXIT_OK) {
    code = EXIT_FAILED;
    if (errWrites.failure() === undefined) {
      process.stderr.write(`${name}: could not write the output: ${lost.message}\n`);
      await flushed(process.stderr);
    }
  }
  process.exit(code);
}
