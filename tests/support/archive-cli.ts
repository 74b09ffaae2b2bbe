/**
 * The test archive interface as a program, for the README walk-through and the benchmark:
 *
 *   npm run archive -- --port 8080 --dir ./var/archive [--host 127.0.0.1] [--tape-delay 2000] [--media tape]
 *
 * Files PUT to it (or already in --dir) are served back; `--media tape` puts them on
 * tape (a PUT may also say `X-Pacifica-File-Storage-Media: tape`), and a recall (POST)
 * brings them to disk after --tape-delay milliseconds. Stops on SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { startArchiveServer, type ArchiveServer } from './archive-server';

const USAGE =
  'usage: archive-cli [--port 8080] [--dir DIR] [--host 127.0.0.1] [--tape-delay MS] [--media disk|tape] [--throttle BYTES_PER_SEC]';

export interface CliIo {
  /** Where the start line goes; console.log by default. */
  readonly log?: (line: string) => void;
}

/** Start the server from command line arguments (without `node` and the script). */
export async function main(argv: readonly string[], io: CliIo = {}): Promise<ArchiveServer> {
  const { values } = parseCli(argv);
  if (values.help === true) throw new UsageError(USAGE, 0);
  const port = integer('--port', values.port ?? '8080');
  const tapeDelayMs = values['tape-delay'] === undefined ? undefined : integer('--tape-delay', values['tape-delay']);
  const throttle = values.throttle === undefined ? undefined : integer('--throttle', values.throttle);
  const media = values.media;
  if (media !== undefined && media !== 'disk' && media !== 'tape') throw new UsageError(`--media must be disk or tape\n${USAGE}`);

  const server = await startArchiveServer({
    port,
    host: values.host ?? '127.0.0.1',
    ...(values.dir === undefined ? {} : { dir: values.dir }),
    ...(tapeDelayMs === undefined ? {} : { tapeDelayMs }),
    ...(throttle === undefined ? {} : { throttleBytesPerSec: throttle }),
    ...(media === undefined ? {} : { defaultMedia: media }),
  });

  const stop = (): void => {
    void server.close();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  void server.closed.then(() => {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
  });

  (io.log ?? console.log)(`archive interface test server on ${server.url} storing in ${server.dir}`);
  return server;
}

/** Bad command line (exit code 2), or --help (exit code 0). */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}

function parseCli(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      options: {
        port: { type: 'string', default: '8080' },
        host: { type: 'string', default: '127.0.0.1' },
        dir: { type: 'string' },
        'tape-delay': { type: 'string' },
        media: { type: 'string' },
        throttle: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    throw new UsageError(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
  }
}

function integer(flag: string, text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) throw new UsageError(`${flag} must be a whole number, got ${JSON.stringify(text)}\n${USAGE}`);
  return n;
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    const usage = err instanceof UsageError;
    if (usage && err.exitCode === 0) console.log(err.message);
    else console.error(err instanceof Error ? err.message : String(err));
    process.exitCode = usage ? err.exitCode : 1;
  });
}
