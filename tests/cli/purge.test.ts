import http from 'node:http';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startArchiveServer, type ArchiveServer } from '../support/archive-server';
import { archiveFile, cartBody, digest, headCart, postCart, startCartd, waitForCart, type CartdHarness, type TestFile } from '../support/cartd-harness';
import { extractWith } from '../support/tar-readers';
import { cartdCmd, iniFor } from './cli-support';

let archive: ArchiveServer;
let cartd: CartdHarness;
let ini: string;

beforeAll(async () => {
  archive = await startArchiveServer();
  cartd = await startCartd({ archive });
  ini = iniFor(cartd);
});
afterAll(async () => {
  await cartd?.close();
  await archive?.close();
});

async function readyCart(uid: string, files: readonly TestFile[]): Promise<void> {
  expect((await postCart(cartd.url, uid, cartBody(files))).code).toBe(201);
  expect((await waitForCart(cartd.url, uid)).status).toBe('ready');
}

/** Start downloading a cart and stop reading after the headers: the download stays open. */
function stalledDownload(uid: string): Promise<{ close(): void }> {
  return new Promise((resolve, reject) => {
    const req = http.get(new URL(uid, cartd.url), (res) => {
      expect(res.statusCode).toBe(200);
      res.pause();
      resolve({ close: () => req.destroy() });
    });
    req.on('error', reject);
  });
}

/** What the volume holds, as `du` would count it: files and bytes under the volume folder. */
function volumeUsage(): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const full = path.join(dir, name);
      const st = statSync(full);
      if (st.isDirectory()) walk(full);
      else {
        files++;
        bytes += st.size;
      }
    }
  };
  walk(path.join(cartd.dir, 'volume'));
  return { files, bytes };
}

async function liveUids(): Promise<string[]> {
  const r = await cartdCmd(['dump', '--json', '-c', ini]);
  expect(r.code).toBe(0);
  return (JSON.parse(r.stdout) as { carts: { uid: string }[] }).carts.map((c) => c.uid);
}

const statusOf = async (uid: string): Promise<number> => (await headCart(cartd.url, uid)).code;

describe('cartd-cmd purge', () => {
  test('--time-ago "1 seconds ago" removes exactly the carts idle longer, with their bytes; --dry-run removes nothing; a cart being downloaded is kept', async () => {
    const shared = await archiveFile(archive, 'purge-shared', 'shared.txt', Buffer.alloc(3000, 's'));
    await readyCart('old-1', [await archiveFile(archive, 'purge-x', 'x.txt', Buffer.alloc(5000, 'x')), shared]);
    await readyCart('old-2', [await archiveFile(archive, 'purge-y', 'y.txt', Buffer.alloc(7000, 'y'))]);
    // Big enough that a download which stops reading cannot finish into socket buffers.
    await archive.putSparse('purge-big', 48 << 20);
    const big: TestFile = { id: 'purge-big', path: 'big.bin', hashtype: 'md5', hashsum: digest(Buffer.alloc(48 << 20)), data: Buffer.alloc(0) };
    await readyCart('old-busy', [big]);
    const download = await stalledDownload('old-busy');
    try {
      await sleep(1100);
      const dry = await cartdCmd(['purge', '-c', ini, '--time-ago', '1 seconds ago', '--dry-run']);
      expect(dry.code).toBe(0);
      expect(dry.stdout).toMatch(/^would remove cart old-1 \(ready, 2 files, last changed or used \d{4}-.*Z\)$/m);
      expect(dry.stdout).toMatch(/^would remove cart old-2 \(ready, 1 file, /m);
      expect(dry.stdout).toMatch(/^skipped cart old-busy \(.*\): 1 download in progress$/m);
      expect(dry.stdout.split('\n').filter((l) => l !== '')).toHaveLength(3);
      expect(dry.stderr).toContain('purge: dry run, nothing removed: 3 carts not changed or used since');
      expect(dry.stderr).toContain('(1 seconds ago); run again without --dry-run to remove them');
      // Listed by dump, which (unlike HEAD, a use of the cart) leaves their idle time alone.
      expect(await liveUids()).toEqual(['old-1', 'old-2', 'old-busy']);
      const before = volumeUsage();
      expect(before.bytes).toBe(5000 + 3000 + 7000 + (48 << 20));

      // keep-1 is created as the purge starts: younger than a second whatever the machine's load
      // (the purge counts from its process start, and loads its modules long before it reads carts).
      const fresh = [shared, await archiveFile(archive, 'purge-z', 'z.txt', Buffer.alloc(11000, 'z'))];
      const purging = cartdCmd(['purge', '-c', ini, '--time-ago', '1 seconds ago']);
      expect((await postCart(cartd.url, 'keep-1', cartBody(fresh))).code).toBe(201);
      const r = await purging;
      expect(r.code).toBe(0);
      const lines = r.stdout.split('\n').filter((l) => l !== '');
      expect(lines).toEqual([
        expect.stringMatching(/^removed cart old-1 \(ready, 2 files, /),
        expect.stringMatching(/^removed cart old-2 \(ready, 1 file, /),
        expect.stringMatching(/^skipped cart old-busy .*: 1 download in progress$/),
      ]);
      expect(r.stderr).toMatch(/^purge: removed 2 carts not changed or used since \d{4}-.*Z \(1 seconds ago\)\n$/);
      expect([await statusOf('old-1'), await statusOf('old-2'), await statusOf('old-busy')]).toEqual([404, 404, 204]);
      expect((await waitForCart(cartd.url, 'keep-1')).status).toBe('ready');
      // x and y are gone; the shared file stays for keep-1.
      expect(volumeUsage()).toEqual({ files: 3, bytes: 3000 + 11000 + (48 << 20) });
      const tar = Buffer.from(await (await fetch(new URL('keep-1?filename=k.tar', cartd.url))).arrayBuffer());
      const tree = extractWith('gnutar', tar);
      expect(tree.get('k/shared.txt')?.equals(shared.data)).toBe(true);
      expect(tree.get('k/z.txt')?.equals(fresh[1]!.data)).toBe(true);
    } finally {
      download.close();
    }
  });

  test('a malformed --time-ago exits 2 and shows the expected syntax; singular and plural units are accepted', async () => {
    const runs = await Promise.all(
      ['60 dayz ago', '1.5 days ago'].map(async (bad) => ({ bad, r: await cartdCmd(['purge', '-c', ini, '--time-ago', bad, '--dry-run']) })),
    );
    for (const { bad, r } of runs) {
      expect({ bad, code: r.code }).toEqual({ bad, code: 2 });
      expect(r.stderr).toContain(`argument '${bad}' is invalid. expected "N unit ago", N a whole number and unit one of seconds, minutes, hours, days or weeks`);
      expect(r.stderr).toContain('cartd-cmd purge --help');
      expect(r.stdout).toBe('');
    }
    const [week, dflt] = await Promise.all([cartdCmd(['purge', '-c', ini, '--time-ago=1 Week ago', '--dry-run']), cartdCmd(['purge', '-c', ini, '--dry-run'])]);
    expect(week.code).toBe(0);
    expect(week.stderr).toContain('(1 Week ago)');
    expect(dflt.code).toBe(0);
    expect(dflt.stderr).toContain('purge: dry run, nothing removed: 0 carts not changed or used since');
    expect(dflt.stderr).toContain('(180 days ago)');
  });
});
