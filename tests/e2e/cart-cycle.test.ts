import { startArchiveServer, type ArchiveServer } from '../support/archive-server';
import { RUNNERS, archiveFile, cartBody, headCart, postCart, startCartd, waitForCart, type CartdHarness } from '../support/cartd-harness';
import { extractWith, listWithGnuTar, type Reader } from '../support/tar-readers';

let archive: ArchiveServer;
let cartd: CartdHarness;

describe.each(RUNNERS)('with the %s runner', (runner) => {
  beforeAll(async () => {
    archive = await startArchiveServer();
    cartd = await startCartd({ archive, runner });
  });
  afterAll(async () => {
    await cartd?.close();
    await archive?.close();
  });

  async function download(uid: string, query = ''): Promise<{ code: number; headers: Headers; body: Buffer }> {
    const res = await fetch(new URL(`${uid}${query}`, cartd.url));
    return { code: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
  }

  describe('the whole cart cycle, as a curl user sees it', () => {
    test('POST, HEAD until ready, GET the tarball, DELETE, then 404', async () => {
      const files = [
        await archiveFile(archive, 'foo.txt', '1/2/3/foo.txt', 'foo contents\n'),
        await archiveFile(archive, 1234, '/1/2/3/bar.csv', 'a,b\n1,2\n', { hashtype: 'sha1' }),
        await archiveFile(archive, 'baz.ini', '2/3/4/baz.ini', '[x]\ny=1\n', { hashtype: 'sha256' }),
      ];
      const created = await postCart(cartd.url, 'cycle-1', cartBody(files));
      expect(created).toEqual({ code: 201, json: { message: 'Cart Processing has begun' } });

      const seen: string[] = [];
      const final = await waitForCart(cartd.url, 'cycle-1', 10_000, seen);
      expect(final.code).toBe(204);
      expect(final.status).toBe('ready');
      expect(final.message).toBe('');
      expect(new Set(seen.slice(0, -1)).size).toBeLessThanOrEqual(1);
      for (const s of seen.slice(0, -1)) expect(s).toBe('204 staging');

      const got = await download('cycle-1', '?filename=38.tar');
      expect(got.code).toBe(200);
      expect(got.headers.get('content-disposition')).toBe('attachment; filename=38.tar');
      expect(Number(got.headers.get('content-length'))).toBe(got.body.length);
      expect(listWithGnuTar(got.body).sort()).toEqual(['38/1/2/3/bar.csv', '38/1/2/3/foo.txt', '38/2/3/4/baz.ini']);
      for (const reader of ['gnutar', 'bsdtar', 'python'] as Reader[]) {
        const tree = extractWith(reader, got.body);
        expect(tree.get('38/1/2/3/foo.txt')?.toString()).toBe('foo contents\n');
        expect(tree.get('38/1/2/3/bar.csv')?.toString()).toBe('a,b\n1,2\n');
        expect(tree.get('38/2/3/4/baz.ini')?.toString()).toBe('[x]\ny=1\n');
      }

      const del = await fetch(new URL('cycle-1', cartd.url), { method: 'DELETE' });
      expect(del.status).toBe(200);
      expect(await del.json()).toEqual({ message: 'Cart Deleted Successfully' });
      expect((await headCart(cartd.url, 'cycle-1')).code).toBe(404);
      expect((await download('cycle-1')).code).toBe(404);
    });

    test('without a filename the tarball is data_YYYY_MM_DD_HH_MM_SS.tar with that root folder', async () => {
      const f = await archiveFile(archive, 'plain.txt', 'plain.txt', 'x');
      await postCart(cartd.url, 'noname', cartBody([f]));
      expect((await waitForCart(cartd.url, 'noname')).status).toBe('ready');
      const got = await download('noname');
      const m = /^attachment; filename=(data_\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2})\.tar$/.exec(got.headers.get('content-disposition') ?? '');
      expect(m).not.toBeNull();
      expect(listWithGnuTar(got.body)).toEqual([`${m![1]}/plain.txt`]);
    });

    test('unknown uid: 404 on HEAD, GET and DELETE', async () => {
      expect((await headCart(cartd.url, 'never-made')).code).toBe(404);
      expect((await download('never-made')).code).toBe(404);
      const del = await fetch(new URL('never-made', cartd.url), { method: 'DELETE' });
      expect(del.status).toBe(404);
      expect(await del.json()).toMatchObject({ status: 'Not Found' });
    });

    test('GET / is the reference health answer', async () => {
      const res = await fetch(cartd.url);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ message: 'Pacifica Cartd Interface Up and Running' });
    });
  });
});
