import { CommanderError } from 'commander';
import { ConfigError } from '../config/config';
import { AppError } from '../core/errors';
import { OutdatedSchemaError } from '../main/open-state';

/** Exit codes of cartd-cmd, as the reference's: 0 success, 1 the work failed, 2 the command line was wrong. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** A failure to report to the user as one message (what went wrong and what to do next), never a stack. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILED,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Map whatever a command threw to its exit code and the line the user reads (undefined: already printed). */
export function describeFailure(err: unknown): { code: number; message?: string } {
  // Commander printed its own message (and help, for --help); only the code is ours to choose.
  if (err instanceof CommanderError) return { code: err.exitCode === 0 ? EXIT_OK : EXIT_USAGE };
  if (err instanceof CliError) return { code: err.exitCode, message: err.message };
  if (err instanceof ConfigError) return { code: EXIT_USAGE, message: `${err.message}\n(fix the configuration file given with -c/--config or $CARTD_CONFIG)` };
  if (err instanceof OutdatedSchemaError) return { code: EXIT_FAILED, message: err.message };
  if (err instanceof AppError) return { code: err.code === 'bad_request' ? EXIT_USAGE : EXIT_FAILED, message: err.message };
  const text = err instanceof Error ? err.message : String(err);
  if (/database is locked|SQLITE_BUSY/i.test(text)) {
    return { code: EXIT_FAILED, message: `${text}: another process held the database too long; try again` };
  }
  return { code: EXIT_FAILED, message: text };
}
