/**
 * Issue 5, acceptance 2: over HTTP, any byte range of the tarball is the same slice of the
 * whole body (property test, one cart reused), `0-k` + `k+1-` rebuild it byte for byte,
 * an unsatisfiable range is 416 with `Content-Range: bytes *\/SIZE`, and If-Range with a
 * stale ETag gets the whole 200.
 */
import fc from 'fast-check';
import { startArchiveServer, type ArchiveServer } from '../support/archive-server';
import { archiveFile, startCartd, type CartdHarness } from '../support/cartd-harness';
import { get, patterned, sha256, stageCart, type Got } from '../support/download-client';

let archive: ArchiveServer;
let cartd: CartdHarness;
let full: Buffer;
let etag: string;
const URL_PATH = 'ranges?filename=r.tar';

beforeAll(async () => {
  archive = await startArchiveServer();
  // Reads of an odd size, so ranges cross read boundaries as well as entry boundaries.
  cartd = await startCartd({ archive, overrides: { 'cartd.transfer_size': '100003' } });
  const sizes = [0, 1, 511, 512, 513, 1024, 4097, 65_536, 100_003, 250_000, 1_048_579, 7, 0, 3000];
  const files = await Promise.all(
    sizes.map((n, i) => archiveFile(archive, `rng-${i}`, i === 3 ? `${'long-folder-name/'.repeat(12)}x.bin` : i === 5 ? `données/日本-${i}.bin` : `f/${i}.bin`, patterned(n, i))),
  );
  await stageCart(cartd, 'ranges', files);
  const whole = await get(cartd, URL_PATH);
  expect(whole.code).toBe(200);
  full = whole.body;
  etag = whole.headers.get('etag') ?? '';
  expect(Number(whole.headers.get('content-length'))).toBe(full.length);
});
afterAll(async () => {
  await cartd?.close();
  await archive?.close();
});

type Spec = { readonly header: string; readonly start: number; readonly end: number } | { readonly header: string; readonly unsatisfiable: true };

/** What RFC 9110 says `header` selects from a body of `size` bytes. */
function rangeSpec(size: number): fc.Arbitrary<Spec> {
  const closed = fc.tuple(fc.nat({ max: size - 1 }), fc.nat({ max: size + 5000 })).map(([a, b]): Spec => {
    const [start, last] = a <= b ? [a, b] : [b, a];
    return { header: `bytes=${start}-${last}`, start, end: Math.min(last, size - 1) };
  });
  const open = fc.nat({ max: size + 2000 }).map((a): Spec => (a >= size ? { header: `bytes=${a}-`, unsatisfiable: true } : { header: `bytes=${a}-`, start: a, end: size - 1 }));
  const suffix = fc.integer({ min: 1, max: size + 2000 }).map((n): Spec => ({ header: `bytes=-${n}`, start: Math.max(0, size - n), end: size - 1 }));
  const pastEnd = fc.tuple(fc.integer({ min: size, max: size * 2 }), fc.nat({ max: 1000 })).map(([a, d]): Spec => ({ header: `bytes=${a}-${a + d}`, unsatisfiable: true }));
  return fc.oneof({ arbitrary: closed, weight: 4 }, { arbitrary: open, weight: 2 }, { arbitrary: suffix, weight: 2 }, { arbitrary: pastEnd, weight: 1 });
}

function expectSlice(got: Got, start: number, end: number): void {
  expect(got.code).toBe(206);
  expect(got.headers.get('content-range')).toBe(`bytes ${start}-${end}/${full.length}`);
  expect(Number(got.headers.get('content-length'))).toBe(end - start + 1);
  expect(got.headers.get('etag')).toBe(etag);
  expect(got.body.length).toBe(end - start + 1);
  expect(got.body.equals(full.subarray(start, end + 1))).toBe(true);
}

test('300 random ranges: each 206 body is that slice of the whole, each unsatisfiable one a 416', async () => {
  let partial = 0;
  let refused = 0;
  await fc.assert(
    fc.asyncProperty(rangeSpec(full.length), async (spec) => {
      const got = await get(cartd, URL_PATH, { Range: spec.header });
      if ('unsatisfiable' in spec) {
        expect(got.code).toBe(416);
        expect(got.headers.get('content-range')).toBe(`bytes */${full.length}`);
        refused += 1;
      } else {
        expectSlice(got, spec.start, spec.end);
        partial += 1;
      }
    }),
    { numRuns: 300 },
  );
  // Both kinds were really tried.
  expect(partial).toBeGreaterThan(200);
  expect(refused).toBeGreaterThan(10);
});

test('for 100 random k, bytes=0-k then bytes=(k+1)- rebuild the whole body byte for byte', async () => {
  await fc.assert(
    fc.asyncProperty(fc.nat({ max: full.length - 2 }), async (k) => {
      const head = await get(cartd, URL_PATH, { Range: `bytes=0-${k}` });
      const tail = await get(cartd, URL_PATH, { Range: `bytes=${k + 1}-` });
      expectSlice(head, 0, k);
      expectSlice(tail, k + 1, full.length - 1);
      expect(sha256(Buffer.concat([head.body, tail.body]))).toBe(sha256(full));
    }),
    { numRuns: 100 },
  );
});

test('If-Range: the current ETag gets the range, a stale one (or a date) gets the whole 200', async () => {
  expectSlice(await get(cartd, URL_PATH, { Range: 'bytes=100-199', 'If-Range': etag }), 100, 199);
  for (const stale of [`"${'0'.repeat(64)}"`, 'Wed, 21 Oct 2015 07:28:00 GMT']) {
    const got = await get(cartd, URL_PATH, { Range: 'bytes=100-199', 'If-Range': stale });
    expect(got.code).toBe(200);
    expect(got.headers.get('content-range')).toBeNull();
    expect(Number(got.headers.get('content-length'))).toBe(full.length);
    expect(got.body.equals(full)).toBe(true);
  }
});

test('several ranges, or an invalid one, are answered with the whole body; bytes=-0 is 416', async () => {
  for (const header of ['bytes=0-10,20-30', 'bytes=50-20', 'items=0-5']) {
    const got = await get(cartd, URL_PATH, { Range: header });
    expect(got.code).toBe(200);
    expect(got.body.equals(full)).toBe(true);
  }
  const zero = await get(cartd, URL_PATH, { Range: 'bytes=-0' });
  expect(zero.code).toBe(416);
  expect(zero.headers.get('content-range')).toBe(`bytes */${full.length}`);
  expect(JSON.parse(zero.body.toString())).toMatchObject({ status: 'Range Not Satisfiable' });
});

test('a zip is never ranged: Range gets the whole zip, without Accept-Ranges', async () => {
  const plain = await get(cartd, 'ranges?filename=r.zip&format=zip');
  const ranged = await get(cartd, 'ranges?filename=r.zip&format=zip', { Range: 'bytes=0-9' });
  expect(ranged.code).toBe(200);
  expect(ranged.headers.get('accept-ranges')).toBeNull();
  expect(ranged.body.length).toBe(plain.body.length);
  expect(ranged.body.subarray(0, 4).toString('latin1')).toBe('PK\x03\x04');
});
