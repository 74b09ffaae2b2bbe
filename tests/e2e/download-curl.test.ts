/**
 * Issue 5, acceptance 3: the real curl binary, interrupted for real (killed mid-transfer, or
 * stopped after a first `-r 0-N` part), resumes with `curl -C -` into a file identical to a
 * full download, fetching only the bytes it was missing.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startArchiveServer, type ArchiveServer } from '../support/archive-server';
import { archiveFile, startCartd, type CartdHarness } from '../support/cartd-harness';
import { eventually, patterned, readersOf, sha256, stageCart } from '../support/download-client';

const run = promisify(execFile);
let archive: ArchiveServer;
let cartd: CartdHarness;
let dir: string;
let url: string;
let fullSha: string;
let fullSize: number;

const sizeOf = (file: string): number => {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
};

/** curl's own report of one transfer: status code and bytes it downloaded. */
async function curl(args: string[]): Promise<{ code: number; downloaded: number }> {
  const { stdout } = await run('curl', ['--silent', '--show-error', '--write-out', '%{http_code} %{size_download}', ...args]);
  const [code, downloaded] = stdout.trim().split(' ').map(Number);
  return { code: code ?? 0, downloaded: downloaded ?? 0 };
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'cartd-curl-'));
  archive = await startArchiveServer();
  cartd = await startCartd({ archive });
  // 32 MiB: more than loopback socket buffers and curl's first burst can take in at once,
  // so the throttled curl below is always killed partway.
  const files = await Promise.all([0, 1, 2, 3].map((i) => archiveFile(archive, `curl-${i}`, `data/part-${i}.bin`, patterned(8 * 1024 * 1024 + i * 1000, i))));
  await stageCart(cartd, 'curl-cart', files);
  url = new URL('curl-cart?filename=c.tar', cartd.url).toString();
  const full = path.join(dir, 'full.tar');
  expect(await curl(['-o', full, url])).toMatchObject({ code: 200 });
  fullSize = sizeOf(full);
  fullSha = sha256(readFileSync(full));
  expect(fullSize).toBeGreaterThan(32 * 1024 * 1024);
});
afterAll(async () => {
  await cartd?.close();
  await archive?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('curl killed mid-download, then curl -C - : the file is identical to a full download', async () => {
  const file = path.join(dir, 'killed.tar');
  const slow = spawn('curl', ['--silent', '--limit-rate', '256K', '-o', file, url], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => slow.on('exit', () => resolve()));
  expect(await eventually(() => sizeOf(file) > 1024 * 1024, 20_000)).toBe(true);
  slow.kill('SIGKILL');
  await exited;
  const have = sizeOf(file);
  expect(have).toBeGreaterThan(0);
  expect(have).toBeLessThan(fullSize);
  // The server let go of the dropped download.
  expect(await eventually(() => readersOf(cartd, 'curl-cart') === 0)).toBe(true);

  const resumed = await curl(['-C', '-', '-o', file, url]);
  expect(resumed).toEqual({ code: 206, downloaded: fullSize - have });
  expect(sizeOf(file)).toBe(fullSize);
  expect(sha256(readFileSync(file))).toBe(fullSha);
});

test('a first part with -r 0-N, then curl -C - : identical again', async () => {
  const file = path.join(dir, 'parts.tar');
  const first = 3 * 1024 * 1024 + 123;
  expect(await curl(['-r', `0-${first - 1}`, '-o', file, url])).toEqual({ code: 206, downloaded: first });
  expect(await curl(['-C', '-', '-o', file, url])).toEqual({ code: 206, downloaded: fullSize - first });
  expect(sha256(readFileSync(file))).toBe(fullSha);
});

test('curl -C - on a file that is already complete gets a 416 and leaves it intact', async () => {
  const file = path.join(dir, 'done.tar');
  await curl(['-o', file, url]);
  const again = await curl(['-C', '-', '-o', file, url]);
  expect(again.code).toBe(416);
  expect(sha256(readFileSync(file))).toBe(fullSha);
});
