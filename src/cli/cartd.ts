import { Command, InvalidArgumentError } from 'commander';
import type { Logger } from 'pino';
import { ConfigError, loadConfig, type Config } from '../config/config';
import { createLogger } from '../main/logger';
import { OutdatedSchemaError } from '../main/open-state';
import type { RunnerOptions } from '../main/runner';
import { startServer } from '../main/server';
import { startWorker } from '../main/worker';

function port(value: string): string {
  if (!/^\d+$/.test(value) || Number(value) > 65535) throw new InvalidArgumentError('expected a port number, 0 to 65535');
  return value;
}

function count(value: string): string {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('expected a whole number, 1 or more');
  return value;
}

function seconds(value: string): number {
  if (!/^\d+(\.\d+)?$/.test(value)) throw new InvalidArgumentError('expected seconds, e.g. 30 or 0.5');
  return Math.round(Number(value) * 1000);
}

interface StagingOptions {
  config?: string;
  concurrency?: string;
  stallTimeout?: number;
  drainTimeout?: number;
}

interface ServeOptions extends StagingOptions {
  port?: string;
  address?: string;
  worker: boolean;
}

function configFrom(opts: StagingOptions, overrides: Record<string, string | undefined>): Config {
  return loadConfig({
    file: opts.config ?? process.env.CARTD_CONFIG,
    env: process.env,
    overrides: { 'cartd.concurrency': opts.concurrency, ...overrides },
  });
}

const runnerOptions = (opts: StagingOptions): RunnerOptions => ({ lockMs: opts.stallTimeout, drainMs: opts.drainTimeout });

/** A subcommand's options, plus those given before its name (`cartd -c FILE worker`). */
function withGlobals<T>(cmd: Command): T {
  const out: Record<string, unknown> = { ...cmd.opts() };
  const parent = cmd.parent;
  if (parent) {
    for (const [key, value] of Object.entries(parent.opts())) {
      if (parent.getOptionValueSource(key) === 'cli' && cmd.getOptionValueSource(key) !== 'cli') out[key] = value;
    }
  }
  return out as T;
}

/**
 * SIGTERM/SIGINT: drain and exit 0; a second signal exits at once. Installed before start-up
 * begins (a signal that arrives while starting waits for the start, then stops), so a
 * supervisor that signals right after "cartd serving" never meets Node's default handler.
 */
function exitOnSignals(log: Logger, started: Promise<{ stop(): Promise<void> }>): void {
  const stop = (): Promise<void> => started.then((running) => running.stop());
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'stopping: no new work; running transfers finish or go back to the queue');
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

async function serve(opts: ServeOptions): Promise<void> {
  const config = configFrom(opts, { 'server.port': opts.port, 'server.address': opts.address });
  if (!opts.worker && config.redis.url === '') {
    throw new ConfigError('--no-worker needs Redis ([redis] url or REDIS_URL): without it staging runs inside the server');
  }
  const log = createLogger(config.logging.level);
  const started = startServer(config, log, { runner: { ...runnerOptions(opts), worker: opts.worker } });
  exitOnSignals(log, started);
  await started;
}

async function worker(opts: StagingOptions): Promise<void> {
  const config = configFrom(opts, {});
  const log = createLogger(config.logging.level);
  const started = startWorker(config, log, runnerOptions(opts));
  exitOnSignals(log, started);
  await started;
}

function stagingOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'INI configuration file (default: $CARTD_CONFIG, else built-in defaults)')
    .option('--concurrency <n>', 'files staged at once by this process (default: [cartd] concurrency)', count)
    .option('--stall-timeout <seconds>', 'BullMQ job lock; a dead worker\'s jobs are taken over within about twice this (default 30)', seconds)
    .option('--drain-timeout <seconds>', 'on SIGTERM, how long running transfers may finish before they go back to the queue (default 10)', seconds);
}

function serveOptions(cmd: Command): Command {
  return stagingOptions(cmd)
    .option('-p, --port <port>', 'port to listen on (default 8081)', port)
    .option('-a, --address <address>', 'address to listen on (default 127.0.0.1)')
    .option('--no-worker', 'with Redis: serve the API only and leave staging to `cartd worker` processes');
}

export function program(): Command {
  const cmd = serveOptions(
    new Command('cartd')
      .description('Stage files from the archive onto a local volume and serve them as tarballs (Pacifica Cartd protocol).')
      .enablePositionalOptions(),
  )
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  cartd                                  serve on 127.0.0.1:8081 with ./var for state',
        '  cartd -c /etc/cartd/server.ini -a 0.0.0.0 -p 8081',
        '  REDIS_URL=redis://queue:6379 cartd serve --no-worker     API only; staging by workers',
        '  REDIS_URL=redis://queue:6379 cartd worker --concurrency 16',
      ].join('\n'),
    )
    .action((opts: ServeOptions) => serve(opts));
  cmd.addCommand(
    serveOptions(new Command('serve').description('serve the cart API (and stage in this process unless --no-worker); the same as plain `cartd`')).action(
      (_opts: ServeOptions, sub: Command) => serve(withGlobals<ServeOptions>(sub)),
    ),
  );
  cmd.addCommand(
    stagingOptions(new Command('worker').description('stage files from the BullMQ queues in Redis (needs [redis] url / REDIS_URL); no HTTP')).action(
      (_opts: StagingOptions, sub: Command) => worker(withGlobals<StagingOptions>(sub)),
    ),
  );
  return cmd;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await program().parseAsync(argv);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof OutdatedSchemaError) {
      process.stderr.write(`cartd: ${err.message}\n`);
      process.exit(err instanceof ConfigError ? 2 : 1);
    }
    process.stderr.write(`cartd: could not start: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
