/**
 * writeVerified on real files: the file on disk holds exactly the bytes sent, whatever the
 * chunking and the digest, and a wrong, short or cancelled transfer is refused with the
 * message a user reads on the cart.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { CancelledError, TransferError } from '../../src/core/errors';
import { writeVerified } from '../../src/volume/write-verified';

const MiB = 1024 * 1024;
let dir: string;
let n = 0;
beforeAll(() => (dir = mkdtempSync(path.join(tmpdir(), 'cartd-write-verified-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `data` as a stream of chunks of uneven sizes, as sockets deliver them. */
function chunked(data: Buffer, sizes = [1, 7_000, 65_536, 300_001, 16_384]): Readable {
  const parts: Buffer[] = [];
  for (let at = 0, i = 0; at < data.length; i++) {
    const len = sizes[i % sizes.length] ?? 1;
    parts.push(data.subarray(at, at + len));
    at += len;
  }
  return Readable.from(parts);
}

const digest = (hashtype: string, data: Buffer): string => createHash(hashtype).update(data).digest('hex');
const temp = (): string => path.join(dir, `f${n++}`);

describe.each([
  ['a file smaller than one write batch', 200_000],
  ['a file of several write batches', 5 * MiB + 123],
])('%s', (_name, size) => {
  const data = randomBytes(size);

  test.each(['md5', 'sha1', 'sha256', 'sha512'])('%s: the file holds exactly the bytes sent', async (hashtype) => {
    const file = temp();
    await writeVerified(chunked(data), file, { hashtype, hashsum: digest(hashtype, data), size, mtime: 1_546_983_446 });
    expect(readFileSync(file).equals(data)).toBe(true);
  });

  test('one wrong byte: a retryable hash mismatch naming both digests', async () => {
    const wrong = Buffer.from(data);
    wrong[size - 10] = (wrong[size - 10] ?? 0) ^ 0xff;
    const err = await writeVerified(chunked(wrong), temp(), { hashtype: 'sha1', hashsum: digest('sha1', data), size }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransferError);
    expect((err as TransferError).retryable).toBe(true);
    expect((err as Error).message).toBe(`hash mismatch: expected sha1 ${digest('sha1', data)}, got ${digest('sha1', wrong)}`);
  });

  test('cut short: refused with the count of bytes received', async () => {
    const err = await writeVerified(chunked(data.subarray(0, size - 1)), temp(), { hashtype: 'md5', hashsum: digest('md5', data), size }).catch((e: unknown) => e);
    expect((err as Error).message).toBe(`transfer cut short: ${size - 1} of ${size} bytes`);
  });
});

test('sixteen large files at once, with different digests, each verified against its own bytes', async () => {
  const types = ['md5', 'sha1', 'sha256', 'sha3_256'];
  const nodeNames: Record<string, string> = { sha3_256: 'sha3-256' };
  const files = Array.from({ length: 16 }, (_, i) => ({ data: randomBytes(2 * MiB + i * 4099), hashtype: types[i % types.length] ?? 'md5', file: temp() }));
  // Every fourth is wrong in its last byte: its neighbours' hashes must not be affected.
  const results = await Promise.allSettled(
    files.map(({ data, hashtype, file }, i) => {
      const sent = i % 4 === 3 ? Buffer.concat([data.subarray(0, -1), Buffer.from([(data.at(-1) ?? 0) ^ 1])]) : data;
      return writeVerified(chunked(sent, [65_536, 1_000, 250_000]), file, { hashtype, hashsum: digest(nodeNames[hashtype] ?? hashtype, data), size: data.length });
    }),
  );
  expect(results.map((r) => r.status)).toEqual(files.map((_, i) => (i % 4 === 3 ? 'rejected' : 'fulfilled')));
  for (const [i, f] of files.entries()) if (i % 4 !== 3) expect(readFileSync(f.file).equals(f.data)).toBe(true);
});

test('cancelled mid-file: CancelledError, and the next file still verifies', async () => {
  const data = randomBytes(4 * MiB);
  const abort = new AbortController();
  const source = new Readable({ read() {} });
  const writing = writeVerified(source, temp(), { hashtype: 'sha256', hashsum: digest('sha256', data), size: data.length, signal: abort.signal });
  source.push(data.subarray(0, 2 * MiB));
  await new Promise((r) => setTimeout(r, 20));
  abort.abort();
  source.push(data.subarray(2 * MiB, 3 * MiB));
  expect(await writing.catch((e: unknown) => e)).toBeInstanceOf(CancelledError);

  const file = temp();
  await writeVerified(chunked(data), file, { hashtype: 'sha256', hashsum: digest('sha256', data), size: data.length });
  expect(readFileSync(file).equals(data)).toBe(true);
});
