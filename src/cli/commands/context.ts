import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import type { Logger } from 'pino';
import { loadConfig, type Config } from '../../config/config';
import { createLogger } from '../../main/logger';
import { CliError } from '../exit';

/** What a command may touch of the process: handed in by the entry point, the only reader of the environment. */
export interface CliContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
  /** Set when the user interrupts (Ctrl-C); long commands stop cleanly. */
  readonly interrupted: AbortSignal;
  /** When the user ran the command (ms): relative times on the command line count from here. */
  readonly startedAt: number;
}

/**
 * Whether the reader of `out` went away (`| head`, quitting `less`): its writes failed and
 * the entry point dropped the rest of the output. A command that only prints stops here.
 */
export function outputClosed(out: NodeJS.WriteStream): boolean {
  return out.destroyed || out.errored !== null;
}

export interface ConfigOptions {
  readonly config?: string;
}

export interface VerboseOptions {
  readonly verbose?: boolean;
}

/** Every command reads the server's configuration the same way the server does. */
export function addConfigOption(cmd: Command): Command {
  return cmd.option('-c, --config <file>', 'INI configuration file, as given to the server (default: $CARTD_CONFIG, else built-in defaults; environment variables override it)');
}

export function addVerboseOption(cmd: Command): Command {
  return cmd.option('-v, --verbose', 'also write the structured JSON log ([logging] level) to stderr');
}

export function loadCliConfig(ctx: CliContext, opts: ConfigOptions): Config {
  return loadConfig({ file: opts.config ?? ctx.env.CARTD_CONFIG, env: ctx.env });
}

/** Silent unless asked: the user reads the command's own lines, not the service log. */
export function cliLogger(ctx: CliContext, config: Config, opts: VerboseOptions): Logger {
  return opts.verbose ? createLogger(config.logging.level, ctx.stderr) : createLogger('silent');
}

/** Commands other than dbsync work on an existing database; opening one would create it. */
export function requireDatabase(config: Config): string {
  const file = config.database.path;
  if (file !== ':memory:' && !existsSync(file)) {
    throw new CliError(`no database at ${file}; run \`cartd-cmd dbsync\` to create it, or give the server's configuration with -c/--config`);
  }
  return file;
}

export function examples(lines: readonly string[]): string {
  return `\nExamples:\n${lines.map((l) => (l === '' ? '' : `  ${l}`)).join('\n')}`;
}
