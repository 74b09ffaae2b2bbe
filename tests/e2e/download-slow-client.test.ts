/**
 * Downloads read staged files into a few buffers that are read into again once the socket
 * has taken their bytes. A client that reads slowly keeps the socket full, so a buffer
 * handed back too early would be overwritten while still queued: these tests read every
 * byte of tarballs of random data that way, whole and from the middle, and compare. With
 * reads of 4 KiB (`transfer_size`), several reads sit in the socket's queue at once.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { startArchiveServer, type ArchiveServer } from '../support/archive-server';
import { archiveFile, startCartd, type CartdHarness, type TestFile } from '../support/cartd-harness';
import { get, pythonMembers, sha256, stageCart } from '../support/download-client';

const MiB = 1024 * 1024;
let archive: ArchiveServer;
let files: { file: TestFile; data: Buffer }[];

beforeAll(async () => {
  archive = await startArchiveServer();
  // Random bytes: any chunk sent from a buffer that was already read into again shows.
  const sizes = [6 * MiB, 3 * MiB + 4099, 100, 5 * MiB];
  files = await Promise.all(
    sizes.map(async (n, i) => {
      const data = randomBytes(n);
      return { file: await archiveFile(archive, `slow-${i}`, `s/${i}.bin`, data), data };
    }),
  );
});
afterAll(async () => {
  await archive?.close();
});

describe.each([
  ['1 MiB (the default)', '1048576'],
  ['4 KiB', '4096'],
])('reads of %s', (_label, transferSize) => {
  let cartd: CartdHarness;
  beforeAll(async () => {
    cartd = await startCartd({ archive, overrides: { 'cartd.transfer_size': transferSize } });
    await stageCart(cartd, 'slow', files.map((f) => f.file));
  });
  afterAll(async () => {
    await cartd?.close();
  });

  /** GET that pauses 2 ms after every chunk it receives, so the server's socket stays full. */
  function slowGet(pathAndQuery: string, headers: Record<string, string> = {}): Promise<{ code: number; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const req = http.get(new URL(pathAndQuery, cartd.url), { agent: false, headers }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => {
          parts.push(d);
          res.pause();
          setTimeout(() => res.resume(), 2);
        });
        res.on('end', () => resolve({ code: res.statusCode ?? 0, body: Buffer.concat(parts) }));
        res.on('error', reject);
      });
      req.on('error', reject);
    });
  }

  test('a slow reader gets every byte of a tarball of random data, each file as staged', async () => {
    const slow = await slowGet('slow?filename=s.tar');
    expect(slow.code).toBe(200);
    const members = pythonMembers(slow.body);
    for (const { file, data } of files) expect(members.get(`s/${file.path}`)).toBe(sha256(data));
    // The same bytes as a client that reads as fast as it can.
    const fast = await get(cartd, 'slow?filename=s.tar');
    expect(sha256(slow.body)).toBe(sha256(fast.body));
  });

  test('several slow readers at once, from the middle of the tarball, get the same bytes as the whole', async () => {
    const whole = await get(cartd, 'slow?filename=s.tar');
    const starts = [1, MiB - 7, 5 * MiB + 123, 9 * MiB];
    const ranged = await Promise.all(starts.map((start) => slowGet('slow?filename=s.tar', { Range: `bytes=${start}-` })));
    ranged.forEach((r, i) => {
      expect(r.code).toBe(206);
      expect(sha256(r.body)).toBe(sha256(whole.body.subarray(starts[i])));
    });
  });
});
