/**
 * Identical bytes (same hashtype and hashsum) are fetched once, stored once and shared by
 * every cart naming them; they leave the volume only when no live cart needs them.
 */
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import path from 'node:path';
import { startArchiveServer, type ArchiveServer } from '../support/archive-server';
import { RUNNERS, archiveFile, cartBody, headCart, postCart, startCartd, waitForCart, type CartdHarness } from '../support/cartd-harness';
import { MiB, blobKeysOnDisk, filesUnder, holdDownload, md5, tarDigests, tempFiles, volumeBytes } from '../support/volume-usage';

describe.each(RUNNERS)('with the %s runner', (runner) => {
  let archive: ArchiveServer;
  let cartd: CartdHarness;

  beforeAll(async () => {
    archive = await startArchiveServer();
    cartd = await startCartd({ archive, runner });
  });
  afterAll(async () => {
    await cartd?.close();
    await archive?.close();
  });

  const volume = (): string => cartd.config.cartd.volumePath;

  async function tarOf(uid: string, name: string): Promise<Map<string, string>> {
    const res = await fetch(new URL(`${uid}?filename=${name}.tar`, cartd.url));
    expect(res.status).toBe(200);
    return tarDigests(Buffer.from(await res.arrayBuffer()));
  }

  async function remove(uid: string): Promise<number> {
    return (await fetch(new URL(uid, cartd.url), { method: 'DELETE' })).status;
  }

  describe('shared blobs', () => {
    test('two carts naming the same 50 MiB file: one archive GET, one copy; each delete keeps what the other needs', async () => {
      const big = await archiveFile(archive, 'shared-50m', 'data/big.bin', randomBytes(50 * MiB));
      const own = await archiveFile(archive, 'own-file', 'own.txt', 'only in the second cart');
      const second = { ...big, path: 'elsewhere/same-bytes.bin' };
      const [p1, p2] = await Promise.all([postCart(cartd.url, 'share-1', cartBody([big])), postCart(cartd.url, 'share-2', cartBody([second, own]))]);
      expect([p1.code, p2.code]).toEqual([201, 201]);
      const [r1, r2] = await Promise.all([waitForCart(cartd.url, 'share-1'), waitForCart(cartd.url, 'share-2')]);
      expect([r1.status, r2.status]).toEqual(['ready', 'ready']);

      expect(archive.stats('shared-50m').get).toBe(1);
      const key = `md5-${big.hashsum}`;
      expect(blobKeysOnDisk(volume())).toEqual([key, `md5-${own.hashsum}`].sort());
      const blobFile = filesUnder(path.join(volume(), 'blobs')).find((f) => path.basename(f) === key)!;
      expect(statSync(blobFile).size).toBe(50 * MiB);
      expect(volumeBytes(volume())).toBe(50 * MiB + own.data.length);

      // Delete the first while the second is being downloaded: the download stays intact.
      const held = await holdDownload(new URL('share-2?filename=s2.tar', cartd.url));
      expect(held.status).toBe(200);
      expect(await remove('share-1')).toBe(200);
      expect((await headCart(cartd.url, 'share-1')).code).toBe(404);
      const during = await held.finish();
      expect(during.get('s2/elsewhere/same-bytes.bin')).toBe(big.hashsum);
      expect(blobKeysOnDisk(volume())).toContain(key);
      const after = await tarOf('share-2', 's2');
      expect(after.get('s2/elsewhere/same-bytes.bin')).toBe(big.hashsum);
      expect(after.get('s2/own.txt')).toBe(own.hashsum);

      expect(await remove('share-2')).toBe(200);
      expect(blobKeysOnDisk(volume())).toEqual([]);
      expect(tempFiles(volume())).toEqual([]);
      expect(volumeBytes(volume())).toBe(0);
      expect(archive.stats('shared-50m').get).toBe(1);
    });

    test('a cart whose files are all on the volume already is ready without a single archive request', async () => {
      const a = await archiveFile(archive, 'have-a', 'a.txt', 'first file');
      const b = await archiveFile(archive, 'have-b', 'b/b.txt', randomBytes(64 * 1024), { hashtype: 'sha256' });
      await postCart(cartd.url, 'have-1', cartBody([a, b]));
      expect((await waitForCart(cartd.url, 'have-1')).status).toBe('ready');
      archive.resetStats();

      // Same bytes under other paths (and the archive ids stay the same: only the content key matters).
      await postCart(cartd.url, 'have-2', cartBody([{ ...b, path: 'x/b-again.bin' }, { ...a, path: 'x/a-again.txt' }]));
      expect((await waitForCart(cartd.url, 'have-2')).status).toBe('ready');
      expect(archive.stats().total).toEqual({ head: 0, post: 0, get: 0, put: 0, delete: 0 });
      const tar = await tarOf('have-2', 'h');
      expect([...tar.keys()].sort()).toEqual(['h/x/a-again.txt', 'h/x/b-again.bin']);
      expect(tar.get('h/x/a-again.txt')).toBe(a.hashsum);
      expect(tar.get('h/x/b-again.bin')).toBe(md5(b.data));

      // The same file twice within one cart is also fetched once.
      const c = await archiveFile(archive, 'twice', 'c.txt', 'named twice');
      await postCart(cartd.url, 'twice', cartBody([c, { ...c, path: 'again/c.txt' }]));
      expect((await waitForCart(cartd.url, 'twice')).status).toBe('ready');
      expect(archive.stats('twice').get).toBe(1);
    });
  });
});
