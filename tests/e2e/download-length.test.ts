/**
 * Issue 5, acceptance 1: Content-Length is exactly the bytes sent (1 file, 2,000 files, an
 * empty file, a 4096-byte path, non-ASCII paths), HEAD ?filename= offers the same length,
 * and the ETag is the same after a restart and differs when the content would.
 * Also: non-ASCII download names go out as RFC 6266 filename*= and never crash the server.
 */
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { startArchiveServer, type ArchiveServer } from '../support/archive-server';
import { archiveFile, startCartd, type CartdHarness, type TestFile } from '../support/cartd-harness';
import { get, head, patterned, pythonMembers, sha256, stageCart } from '../support/download-client';
import { listWithGnuTar } from '../support/tar-readers';

let archive: ArchiveServer;
let cartd: CartdHarness;
const others: CartdHarness[] = [];

beforeAll(async () => {
  archive = await startArchiveServer();
  cartd = await startCartd({ archive });
});
afterAll(async () => {
  for (const c of others) await c.close();
  await cartd?.close();
  await archive?.close();
});

/** Bytes that differ per file and per seed, so a misplaced slice cannot go unnoticed. */
/** A path of exactly `total` UTF-8 bytes, in segments of at most 200 bytes (each under NAME_MAX), some non-ASCII. */
function longPath(total: number): string {
  const segs: string[] = [];
  let used = 0;
  for (let i = 0; used < total; i++) {
    const room = total - used - (segs.length > 0 ? 1 : 0);
    const seg = i % 3 === 1 ? 'é'.repeat(Math.min(100, Math.floor(room / 2))) || 'x' : 'd'.repeat(Math.min(200, room));
    segs.push(seg);
    used += Buffer.byteLength(seg) + (segs.length > 1 ? 1 : 0);
  }
  return segs.join('/');
}

/** Every member's sha256, as Python reads the tarball, against what the cart holds below `root`. */
function expectMembers(tar: Buffer, root: string, files: readonly TestFile[]): void {
  const want = new Map(files.map((f) => [`${root}/${f.path.replace(/^\/+/, '')}`, sha256(f.data)]));
  expect(pythonMembers(tar)).toEqual(want);
}

describe('Content-Length is the bytes sent', () => {
  test('a cart of one file: 200, exact length, and HEAD ?filename= offers the same length', async () => {
    const files = [await archiveFile(archive, 'len-one', 'only/file.txt', patterned(1234, 1))];
    await stageCart(cartd, 'len-one', files);
    const got = await get(cartd, 'len-one?filename=one.tar');
    expect(got.code).toBe(200);
    expect(got.headers.get('accept-ranges')).toBe('bytes');
    expect(got.headers.get('content-type')).toBe('application/x-tar');
    expect(Number(got.headers.get('content-length'))).toBe(got.body.length);
    expectMembers(got.body, 'one', files);

    const status = await head(cartd, 'len-one?filename=one.tar');
    expect([status.code, status.status]).toEqual([204, 'ready']);
    expect(status.headers.get('x-cartd-download-length')).toBe(String(got.body.length));
    const withManifest = await get(cartd, 'len-one?filename=one.tar&manifest=1');
    expect((await head(cartd, 'len-one?filename=one.tar&manifest=1')).headers.get('x-cartd-download-length')).toBe(String(withManifest.body.length));
    // Without a filename (the reference client's poll) or for a zip, no length is offered.
    expect((await head(cartd, 'len-one')).headers.get('x-cartd-download-length')).toBeNull();
    expect((await head(cartd, 'len-one?filename=one.zip&format=zip')).headers.get('x-cartd-download-length')).toBeNull();
  });

  test('a cart of 2,000 files, one of them empty: every byte accounted for', async () => {
    // 2,000 members, each its own path, header and padding, over 250 distinct contents
    // (sizes 0 to 2,999): staging pulls 250 files, not 2,000, so the suite stays fast under
    // load, and a member holding the wrong content still shows in its sha256.
    const contents = Array.from({ length: 250 }, (_, k) => patterned(k === 7 ? 0 : (k * 37 + 11) % 3000, k));
    const files = await Promise.all(
      Array.from({ length: 2000 }, (_, i) => archiveFile(archive, `len-many-${i % 250}`, `d${i % 17}/f-${i}.bin`, contents[i % 250]!)),
    );
    expect(new Set(files.map((f) => f.path)).size).toBe(2000);
    await stageCart(cartd, 'len-many', files, 100_000);
    const got = await get(cartd, 'len-many?filename=many.tar');
    expect(got.code).toBe(200);
    expect(Number(got.headers.get('content-length'))).toBe(got.body.length);
    expect((await head(cartd, 'len-many?filename=many.tar')).headers.get('x-cartd-download-length')).toBe(String(got.body.length));
    expectMembers(got.body, 'many', files);
  }, 120_000);

  test('an empty file, a 4096-byte path and non-ASCII paths: exact length, and GNU tar, bsdtar and Python read them', async () => {
    const deep = longPath(4096);
    expect(Buffer.byteLength(deep)).toBe(4096);
    const files = [
      await archiveFile(archive, 'odd-empty', 'empty.dat', Buffer.alloc(0)),
      await archiveFile(archive, 'odd-deep', deep, patterned(700, 3), { hashtype: 'sha256' }),
      await archiveFile(archive, 'odd-fr', 'données/été/résumé.txt', patterned(512, 4)),
      await archiveFile(archive, 'odd-jp', '日本語/ファイル名.csv', patterned(513, 5), { hashtype: 'sha1' }),
      await archiveFile(archive, 'odd-emoji', 'emoji/🧪-sample.bin', patterned(1, 6)),
    ];
    await stageCart(cartd, 'len-odd', files);
    const got = await get(cartd, 'len-odd?filename=odd.tar');
    expect(got.code).toBe(200);
    expect(Number(got.headers.get('content-length'))).toBe(got.body.length);
    expectMembers(got.body, 'odd', files);
    const names = files.map((f) => `odd/${f.path}`).sort();
    expect(listWithGnuTar(got.body).sort()).toEqual(names);
    const bsd = execFileSync('bsdtar', ['-tf', '-'], { input: got.body }).toString('utf8').split('\n').filter((l) => l !== '');
    expect(bsd.sort()).toEqual(names);
  });
});

