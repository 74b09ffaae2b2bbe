import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startArchiveServer, type ArchiveServer } from '../support/archive-server';
import { archiveFile, cartBody, postCart, startCartd, waitForCart } from '../support/cartd-harness';
import { cartdCmd, cleanEnv, makeNewerCartd, migrationCount, runBin, writeIni } from './cli-support';

let archive: ArchiveServer;
const dirs: string[] = [];
const N = migrationCount();

function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cartd-cli-db-'));
  dirs.push(dir);
  return dir;
}

beforeAll(async () => {
  archive = await startArchiveServer();
});
afterAll(async () => {
  await archive?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Start `bin/cartd` as a process; resolves once it logs that it serves, with a way to stop it. */
function serveInProcess(root: string, ini: string): Promise<{ stop(): Promise<number | null> }> {
  const child = spawn(process.execPath, [path.join('bin', 'cartd'), '-c', ini], { cwd: root, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (child.kill('SIGKILL'), reject(new Error(`cartd did not start: ${out}`))), 20_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (!out.includes('cartd serving')) return;
      clearTimeout(timer);
      resolve({ stop: () => new Promise((done) => (child.once('close', (code) => done(code)), child.kill('SIGTERM'))) });
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.once('close', (code) => (clearTimeout(timer), reject(new Error(`cartd exited ${code}: ${out}`))));
  });
}

describe('dbchk and dbsync', () => {
  test('dbchk without a database file fails, says to run dbsync, and creates no file', async () => {
    const dir = tempDir();
    const ini = writeIni(dir, archive.url);
    const r = await cartdCmd(['dbchk', '-c', ini]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`no database at ${path.join(dir, 'cartd.sqlite3')}; run \`cartd-cmd dbsync\``);
    expect(existsSync(path.join(dir, 'cartd.sqlite3'))).toBe(false);
  });

  test('an empty database fails dbchk until dbsync; dbsync twice keeps the data and changes nothing', async () => {
    const dir = tempDir();
    const ini = writeIni(dir, archive.url);
    writeFileSync(path.join(dir, 'cartd.sqlite3'), '');
    const before = await cartdCmd(['dbchk', '-c', ini]);
    expect(before.code).toBe(1);
    expect(before.stderr).toContain(`schema not current: no cartd tables: 0 of ${N} migrations applied`);
    expect(before.stderr).toContain('run `cartd-cmd dbsync`');

    const sync = await cartdCmd(['dbsync', '-c', ini]);
    expect(sync).toMatchObject({ code: 0, stderr: '' });
    expect(sync.stdout).toContain(`schema applied ${N} migration`);
    const after = await cartdCmd(['dbchk', '-c', ini]);
    expect(after.code).toBe(0);
    expect(after.stdout).toContain(`schema current: ${N} of ${N} migrations applied`);

    // A server uses the database; a second dbsync leaves its cart where it was.
    const server = await startCartd({ archive, dir });
    const f = await archiveFile(archive, 'dbsync-kept', 'kept.txt', 'kept\n');
    await postCart(server.url, 'kept', cartBody([f]));
    expect((await waitForCart(server.url, 'kept')).status).toBe('ready');
    await server.stop();
    const again = await cartdCmd(['dbsync', '-c', ini]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('schema already current, nothing to do');
    const dump = await cartdCmd(['dump', '--json', '-c', ini]);
    expect((JSON.parse(dump.stdout) as { carts: { uid: string; status: string }[] }).carts).toEqual([expect.objectContaining({ uid: 'kept', status: 'ready' })]);
    expect((await cartdCmd(['dbchk', '--equal', '-c', ini])).code).toBe(0);
  });

  test('after an upgrade the database is outdated: dbchk fails, the server refuses to start and says to run dbsync; dbsync fixes both', async () => {
    const dir = tempDir();
    const ini = writeIni(dir, archive.url);
    expect((await cartdCmd(['dbsync', '-c', ini])).code).toBe(0);
    const newer = makeNewerCartd();
    dirs.push(newer);

    const chk = await cartdCmd(['dbchk', '-c', ini], { root: newer });
    expect(chk.code).toBe(1);
    expect(chk.stderr).toContain(`schema not current: ${N} of ${N + 1} migrations applied`);
    expect(chk.stderr).toContain('run `cartd-cmd dbsync`');

    const refused = await runBin('cartd', ['-c', ini], { root: newer });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(`cartd: database schema is not current (${N} of ${N + 1} migrations applied); run \`cartd-cmd dbsync\` first\n`);

    const sync = await cartdCmd(['dbsync', '-c', ini], { root: newer });
    expect(sync.code).toBe(0);
    expect(sync.stdout).toContain(`schema applied 1 migration: ${N + 1} of ${N + 1} migrations applied`);
    expect((await cartdCmd(['dbsync', '-c', ini], { root: newer })).stdout).toContain('already current');
    expect((await cartdCmd(['dbchk', '--equal', '-c', ini], { root: newer })).code).toBe(0);
    const server = await serveInProcess(newer, ini);
    expect(await server.stop()).toBe(0);

    // The older cartd-cmd: everything it knows is applied (exit 0), but not exactly its schema (--equal).
    expect((await cartdCmd(['dbchk', '-c', ini])).code).toBe(0);
    const equal = await cartdCmd(['dbchk', '--equal', '-c', ini]);
    expect(equal.code).toBe(1);
    expect(equal.stderr).toContain('1 this cartd does not know (written by a newer cartd)');
  });
});

describe('usage', () => {
  test('--help of every command explains it with examples and exits 0', async () => {
    const commands = ['dbchk', 'dbsync', 'fixit', 'purge', 'dump'];
    const helps = await Promise.all(commands.map((cmd) => cartdCmd([cmd, '--help'])));
    for (const [i, cmd] of commands.entries()) {
      const r = helps[i]!;
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: cartd-cmd ${cmd}`);
      expect(r.stdout).toContain('-c, --config <file>');
      expect(r.stdout).toMatch(/Examples:\n {2}cartd-cmd /);
    }
    const top = await cartdCmd(['--help']);
    expect(top.code).toBe(0);
    for (const cmd of ['dbchk', 'dbsync', 'fixit', 'purge', 'dump']) expect(top.stdout).toContain(`  ${cmd} `);
  });

  test('wrong usage exits 2 and points at --help; a config file that cannot be read exits 2 and names it', async () => {
    const missing = path.join(tempDir(), 'nope.ini');
    const [unknown, option, bare, config] = await Promise.all([
      cartdCmd(['frobnicate']),
      cartdCmd(['dump', '--yaml']),
      cartdCmd([]),
      cartdCmd(['dbchk', '-c', missing]),
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
    expect(unknown.stderr).toContain('cartd-cmd --help');
    expect(option.code).toBe(2);
    expect(option.stderr).toContain("unknown option '--yaml'");
    expect(option.stderr).toContain('cartd-cmd dump --help');
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('Usage: cartd-cmd');
    expect(config.code).toBe(2);
    expect(config.stderr).toContain(`cannot read config file ${missing}`);
  });

  test('without -c the configuration comes from $CARTD_CONFIG, and the environment overrides it', async () => {
    const dir = tempDir();
    const ini = writeIni(dir, archive.url);
    expect((await cartdCmd(['dbsync'], { env: { CARTD_CONFIG: ini } })).stdout).toContain(path.join(dir, 'cartd.sqlite3'));
    const other = path.join(dir, 'other.sqlite3');
    const r = await cartdCmd(['dbchk'], { env: { CARTD_CONFIG: ini, DATABASE_URL: other } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`no database at ${other}`);
  });
});
