import { readdirSync } from 'node:fs';
import path from 'node:path';
import { startArchiveServer, type ArchiveServer } from '../support/archive-server';
import { RUNNERS, archiveFile, cartBody, digest, headCart, postCart, startCartd, waitForCart, type CartdHarness } from '../support/cartd-harness';
import { extractWith } from '../support/tar-readers';

let archive: ArchiveServer;
let cartd: CartdHarness;

describe.each(RUNNERS)('with the %s runner', (runner) => {
  beforeAll(async () => {
    archive = await startArchiveServer({ tapeDelayMs: 600 });
    cartd = await startCartd({ archive, runner });
  });
  afterAll(async () => {
    await cartd?.close();
    await archive?.close();
  });

  /** Every file under a folder, recursively (the volume's blobs and temp files). */
  function filesUnder(dir: string): string[] {
    const out: string[] = [];
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(path.join(d, e.name));
        else out.push(path.join(d, e.name));
      }
    };
    walk(dir);
    return out;
  }

  describe('status while staging, when ready, and when failed', () => {
    test('while staging HEAD says only staging (204, empty message) and GET is 202 with the reference text', async () => {
      const f = await archiveFile(archive, 'slow-tape.bin', 'tape/slow.bin', 'from tape', { media: 'tape' });
      await postCart(cartd.url, 'tape-cart', cartBody([f]));
      const first = await headCart(cartd.url, 'tape-cart');
      expect(first.code).toBe(204);
      expect(first.status).toBe('staging');
      expect(first.message).toBe('');
      const get = await fetch(new URL('tape-cart', cartd.url));
      expect(get.status).toBe(202);
      expect(await get.text()).toBe('The cart is not ready for download.');
      const seen: string[] = [];
      const final = await waitForCart(cartd.url, 'tape-cart', 15_000, seen);
      expect(seen.slice(0, -1).every((s) => s === '204 staging')).toBe(true);
      expect(seen.length).toBeGreaterThan(2);
      expect([final.code, final.status, final.message]).toEqual([204, 'ready', '']);
    });

    test('a hash mismatch fails the cart with 500, naming the file and both digests; the bad bytes are not kept', async () => {
      const good = await archiveFile(archive, 'ok.txt', 'ok.txt', 'fine');
      const bad = await archiveFile(archive, 'liar.txt', 'liar.txt', 'actual bytes');
      const claimed = digest('what the catalogue says');
      await postCart(cartd.url, 'mismatch', { fileids: [cartBody([good]).fileids[0], { id: 'liar.txt', path: 'liar.txt', hashtype: 'md5', hashsum: claimed }] });
      const final = await waitForCart(cartd.url, 'mismatch');
      expect(final.code).toBe(500);
      expect(final.status).toBe('error');
      expect(final.message).toContain('liar.txt');
      expect(final.message).toContain(claimed);
      expect(final.message).toContain(bad.hashsum);
      expect(final.message).toMatch(/3 tries/);
      const blobs = filesUnder(cartd.running.cartd.volume.blobDir).map((p) => path.basename(p));
      expect(blobs).not.toContain(`md5-${claimed}`);
      expect(filesUnder(cartd.running.cartd.volume.tmpDir)).toEqual([]);
      const get = await fetch(new URL('mismatch', cartd.url));
      expect(get.status).toBe(500);
      expect(((await get.json()) as { message: string }).message).toContain('liar.txt');
    });

    test('a file the archive does not have fails the cart at once, naming the file id', async () => {
      await postCart(cartd.url, 'missing', { fileids: [{ id: 'no-such-file', path: 'x', hashtype: 'md5', hashsum: digest('x') }] });
      const final = await waitForCart(cartd.url, 'missing');
      expect([final.code, final.status]).toEqual([500, 'error']);
      expect(final.message).toBe('file no-such-file: not found in the archive (404)');
      expect(archive.stats('no-such-file')).toMatchObject({ get: 0 });
    });

    test('a truncated transfer on every try leaves nothing under a final name, only an error', async () => {
      const f = await archiveFile(archive, 'cut.bin', 'cut.bin', Buffer.alloc(256 * 1024, 7));
      archive.fault('cut.bin', 'truncate');
      await postCart(cartd.url, 'truncated', cartBody([f]));
      const final = await waitForCart(cartd.url, 'truncated');
      expect([final.code, final.status]).toEqual([500, 'error']);
      expect(final.message).toMatch(/^file cut\.bin: .*\(gave up after 3 tries\)$/);
      expect(filesUnder(cartd.running.cartd.volume.blobDir).map((p) => path.basename(p))).not.toContain(`md5-${f.hashsum}`);
      expect(filesUnder(cartd.running.cartd.volume.tmpDir)).toEqual([]);
      archive.clearFaults('cut.bin');
    });

    test('a fault on the first tries only still ends ready with the exact bytes', async () => {
      const data = Buffer.from('survives two resets');
      const f = await archiveFile(archive, 'flaky.txt', 'flaky.txt', data);
      archive.fault('flaky.txt', 'reset', { times: 2 });
      await postCart(cartd.url, 'flaky', cartBody([f]));
      expect((await waitForCart(cartd.url, 'flaky')).status).toBe('ready');
      const tar = Buffer.from(await (await fetch(new URL('flaky?filename=f.tar', cartd.url))).arrayBuffer());
      expect(extractWith('gnutar', tar).get('f/flaky.txt')).toEqual(data);
    });

    test('every hashtype of the protocol list verifies', async () => {
      const types = ['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512', 'sha3_256', 'blake2b', 'blake2s'];
      const files = await Promise.all(types.map((t) => archiveFile(archive, `h-${t}`, `${t}.txt`, `bytes for ${t}`, { hashtype: t })));
      await postCart(cartd.url, 'hashes', cartBody(files));
      expect((await waitForCart(cartd.url, 'hashes')).status).toBe('ready');
    });
  });

  describe('re-POST of a live uid', () => {
    test('the identical body again is idempotent (201, no new work); a different one is 409', async () => {
      const f = await archiveFile(archive, 'same.txt', 'same.txt', 'same');
      expect((await postCart(cartd.url, 'again', cartBody([f]))).code).toBe(201);
      await waitForCart(cartd.url, 'again');
      const gets = archive.stats('same.txt');
      expect(await postCart(cartd.url, 'again', cartBody([f]))).toEqual({ code: 201, json: { message: 'Cart Processing has begun' } });
      expect((await headCart(cartd.url, 'again')).status).toBe('ready');
      expect(archive.stats('same.txt')).toEqual(gets);
      const other = await postCart(cartd.url, 'again', cartBody([{ ...f, path: 'elsewhere.txt' }]));
      expect(other.code).toBe(409);
      expect(other.json).toMatchObject({ status: 'Conflict', message: expect.stringContaining('again') });
    });
  });
});
