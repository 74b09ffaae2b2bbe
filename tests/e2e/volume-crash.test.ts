/**
 * A real crash: `bin/cartd` as a child process, SIGKILLed in the middle of a pull. On the
 * next start the volume and its ledger agree again: no orphans, and every cart whose bytes
 * went missing is staged again to ready.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { startArchiveServer, type ArchiveServer } from '../support/archive-server';
import { archiveFile, cartBody, postCart, startCartd, waitForCart, type CartdHarness } from '../support/cartd-harness';
import { MiB, blobKeysOnDisk, filesUnder, tarDigests, tempFiles } from '../support/volume-usage';

const root = path.resolve(__dirname, '..', '..');
let archive: ArchiveServer;
let dir: string;
let child: ChildProcess | undefined;
let restarted: CartdHarness | undefined;

beforeAll(async () => {
  archive = await startArchiveServer();
  dir = mkdtempSync(path.join(os.tmpdir(), 'cartd-crash-'));
});
afterAll(async () => {
  child?.kill('SIGKILL');
  await restarted?.close();
  await archive?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** `node bin/cartd` on a free port with the same folder layout the in-process harness uses; resolves with its URL. */
function startChild(): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(process.execPath, [path.join(root, 'bin', 'cartd')], {
    cwd: dir,
    env: {
      PATH: process.env.PATH,
      VOLUME_PATH: path.join(dir, 'volume'),
      DATABASE_URL: path.join(dir, 'cartd.sqlite3'),
      ARCHIVEINTERFACE_URL: archive.url,
      CARTD_PORT: '0',
      CARTD_ADDRESS: '127.0.0.1',
      VOLUME_RESERVE_BYTES: '0',
      ARCHIVE_TIMEOUT: '5',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: proc.stdout! });
    lines.on('line', (line) => {
      try {
        const rec = JSON.parse(line) as { msg?: string; url?: string };
        if (rec.msg === 'cartd serving' && rec.url) resolve({ proc, url: rec.url });
      } catch {
        // not a log line
      }
    });
    proc.once('exit', (code) => reject(new Error(`cartd exited early with ${code}`)));
  });
}

async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('killing the server mid-pull, removing a staged blob by hand, and restarting: no orphans, the affected cart is staged again to ready', async () => {
  const volume = path.join(dir, 'volume');
  const kept = await archiveFile(archive, 'crash-kept', 'kept.bin', randomBytes(MiB));
  const slow = await archiveFile(archive, 'crash-slow', 'slow.bin', randomBytes(8 * MiB));
  archive.fault('crash-slow', 'throttle', { bytesPerSec: MiB, times: 1 });

  const first = await startChild();
  child = first.proc;
  await postCart(first.url, 'kept', cartBody([kept]));
  expect((await waitForCart(first.url, 'kept')).status).toBe('ready');
  await postCart(first.url, 'pulled', cartBody([slow]));
  await until('a partial temp file', () => archive.openTransfers('crash-slow') === 1 && tempFiles(volume).length === 1);

  const exited = new Promise((r) => first.proc.once('exit', r));
  first.proc.kill('SIGKILL');
  await exited;
  child = undefined;

  // What the crash and a careless operator leave behind.
  const partial = tempFiles(volume);
  expect(partial).toHaveLength(1);
  const keptBlob = filesUnder(path.join(volume, 'blobs')).find((f) => path.basename(f) === `md5-${kept.hashsum}`)!;
  unlinkSync(keptBlob);
  const orphanKey = `md5-${'ab'.repeat(16)}`;
  mkdirSync(path.join(volume, 'blobs', 'ab'), { recursive: true });
  writeFileSync(path.join(volume, 'blobs', 'ab', orphanKey), 'bytes no row owns');
  writeFileSync(path.join(volume, 'tmp', 'stray.part'), 'a temp file of an older layout');

  restarted = await startCartd({ archive, dir });
  // Reconciled before the server answers: the dead process's temp files and the orphans are gone.
  expect(tempFiles(volume).filter((f) => !f.includes(restarted!.running.cartd.volume.owner))).toEqual([]);
  // So is its temp folder `tmp/<owner>/`, not just left empty; only the new process's own may be there.
  const deadOwnerDir = path.dirname(partial[0]!);
  expect(path.dirname(deadOwnerDir)).toBe(path.join(volume, 'tmp'));
  expect(existsSync(deadOwnerDir)).toBe(false);
  expect(readdirSync(path.join(volume, 'tmp')).filter((name) => name !== restarted!.running.cartd.volume.owner)).toEqual([]);
  expect(blobKeysOnDisk(volume)).not.toContain(orphanKey);

  const [k, p] = await Promise.all([waitForCart(restarted.url, 'kept', 30_000), waitForCart(restarted.url, 'pulled', 30_000)]);
  expect([k.code, k.status, p.code, p.status]).toEqual([204, 'ready', 204, 'ready']);
  expect(archive.stats('crash-kept').get).toBe(2); // fetched again because its bytes were gone

  for (const [uid, f] of [['kept', kept], ['pulled', slow]] as const) {
    const res = await fetch(new URL(`${uid}?filename=t.tar`, restarted.url));
    expect((await tarDigests(Buffer.from(await res.arrayBuffer()))).get(`t/${f.path}`)).toBe(f.hashsum);
  }
  expect(blobKeysOnDisk(volume)).toEqual([`md5-${kept.hashsum}`, `md5-${slow.hashsum}`].sort());
  expect(tempFiles(volume)).toEqual([]);
  const rows = restarted.running.cartd.state.blobs.all().map((r) => `${r.key} ${r.state}`);
  expect(rows.sort()).toEqual([`md5-${kept.hashsum} present`, `md5-${slow.hashsum} present`].sort());
});
