/**
 * The tarball as users open it: GNU tar, bsdtar, and Python's tarfile in stream mode reading
 * from a pipe (as the real client reads it off the socket), plus the manifests checked by
 * md5sum -c / sha256sum -c.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { tarLayout, tarStream, type BundleFile, type TarLayout } from '../../src/bundle';

let dir: string;
let files: BundleFile[];
let layout: TarLayout;
let tarPath: string;
const ROOT = 'cart été';

function make(path: string, data: Buffer, mtime: number, hashes = true): BundleFile {
  const source = join(dir, 'src', `${files.length}`);
  writeFileSync(source, data);
  const hashtype = files.length % 3 === 0 ? 'sha256' : 'md5';
  const hashsum = createHash(hashtype).update(data).digest('hex');
  return { path, size: data.byteLength, mtime, source, ...(hashes ? { hashtype, hashsum } : {}) };
}

/** Every member we put in, as relative path -> bytes. */
function expected(): Map<string, Buffer> {
  return new Map(files.map((f) => [`${ROOT}/${f.path}`, readFileSync(f.source)]));
}

function extractDir(name: string): string {
  const out = join(dir, name);
  mkdirSync(out);
  return out;
}

function expectTree(out: string): void {
  for (const [path, bytes] of expected()) {
    expect({ path, equal: readFileSync(join(out, path)).equals(bytes) }).toEqual({ path, equal: true });
  }
  for (const f of files) expect(Math.floor(statSync(join(out, ROOT, f.path)).mtimeMs / 1000)).toBe(Math.floor(f.mtime));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cartd-bundle-readers-'));
  mkdirSync(join(dir, 'src'));
  files = [];
  const add = (path: string, data: Buffer, mtime = 1546983446.75): void => void files.push(make(path, data, mtime));
  add('1/2/3/foo.txt', Buffer.from('hello\n'));
  add('empty.bin', Buffer.alloc(0));
  add('données/été.txt', Buffer.from('accents\n'), 1_000_000_000);
  add('日本/ファイル.bin', Buffer.alloc(5000, 7));
  add(`${'a'.repeat(99)}/${'b'.repeat(99)}/${'c'.repeat(100)}`, Buffer.alloc(513, 1));
  add(Array.from({ length: 40 }, (_, i) => `${i}`.padEnd(99, 'x')).join('/'), Buffer.alloc(100, 2));
  add('sp ace/quo"te/back\\slash/x', Buffer.from('odd names\n'));
  for (let i = 0; i < 300; i += 1) add(`many/${i % 10}/f${i}`, Buffer.alloc(i * 37, i & 0xff));
  layout = tarLayout(ROOT, files, { manifest: true });
  tarPath = join(dir, 'cart.tar');
  await pipeline(tarStream(layout), createWriteStream(tarPath));
  expect(statSync(tarPath).size).toBe(layout.size);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('GNU tar lists every member with its exact size and extracts the exact bytes', () => {
  const listing = execFileSync('tar', ['-tvf', tarPath], { maxBuffer: 1 << 26 }).toString('utf8');
  for (const f of files) expect(listing).toContain(` ${f.size} `);
  const names = execFileSync('tar', ['--quoting-style=literal', '-tf', tarPath], { maxBuffer: 1 << 26 }).toString('utf8').split('\n').filter(Boolean);
  expect(names).toEqual([...files.map((f) => `${ROOT}/${f.path}`), `${ROOT}/MANIFEST.sha256`, `${ROOT}/MANIFEST.md5`]);
  const out = extractDir('gnutar');
  execFileSync('tar', ['-xf', tarPath, '-C', out]);
  expectTree(out);
});

test('bsdtar lists and extracts the exact bytes', () => {
  const names = execFileSync('bsdtar', ['-tf', tarPath], { maxBuffer: 1 << 26 }).toString('utf8').split('\n').filter(Boolean);
  expect(names).toHaveLength(files.length + 2);
  const out = extractDir('bsdtar');
  execFileSync('bsdtar', ['-xf', tarPath, '-C', out]);
  expectTree(out);
});

test("Python's tarfile in stream mode (r|) reads it straight off a pipe", async () => {
  const out = extractDir('python');
  const script = 'import sys, tarfile\nwith tarfile.open(fileobj=sys.stdin.buffer, mode="r|") as t:\n    t.extractall(sys.argv[1])\n';
  const py = spawn('python3', ['-c', script, out], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  py.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => py.on('close', resolve));
  await pipeline(tarStream(layout, undefined, { chunkSize: 4096 }), py.stdin);
  expect({ code: await exited, stderr }).toEqual({ code: 0, stderr: '' });
  expectTree(out);
});

test('md5sum -c and sha256sum -c pass on the extracted manifests', () => {
  const out = extractDir('manifests');
  execFileSync('tar', ['-xf', tarPath, '-C', out]);
  const cwd = join(out, ROOT);
  const md5 = execFileSync('md5sum', ['-c', '--strict', 'MANIFEST.md5'], { cwd }).toString();
  const sha = execFileSync('sha256sum', ['-c', '--strict', 'MANIFEST.sha256'], { cwd }).toString();
  const ok = (md5 + sha).split('\n').filter((l) => l.endsWith(': OK'));
  expect(ok).toHaveLength(files.filter((f) => f.hashsum !== undefined).length);
});
