/**
 * The README is a promise: its two commands and its walk-through run here exactly as
 * written, in a fresh folder, on the documented ports (8080 and 8081).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { extractWith } from '../support/tar-readers';

const root = path.resolve(__dirname, '..', '..');
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
const walkthrough = /<!-- walkthrough:start -->([\s\S]*?)<!-- walkthrough:end -->/.exec(readme)?.[1] ?? '';
const blocks = [...walkthrough.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);

let dir: string;
const children: ChildProcess[] = [];

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

async function waitForHttp(url: string, timeoutMs: number, child: ChildProcess, log: () => string): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`process exited (${child.exitCode}) before ${url} answered:\n${log()}`);
    try {
      return await fetch(url, { method: url.endsWith('/') ? 'GET' : 'HEAD' });
    } catch {
      if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms:\n${log()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** A terminal: bash running one README block in the folder, in its own process group. */
function terminal(script: string): { child: ChildProcess; log: () => string } {
  let out = '';
  const child = spawn('bash', ['-c', script], { cwd: dir, detached: true, env: { ...process.env, LOG_LEVEL: 'warn' } });
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  children.push(child);
  return { child, log: () => out };
}

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'cartd-quickstart-'));
  // The project as a user has it after `npm ci`, but with its own empty folder for ./var.
  for (const name of ['package.json', 'package-lock.json', 'node_modules', 'dist', 'bin', 'src', 'tests', 'bench', 'config', 'migrations', 'tsconfig.json', 'tsconfig.build.json']) {
    if (existsSync(path.join(root, name))) symlinkSync(path.join(root, name), path.join(dir, name));
  }
});

afterAll(() => {
  for (const c of children) {
    try {
      if (c.pid) process.kill(-c.pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

test('the README shows the walk-through as three terminal blocks', () => {
  expect(blocks).toHaveLength(3);
  expect(blocks[0]!.trim()).toBe('npm run archive -- --port 8080 --dir ./var/archive');
  expect(blocks[1]!.trim()).toBe('npm start');
});

test('npm start serves on 127.0.0.1:8081 with SQLite and the volume under ./var, and the walk-through works verbatim', async () => {
  for (const port of [8080, 8081]) {
    if (!(await portFree(port))) throw new Error(`port ${port} is taken; this test needs the README's ports free`);
  }
  const archive = terminal(blocks[0]!);
  await waitForHttp('http://127.0.0.1:8080/nothing', 30_000, archive.child, archive.log);
  const server = terminal(blocks[1]!);
  const health = await waitForHttp('http://127.0.0.1:8081/', 120_000, server.child, server.log);
  expect(health.status).toBe(200);
  expect(await health.json()).toEqual({ message: 'Pacifica Cartd Interface Up and Running' });
  expect(existsSync(path.join(dir, 'var', 'cartd.sqlite3'))).toBe(true);
  expect(existsSync(path.join(dir, 'var', 'volume'))).toBe(true);

  const run = spawnSync('bash', ['-euo', 'pipefail', '-c', blocks[2]!], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  const lines = run.stdout.trim().split('\n');
  expect(run.stdout).toContain('{"message":"Cart Processing has begun"}');
  expect(run.stdout).toMatch(/^X-Pacifica-Status: ready\r?$/m);
  expect(run.stdout).toMatch(/my_cart\/1\/2\/3\/foo\.txt/);
  expect(run.stdout).toMatch(/my_cart\/1\/2\/3\/bar\.csv/);
  expect(run.stdout).toContain('{"message":"Cart Deleted Successfully"}');
  expect(lines[lines.length - 1]).toBe('404');
  const tree = extractWith('gnutar', readFileSync(path.join(dir, 'my_cart.tar')));
  expect(tree.get('my_cart/1/2/3/foo.txt')?.toString()).toBe('hello from the archive\n');
  expect(tree.get('my_cart/1/2/3/bar.csv')?.toString()).toBe('a,b\n1,2\n');
}, 240_000);
