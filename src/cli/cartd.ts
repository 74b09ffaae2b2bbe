import { Command, InvalidArgumentError } from 'commander';
import { ConfigError, loadConfig } from '../config/config';
import { createLogger } from '../main/logger';
import { OutdatedSchemaError } from '../main/open-state';
import { startServer } from '../main/server';

function port(value: string): string {
  if (!/^\d+$/.test(value) || Number(value) > 65535) throw new InvalidArgumentError('expected a port number, 0 to 65535');
  return value;
}

interface ServeOptions {
  config?: string;
  port?: string;
  address?: string;
}

async function serve(opts: ServeOptions): Promise<void> {
  const config = loadConfig({
    file: opts.config ?? process.env.CARTD_CONFIG,
    env: process.env,
    overrides: { 'server.port': opts.port, 'server.address': opts.address },
  });
  const log = createLogger(config.logging.level);
  const running = await startServer(config, log);
  const shutdown = (signal: string): void => {
    log.info({ signal }, 'stopping: no new requests, running transfers released');
    running.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

export function program(): Command {
  const cmd = new Command('cartd')
    .description('Stage files from the archive onto a local volume and serve them as tarballs (Pacifica Cartd protocol).')
    .option('-c, --config <file>', 'INI configuration file (default: $CARTD_CONFIG, else built-in defaults)')
    .option('-p, --port <port>', 'port to listen on (default 8081)', port)
    .option('-a, --address <address>', 'address to listen on (default 127.0.0.1)')
    .addHelpText('after', '\nExamples:\n  cartd                       serve on 127.0.0.1:8081 with ./var for state\n  cartd -c /etc/cartd/server.ini -a 0.0.0.0 -p 8081')
    .action((opts: ServeOptions) => serve(opts));
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