describe('ETag', () => {
  test('is the same after a restart on the same folder, and for the same content in another cart', async () => {
    const files = [await archiveFile(archive, 'etag-a', 'a.txt', 'alpha\n'), await archiveFile(archive, 'etag-b', 'sub/b.txt', 'beta\n')];
    const first = await startCartd({ archive });
    others.push(first);
    await stageCart(first, 'etag-1', files);
    const before = await get(first, 'etag-1?filename=e.tar');
    expect(before.headers.get('etag')).toMatch(/^"[0-9a-f]{64}"$/);
    await first.stop();

    const second = await startCartd({ archive, dir: first.dir });
    others.push(second);
    expect((await head(second, 'etag-1')).status).toBe('ready');
    const after = await get(second, 'etag-1?filename=e.tar');
    expect(after.headers.get('etag')).toBe(before.headers.get('etag'));
    expect(sha256(after.body)).toBe(sha256(before.body));

    await stageCart(second, 'etag-1-twin', files);
    expect((await get(second, 'etag-1-twin?filename=e.tar')).headers.get('etag')).toBe(before.headers.get('etag'));
  });

  test('differs when the content, the root folder name or the manifest would differ', async () => {
    const same = await archiveFile(archive, 'etag-same', 'x/same.txt', 'same\n');
    const v1 = await archiveFile(archive, 'etag-v1', 'x/data.bin', 'version one\n');
    const v2 = await archiveFile(archive, 'etag-v2', 'x/data.bin', 'version two\n'); // same size, same path
    await stageCart(cartd, 'etag-v1', [same, v1]);
    await stageCart(cartd, 'etag-v2', [same, v2]);
    const tag = async (q: string): Promise<string | null> => (await get(cartd, q)).headers.get('etag');
    const base = await tag('etag-v1?filename=e.tar');
    const seen = [
      base,
      await tag('etag-v2?filename=e.tar'),
      await tag('etag-v1?filename=other.tar'),
      await tag('etag-v1?filename=e.tar&manifest=1'),
    ];
    expect(seen.every((t) => t !== null)).toBe(true);
    expect(new Set(seen).size).toBe(seen.length);
    expect(await tag('etag-v1?filename=e.tar')).toBe(base);
  });
});

describe('download names', () => {
  test('a non-ASCII filename gets filename*= (RFC 6266) and names the root folder', async () => {
    const files = [await archiveFile(archive, 'name-1', 'f.txt', 'f\n')];
    await stageCart(cartd, 'names', files);
    const got = await get(cartd, `names?filename=${encodeURIComponent('données été.tar')}`);
    expect(got.code).toBe(200);
    expect(got.headers.get('content-disposition')).toBe(`attachment; filename="donn_es _t_.tar"; filename*=UTF-8''donn%C3%A9es%20%C3%A9t%C3%A9.tar`);
    expect(listWithGnuTar(got.body)).toEqual(['données été/f.txt']);
    expect(Number(got.headers.get('content-length'))).toBe(got.body.length);
  });

  test('a filename with CR LF cannot add a header; one with a slash or over 255 bytes is a 400 naming filename', async () => {
    const got = await get(cartd, 'names?filename=a%0D%0AX-Evil:%201.tar');
    expect(got.code).toBe(200);
    expect(got.headers.get('x-evil')).toBeNull();
    expect(got.headers.get('content-disposition')).toBe(`attachment; filename="a__X-Evil: 1.tar"; filename*=UTF-8''a%0D%0AX-Evil%3A%201.tar`);
    for (const bad of ['a%2Fb.tar', `${'é'.repeat(128)}.tar`]) {
      const r = await get(cartd, `names?filename=${bad}`);
      expect(r.code).toBe(400);
      expect(JSON.parse(r.body.toString()).message).toMatch(/filename/);
    }
  });

  test('raw UTF-8 bytes in the request line do not crash the server', async () => {
    const { port } = new URL(cartd.url);
    const answer = await new Promise<string>((resolve, reject) => {
      const s = net.connect(Number(port), '127.0.0.1', () => {
        s.end(Buffer.concat([Buffer.from('GET /names?filename='), Buffer.from('ü日本.tar', 'utf8'), Buffer.from(' HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')]));
      });
      const parts: Buffer[] = [];
      s.on('data', (d: Buffer) => parts.push(d));
      s.on('close', () => resolve(Buffer.concat(parts).subarray(0, 200).toString('latin1')));
      s.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 (200|400) /);
    const health = await get(cartd, '');
    expect(health.code).toBe(200);
  });
});
