import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pack } from 'tar-stream';
import { tarLayout, tarStream, type BundleFile } from '../../src/bundle';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cartd-bundle-layout-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
/** A file on disk with deterministic pseudo-random content. */
function file(path: string, size: number, mtime = 1546983446.123): BundleFile {
  counter += 1;
  const source = join(dir, `src-${counter}`);
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i += 1) data[i] = (i * 31 + counter) & 0xff;
  writeFileSync(source, data);
  return { path, size, mtime, source };
}

async function collect(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

/** What tar-stream's own pack() writes for the same members. */
async function packed(root: string, files: readonly BundleFile[]): Promise<Buffer> {
  const p = pack();
  const out = collect(p);
  for (const f of files) {
    const header = { name: `${root}/${f.path}`, mode: 0o644, uid: 0, gid: 0, mtime: new Date(Math.floor(f.mtime) * 1000) };
    p.entry({ ...header, type: 'file', size: f.size }, readFileSync(f.source));
  }
  p.finalize();
  return out;
}

const cases: Record<string, () => BundleFile[]> = {
  'one file': () => [file('1/2/3/foo.txt', 1000)],
  '2,000 small files': () => Array.from({ length: 2000 }, (_, i) => file(`d${i % 7}/f${i}.dat`, i % 1300)),
  'an empty file': () => [file('empty', 0), file('after-empty', 3)],
  'a 300-byte path': () => [file(`${'a'.repeat(99)}/${'b'.repeat(99)}/${'c'.repeat(100)}`, 700)],
  'a 4,000-byte path': () => [file(Array.from({ length: 40 }, (_, i) => `${i}`.padEnd(99, 'x')).join('/'), 512)],
  'a 4,000-byte single segment': () => [file('z'.repeat(4000), 1)],
  'non-ASCII names': () => [file('données/été.txt', 42), file('日本/ファイル.bin', 4096), file('plain.txt', 5)],
};

describe('tarLayout + tarStream', () => {
  for (const [name, make] of Object.entries(cases)) {
    test(`${name}: Content-Length is exact and the bytes are what tar-stream's pack() writes`, async () => {
      const files = make();
      const layout = tarLayout('38', files);
      const body = await collect(tarStream(layout));
      expect(body.byteLength).toBe(layout.size);
      expect(body.equals(await packed('38', files))).toBe(true);
    });
  }

  test('a non-ASCII root folder works too', async () => {
    const files = [file('x/y.txt', 10)];
    const layout = tarLayout('données', files);
    const body = await collect(tarStream(layout));
    expect(body.equals(await packed('données', files))).toBe(true);
  });

  test('the stream is the same whatever the chunk size', async () => {
    const files = [file('a', 5000), file('b', 0), file('c', 70_000)];
    const layout = tarLayout('r', files);
    const big = await collect(tarStream(layout));
    expect((await collect(tarStream(layout, undefined, { chunkSize: 7 }))).equals(big)).toBe(true);
  });

  test('fractional mtimes are floored; far-future ones are clamped, not wrapped', async () => {
    const files = [file('a', 1, 1546983446.999), file('b', 1, 2 ** 33)];
    const layout = tarLayout('r', files);
    expect(layout.entries.map((e) => e.header.mtime)).toEqual([1546983446, 2 ** 31 - 1]);
  });
});

describe('ETag', () => {
  const base = (): BundleFile[] => [
    { path: 'a/b.txt', size: 10, mtime: 100, source: '/nowhere/1', hashtype: 'md5', hashsum: '0'.repeat(32) },
    { path: 'c.txt', size: 20, mtime: 200, source: '/nowhere/2', hashtype: 'md5', hashsum: '1'.repeat(32) },
  ];

  test('is strong, quoted, and the same for the same inputs (even if the volume moved)', () => {
    const a = tarLayout('r', base());
    const moved = base().map((f) => ({ ...f, source: `/elsewhere${f.source}` }));
    expect(a.etag).toMatch(/^"[0-9a-f]{64}"$/);
    expect(tarLayout('r', moved).etag).toBe(a.etag);
  });

  test.each([
    ['root', (f: BundleFile[]) => ({ root: 's', files: f })],
    ['order', (f: BundleFile[]) => ({ root: 'r', files: [...f].reverse() })],
    ['path', (f: BundleFile[]) => ({ root: 'r', files: f.map((x, i) => (i ? x : { ...x, path: 'a/B.txt' })) })],
    ['size', (f: BundleFile[]) => ({ root: 'r', files: f.map((x, i) => (i ? x : { ...x, size: 11 })) })],
    ['mtime', (f: BundleFile[]) => ({ root: 'r', files: f.map((x, i) => (i ? x : { ...x, mtime: 101 })) })],
    ['hashsum', (f: BundleFile[]) => ({ root: 'r', files: f.map((x, i) => (i ? x : { ...x, hashsum: '2'.repeat(32) })) })],
  ])('changes with the %s', (_what, change) => {
    const { root, files } = change(base());
    expect(tarLayout(root, files).etag).not.toBe(tarLayout('r', base()).etag);
  });

  test('changes when a manifest is asked for', () => {
    expect(tarLayout('r', base(), { manifest: true }).etag).not.toBe(tarLayout('r', base()).etag);
  });
});

describe('manifests', () => {
  test('one per hashtype, coreutils format, included in the exact size', async () => {
    const a = { ...file('x/a.txt', 3), hashtype: 'md5', hashsum: 'a'.repeat(32) };
    const b = { ...file('b.txt', 4), hashtype: 'sha256', hashsum: 'b'.repeat(64) };
    const c = { ...file('x/c.txt', 5), hashtype: 'md5', hashsum: 'c'.repeat(32) };
    const layout = tarLayout('r', [a, b, c], { manifest: true });
    const names = layout.entries.map((e) => e.header.name);
    expect(names).toEqual(['r/x/a.txt', 'r/b.txt', 'r/x/c.txt', 'r/MANIFEST.md5', 'r/MANIFEST.sha256']);
    const md5 = layout.entries[3]?.body;
    expect(md5?.kind === 'bytes' && md5.data.toString()).toBe(`${'a'.repeat(32)}  x/a.txt\n${'c'.repeat(32)}  x/c.txt\n`);
    expect((await collect(tarStream(layout))).byteLength).toBe(layout.size);
  });

  test('never overwrites a cart file of the same name', () => {
    const f = { ...file('MANIFEST.md5', 1), hashtype: 'md5', hashsum: 'd'.repeat(32) };
    const g = { ...file('MANIFEST-2.md5/inner', 1), hashtype: 'md5', hashsum: 'e'.repeat(32) };
    const names = tarLayout('r', [f, g], { manifest: true }).entries.map((e) => e.header.name);
    expect(names.at(-1)).toBe('r/MANIFEST-3.md5');
  });
});

describe('unsafe input is refused', () => {
  test.each(['', '.', '..', 'a/b', 'a\0'])('root %j', (root) => {
    expect(() => tarLayout(root, [])).toThrow(RangeError);
  });
  test.each(['', '/abs', 'a//b', '../up', 'a/./b', 'a/..', 'nul\0'])('path %j', (path) => {
    expect(() => tarLayout('r', [{ path, size: 0, mtime: 0, source: '/x' }])).toThrow(RangeError);
  });
  test('a non-integer size', () => {
    expect(() => tarLayout('r', [{ path: 'a', size: 1.5, mtime: 0, source: '/x' }])).toThrow(RangeError);
  });
});

test('a 1-byte file costs a header block, a data block and the two end blocks', () => {
  expect(tarLayout('r', [file('f', 1)]).size).toBe(512 * 4);
});
