/**
 * Files over 8 GiB: the ustar size field (11 octal digits) cannot hold them, tar-stream writes
 * base-256 instead, and every reader must get the exact size back or the archive is garbage
 * from that member on. The source is a sparse 9 GiB file, so nothing big touches the disk.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { tarLayout, tarStream, type TarLayout } from '../../src/bundle';

const NINE_GIB = 9 * 1024 ** 3;
let dir: string;
let layout: TarLayout;
let tarPath: string;

async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

beforeAll(async () => {
  // tmpfs serves a hole from the shared zero page (~40 GB/s here); a sparse file on the
  // disk's filesystem fills 9 GiB of page cache with zeros on first read (1.4 GB/s or worse).
  dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'cartd-bundle-large-'));
  const big = join(dir, 'big');
  writeFileSync(big, '');
  truncateSync(big, NINE_GIB);
  const after = join(dir, 'after');
  writeFileSync(after, 'after\n');
  layout = tarLayout('r', [
    { path: 'grand/été.bin', size: NINE_GIB, mtime: 1_700_000_000, source: big },
    { path: 'after.txt', size: 6, mtime: 1_700_000_000, source: after },
  ]);

  // The whole tarball as a sparse file: the bytes around the big body come from ranged
  // streams written at their offsets; the body itself is a hole, i.e. the zeros it holds.
  tarPath = join(dir, 'cart.tar');
  const first = layout.entries[0];
  const bodyStart = (first?.offset ?? 0) + (first?.headerSize ?? 0);
  const bodyEnd = bodyStart + NINE_GIB;
  const out = await open(tarPath, 'w');
  try {
    await out.write(await collect(tarStream(layout, { start: 0, end: bodyStart - 1 })), 0, undefined, 0);
    await out.write(await collect(tarStream(layout, { start: bodyEnd, end: layout.size - 1 })), 0, undefined, bodyEnd);
    await out.truncate(layout.size);
  } finally {
    await out.close();
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('the size field is base-256, as tar-stream writes sizes of 8 GiB and more', async () => {
  // The non-ASCII name puts a PAX header first, so the file's own ustar block is the third.
  const first = layout.entries[0];
  const headers = await collect(tarStream(layout, { start: 0, end: (first?.headerSize ?? 0) - 1 }));
  expect(headers[headers.byteLength - 512 + 124]).toBe(0x80);
});

test('GNU tar and bsdtar read exactly 9 GiB and find the next member right after it', () => {
  for (const tar of ['tar', 'bsdtar']) {
    const listing = execFileSync(tar, ['-tvf', tarPath]).toString('utf8').trim().split('\n');
    expect(listing).toHaveLength(2);
    expect(listing[0]).toMatch(new RegExp(` ${NINE_GIB} .* r/grand/`));
    expect(listing[1]).toMatch(/ 6 .* r\/after\.txt$/);
    expect(execFileSync(tar, ['-xOf', tarPath, 'r/after.txt']).toString()).toBe('after\n');
  }
});

test("Python's tarfile reads exactly 9 GiB and the member after it", () => {
  const script = [
    'import sys, tarfile',
    'with tarfile.open(sys.argv[1]) as t:',
    '    ms = t.getmembers()',
    '    print([(m.name, m.size) for m in ms])',
    "    print(t.extractfile('r/after.txt').read().decode(), end='')",
  ].join('\n');
  const out = execFileSync('python3', ['-c', script, tarPath]).toString();
  expect(out).toBe(`[('r/grand/été.bin', ${NINE_GIB}), ('r/after.txt', 6)]\nafter\n`);
});

/**
 * The real thing end to end: every byte through a pipe into `tar -tv`, as a download would.
 * GNU tar's default 10 KiB records cost it seconds more; 1 MiB records (-b 2048, and -B
 * because a pipe returns short reads) keep the test at a few seconds, so it stays in
 * `npm test` (measured 4-20 s on this 2-core machine, depending on what else runs).
 */
test('slow: all 9 GiB streamed through a pipe into GNU tar -tv', async () => {
  const started = Date.now();
  const tar = spawn('tar', ['-b', '2048', '-B', '-tvf', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  tar.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  tar.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => tar.on('close', resolve));
  await pipeline(tarStream(layout, undefined, { chunkSize: 4 << 20 }), tar.stdin);
  expect({ code: await exited, stderr }).toEqual({ code: 0, stderr: '' });
  expect(stdout).toContain(` ${NINE_GIB} `);
  expect(stdout).toContain('r/after.txt');
  console.log(`9 GiB through tar -tv took ${((Date.now() - started) / 1000).toFixed(1)} s`);
}, 180_000);
