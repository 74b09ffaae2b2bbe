import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import fc from 'fast-check';
import { parseRange, tarLayout, tarStream, type BundleFile, type TarLayout } from '../../src/bundle';

describe('parseRange', () => {
  test.each<[string | undefined, number, ReturnType<typeof parseRange>]>([
    [undefined, 100, undefined],
    ['bytes=0-9', 100, { start: 0, end: 9 }],
    ['bytes=10-', 100, { start: 10, end: 99 }],
    ['bytes=-10', 100, { start: 90, end: 99 }],
    ['bytes=-1000', 100, { start: 0, end: 99 }],
    ['bytes=90-1000', 100, { start: 90, end: 99 }],
    ['bytes=99-99', 100, { start: 99, end: 99 }],
    ['Bytes = 5-6', 100, { start: 5, end: 6 }],
    ['bytes=5-6,', 100, { start: 5, end: 6 }],
    ['bytes=-0', 100, 'unsatisfiable'],
    ['bytes=100-', 100, 'unsatisfiable'],
    ['bytes=100-200', 100, 'unsatisfiable'],
    ['bytes=1000-', 100, 'unsatisfiable'],
    // RFC 9110 14.1.1: an invalid range-spec means the header is ignored (200, whole body).
    ['bytes=5-2', 100, undefined],
    ['bytes=0-1,5-6', 100, undefined],
    ['bytes=-', 100, undefined],
    ['bytes=a-b', 100, undefined],
    ['bytes=1.5-2', 100, undefined],
    ['items=0-1', 100, undefined],
    ['0-1', 100, undefined],
  ])('%j of %d bytes -> %j', (header, size, expected) => {
    expect(parseRange(header, size)).toEqual(expected);
  });
});

describe('ranged tarStream', () => {
  let dir: string;
  let layout: TarLayout;
  let full: Buffer;

  async function collect(stream: Readable): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const chunk of stream) parts.push(chunk as Buffer);
    return Buffer.concat(parts);
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cartd-bundle-range-'));
    // Sizes around block edges, an empty file, a PAX name, and a manifest (a bytes body).
    const sizes = [0, 1, 511, 512, 513, 1024, 5000, 20_000, 3];
    const files: BundleFile[] = sizes.map((size, i) => {
      const source = join(dir, `f${i}`);
      writeFileSync(source, Buffer.from(Array.from({ length: size }, (_, j) => (j * 7 + i) & 0xff)));
      const path = i === 4 ? `été/${'p'.repeat(150)}/f${i}` : `d/f${i}`;
      return { path, size, mtime: 1_600_000_000 + i, source, hashtype: 'md5', hashsum: `${i}`.repeat(32).slice(0, 32) };
    });
    layout = tarLayout('root', files, { manifest: true });
    full = await collect(tarStream(layout));
    expect(full.byteLength).toBe(layout.size);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('any range equals the same slice of the whole body', async () => {
    const range = fc
      .tuple(fc.nat({ max: layout.size - 1 }), fc.nat({ max: layout.size - 1 }))
      .map(([a, b]) => ({ start: Math.min(a, b), end: Math.max(a, b) }));
    await fc.assert(
      fc.asyncProperty(range, fc.integer({ min: 50, max: 100_000 }), async (r, chunkSize) => {
        const part = await collect(tarStream(layout, r, { chunkSize }));
        expect(part.equals(full.subarray(r.start, r.end + 1))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  test('0-k then k+1- put back together is the whole body (a resumed download)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: layout.size - 2 }), async (k) => {
        const head = await collect(tarStream(layout, { start: 0, end: k }));
        const tail = await collect(tarStream(layout, parseRange(`bytes=${k + 1}-`, layout.size) as { start: number; end: number }));
        expect(Buffer.concat([head, tail]).equals(full)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  test('a range outside the body is a programming error', () => {
    expect(() => tarStream(layout, { start: 0, end: layout.size })).toThrow(RangeError);
    expect(() => tarStream(layout, { start: -1, end: 3 })).toThrow(RangeError);
  });
});
