/**
 * The zip download, opened with unzip, bsdtar and Python's zipfile. zipStream runs in a
 * child `node` (loading src/bundle through a tiny TypeScript transpile hook) so the child
 * can count its own open descriptors in /proc/self/fd.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { BundleFile } from '../../src/bundle';

const CHILD = `
const fs = require('node:fs');
const ts = require(${JSON.stringify(require.resolve('typescript'))});
require.extensions['.ts'] = (m, file) => {
  const options = { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true };
  m._compile(ts.transpileModule(fs.readFileSync(file, 'utf8'), { compilerOptions: options, fileName: file }).outputText, file);
};
const { zipStream } = require(${JSON.stringify(resolve(__dirname, '../../src/bundle/zip.ts'))});
const [mode, json] = process.argv.slice(1);
const { root, files, out, dir } = JSON.parse(json);
const openInDir = () => fs.readdirSync('/proc/self/fd').filter((fd) => {
  try { return fs.readlinkSync('/proc/self/fd/' + fd).startsWith(dir); } catch { return false; }
}).length;
const stream = zipStream(root, files, { manifest: true, chunkSize: 64 * 1024 });
if (mode === 'write') {
  stream.pipe(fs.createWriteStream(out)).on('close', () => console.log('written'));
  stream.on('error', (e) => { console.log('error ' + (e.code || e.name)); process.exitCode = 1; });
} else {
  // Read into the middle of the 2 MB file (the others hold a few bytes each), then go away
  // as a disconnecting client does.
  let bytes = 0;
  let gone = false;
  stream.on('data', (chunk) => {
    bytes += chunk.length;
    if (!gone && bytes > 512 * 1024) {
      gone = true;
      const during = openInDir();
      stream.destroy();
      stream.on('close', () => setTimeout(() => console.log(JSON.stringify({ during, after: openInDir() })), 50));
    }
  });
}
`;

let dir: string;
let files: BundleFile[];
const ROOT = 'cart';

function runChild(mode: 'write' | 'destroy', out = ''): string {
  return execFileSync(process.execPath, ['-e', CHILD, mode, JSON.stringify({ root: ROOT, files, out, dir })]).toString().trim();
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cartd-bundle-zip-'));
  mkdirSync(join(dir, 'src'));
  const specs: [string, Buffer][] = [
    ['1/2/3/foo.txt', Buffer.from('hello\n')],
    ['empty.bin', Buffer.alloc(0)],
    ['données/été.txt', Buffer.from('accents\n')],
    ['日本/ファイル.bin', Buffer.alloc(2_000_000, 9)],
    [`${'long/'.repeat(60)}end.txt`, Buffer.from('deep\n')],
  ];
  files = specs.map(([path, data], i) => {
    const source = join(dir, 'src', `${i}`);
    writeFileSync(source, data);
    const hashtype = i % 2 ? 'sha256' : 'md5';
    return { path, size: data.byteLength, mtime: 1_546_983_446, source, hashtype, hashsum: createHash(hashtype).update(data).digest('hex') };
  });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a written zip', () => {
  let zip: string;
  beforeAll(() => {
    zip = join(dir, 'cart.zip');
    expect(runChild('write', zip)).toBe('written');
  });

  test('unzip -t finds no errors', () => {
    expect(execFileSync('unzip', ['-t', zip]).toString()).toContain('No errors detected');
  });

  test('bsdtar lists every member under the root folder, manifests last', () => {
    const names = execFileSync('bsdtar', ['-tf', zip]).toString('utf8').trim().split('\n');
    expect(names).toEqual([...files.map((f) => `${ROOT}/${f.path}`), `${ROOT}/MANIFEST.md5`, `${ROOT}/MANIFEST.sha256`]);
  });

  test("Python's zipfile: testzip() is clean, UTF-8 names, exact bytes", () => {
    const script = [
      'import json, sys, zipfile',
      'z = zipfile.ZipFile(sys.argv[1])',
      'print(json.dumps({"bad": z.testzip(), "names": z.namelist(), "sizes": [i.file_size for i in z.infolist()]}))',
    ].join('\n');
    const result = JSON.parse(execFileSync('python3', ['-c', script, zip]).toString()) as { bad: null; names: string[]; sizes: number[] };
    expect(result.bad).toBeNull();
    expect(result.names.slice(0, files.length)).toEqual(files.map((f) => `${ROOT}/${f.path}`));
    expect(result.sizes.slice(0, files.length)).toEqual(files.map((f) => f.size));
  });

  test('is zip64 (forced), so entries and archives over 4 GiB work', () => {
    expect(readFileSync(zip).includes(Buffer.from([0x50, 0x4b, 0x06, 0x06]))).toBe(true);
  });

  test('unzip extracts the exact bytes and md5sum -c / sha256sum -c pass', () => {
    const out = join(dir, 'unzipped');
    execFileSync('unzip', ['-q', zip, '-d', out]);
    for (const f of files) expect(readFileSync(join(out, ROOT, f.path)).equals(readFileSync(f.source))).toBe(true);
    const mtime = statSync(join(out, ROOT, files[0]?.path ?? '')).mtimeMs / 1000;
    expect(Math.abs(mtime - 1_546_983_446)).toBeLessThanOrEqual(2); // DOS time: 2 s steps
    const cwd = join(out, ROOT);
    execFileSync('md5sum', ['-c', '--strict', 'MANIFEST.md5'], { cwd });
    execFileSync('sha256sum', ['-c', '--strict', 'MANIFEST.sha256'], { cwd });
  });
});

test('destroying the zip stream mid-file closes the file it was reading', () => {
  const { during, after } = JSON.parse(runChild('destroy')) as { during: number; after: number };
  expect(during).toBe(1);
  expect(after).toBe(0);
});

test('a missing source file errors the zip stream', () => {
  const gone = files[2]?.source ?? '';
  const keep = readFileSync(gone);
  unlinkSync(gone);
  try {
    let output = '';
    try {
      runChild('write', join(dir, 'broken.zip'));
    } catch (e) {
      output = String((e as { stdout?: Buffer }).stdout ?? '');
    }
    expect(output.trim()).toBe('error ENOENT');
  } finally {
    writeFileSync(gone, keep);
  }
});
