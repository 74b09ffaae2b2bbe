/**
 * Run the built binaries the way an operator does (`node bin/cartd-cmd ...`), with a
 * configuration file pointing at a test server's folder, and collect exit code and output.
 */
import { spawn } from 'node:child_process';
import { cpSync, readFileSync, symlinkSync, writeFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KEYS } from '../../src/config/keys';
import { iniText, testSettings, type CartdHarness } from '../support/cartd-harness';

export const ROOT = path.resolve(__dirname, '..', '..');

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** A copy of the project to run instead of this one (see makeNewerCartd). */
  readonly root?: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
}

/** The environment minus every variable cartd reads, so only the test's config file speaks. */
export function cleanEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const def of KEYS) for (const name of def.env) delete env[name];
  delete env.CARTD_CONFIG;
  return { ...env, ...extra };
}

function collect(command: string, args: readonly string[], opts: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: opts.root ?? ROOT, env: cleanEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${args.join(' ')} still running after ${opts.timeoutMs ?? 30_000} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `node bin/<bin> args...`, stdout and stderr piped (so not a terminal). Never blocks the test's event loop. */
export function runBin(bin: 'cartd' | 'cartd-cmd', args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return collect(process.execPath, [path.join('bin', bin), ...args], opts);
}

export function cartdCmd(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return runBin('cartd-cmd', args, opts);
}

const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * `node bin/cartd-cmd args... | reader` in bash with pipefail, so `code` is cartd-cmd's exit
 * status (the reader's only if cartd-cmd succeeded); `stdout` is what the reader printed.
 */
export function cartdCmdPipedTo(args: readonly string[], reader: string, opts: RunOptions = {}): Promise<RunResult> {
  const line = [process.execPath, path.join('bin', 'cartd-cmd'), ...args].map(shellQuote).join(' ');
  return collect('bash', ['-c', `set -o pipefail; ${line} | ${reader}`], opts);
}

/** The same, on a pseudo-terminal (util-linux `script`): what a user at a shell sees, in `stdout`. */
export function cartdCmdOnTerminal(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const line = [process.execPath, path.join('bin', 'cartd-cmd'), ...args].map(shellQuote).join(' ');
  return collect('script', ['-qfec', line, '/dev/null'], opts);
}

/** The configuration file an operator would write for a test server in `dir` (same keys as the harness). */
export function writeIni(dir: string, archiveUrl: string, overrides: Readonly<Record<string, string>> = {}): string {
  return writeSettings(dir, testSettings(dir, archiveUrl, overrides));
}

/** The configuration file of a running harness (Redis url and prefix included under BullMQ). */
export function iniFor(cartd: CartdHarness): string {
  return writeSettings(cartd.dir, cartd.settings);
}

function writeSettings(dir: string, settings: Readonly<Record<string, string>>): string {
  const file = path.join(dir, 'server.ini');
  writeFileSync(file, iniText(settings));
  return file;
}

/**
 * A copy of this build that knows one more migration than this one: the "newer cartd" an
 * operator upgrades to, for which a database of this build is outdated.
 */
export function makeNewerCartd(): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'cartd-newer-'));
  cpSync(path.join(ROOT, 'dist', 'src'), path.join(root, 'dist', 'src'), { recursive: true });
  cpSync(path.join(ROOT, 'bin'), path.join(root, 'bin'), { recursive: true });
  cpSync(path.join(ROOT, 'migrations'), path.join(root, 'migrations'), { recursive: true });
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(root, 'node_modules'), 'dir');
  const journalFile = path.join(root, 'migrations', 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { entries: { idx: number; when: number; tag: string; version: string; breakpoints: boolean }[] };
  const last = journal.entries[journal.entries.length - 1]!;
  const tag = `${String(last.idx + 1).padStart(4, '0')}_cli_test_newer`;
  writeFileSync(path.join(root, 'migrations', `${tag}.sql`), 'CREATE TABLE `cli_test_newer` (`id` integer PRIMARY KEY NOT NULL);\n');
  journal.entries.push({ idx: last.idx + 1, version: last.version, when: last.when + 1000, tag, breakpoints: true });
  writeFileSync(journalFile, JSON.stringify(journal, null, 2));
  return root;
}

/** How many migrations this build ships. */
export function migrationCount(): number {
  return (JSON.parse(readFileSync(path.join(ROOT, 'migrations', 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] }).entries.length;
}
