/**
 * Issue 5, acceptance 5: over HTTP, `?format=zip` passes `unzip -t`, Python's zipfile
 * testzip and bsdtar; `?manifest=1` adds MANIFEST.<hashtype> files that `md5sum -c`,
 * `sha1sum -c` and `sha256sum -c` accept after extraction (zip and tar); without it the
 * archive holds exactly the cart's files.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startArchiveServer, type ArchiveServer } from '../support/archive-server';
import { archiveFile, startCartd, type CartdHarness, type TestFile } from '../support/cartd-harness';
import { get, pythonBin, stageCart } from '../support/download-client';
import { readTree } from '../support/tar-readers';

let archive: ArchiveServer;
let cartd: CartdHarness;
let dir: string;
let files: TestFile[];

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'cartd-zip-e2e-'));
  archive = await startArchiveServer();
  cartd = await startCartd({ archive });
  files = [
    await archiveFile(archive, 'z-1', '1/2/3/foo.txt', 'foo contents\n'),
    await archiveFile(archive, 'z-2', 'données/été.csv', 'a,b\n1,2\n', { hashtype: 'sha256' }),
    await archiveFile(archive, 'z-3', 'empty.dat', Buffer.alloc(0)),
    await archiveFile(archive, 'z-4', '日本/big.bin', Buffer.alloc(1024 * 1024 + 17, 0x5a), { hashtype: 'sha1' }),
    await archiveFile(archive, 'z-5', 'with space/x y.txt', 'spaces\n', { hashtype: 'sha256' }),
  ];
  await stageCart(cartd, 'zipped', files);
});
afterAll(async () => {
  await cartd?.close();
  await archive?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function save(query: string, name: string): Promise<string> {
  const got = await get(cartd, query);
  expect(got.code).toBe(200);
  const file = path.join(dir, name);
  writeFileSync(file, got.body);
  return file;
}

function python(script: string, ...args: string[]): string {
  const r = spawnSync(pythonBin(), ['-c', script, ...args]);
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr.toString()}`);
  return r.stdout.toString('utf8');
}

/** `<tool> -c MANIFEST` inside `root`: exit code and output. */
function checkSums(tool: string, root: string, manifest: string): { code: number | null; out: string } {
  const r = spawnSync(tool, ['-c', manifest], { cwd: root });
  return { code: r.status, out: r.stdout.toString('utf8') + r.stderr.toString('utf8') };
}

const MANIFESTS: [string, string][] = [
  ['md5sum', 'MANIFEST.md5'],
  ['sha256sum', 'MANIFEST.sha256'],
  ['sha1sum', 'MANIFEST.sha1'],
];

test('the zip passes unzip -t, Python testzip and bsdtar, and holds exactly the files and manifests', async () => {
  const got = await get(cartd, 'zipped?format=zip&filename=z.zip&manifest=1');
  expect(got.headers.get('content-type')).toBe('application/zip');
  expect(got.headers.get('content-disposition')).toBe('attachment; filename=z.zip');
  const zip = await save('zipped?format=zip&filename=z.zip&manifest=1', 'm.zip');

  const unzip = spawnSync('unzip', ['-t', zip]);
  expect(unzip.status).toBe(0);
  expect(unzip.stdout.toString()).toMatch(/No errors detected/);
  const names = JSON.parse(python('import sys, zipfile, json\nz = zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nprint(json.dumps(z.namelist()))', zip)) as string[];
  const expected = [...files.map((f) => `z/${f.path}`), 'z/MANIFEST.md5', 'z/MANIFEST.sha256', 'z/MANIFEST.sha1'];
  expect(names.sort()).toEqual(expected.sort());
  const bsd = execFileSync('bsdtar', ['-tf', zip]).toString('utf8').split('\n').filter((l) => l !== '');
  expect(bsd.sort()).toEqual(expected.sort());
});

test('extracted zip: md5sum -c, sha256sum -c and sha1sum -c accept every file, and catch a changed one', async () => {
  const zip = await save('zipped?format=zip&filename=z.zip&manifest=1', 'c.zip');
  const out = path.join(dir, 'zip-out');
  python('import sys, zipfile\nzipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])', zip, out);
  const root = path.join(out, 'z');
  const tree = readTree(root);
  for (const f of files) expect(tree.get(f.path)).toEqual(f.data);
  for (const [tool, manifest] of MANIFESTS) {
    const r = checkSums(tool, root, manifest);
    expect(r).toMatchObject({ code: 0 });
    expect(r.out).not.toMatch(/FAILED/);
  }
  expect(checkSums('md5sum', root, 'MANIFEST.md5').out).toBe('1/2/3/foo.txt: OK\nempty.dat: OK\n');
  // The check is real: a changed file fails it.
  writeFileSync(path.join(root, 'données/été.csv'), 'a,b\n1,3\n');
  expect(checkSums('sha256sum', root, 'MANIFEST.sha256')).toMatchObject({ code: 1, out: expect.stringMatching(/données\/été\.csv: FAILED/) as unknown as string });
});

test('the tarball with ?manifest=1: GNU tar extracts it and every *sum -c passes', async () => {
  const tar = await save('zipped?filename=t.tar&manifest=1', 't.tar');
  const out = path.join(dir, 'tar-out');
  execFileSync('mkdir', ['-p', out]);
  execFileSync('tar', ['-xf', tar, '-C', out]);
  for (const [tool, manifest] of MANIFESTS) {
    const r = checkSums(tool, path.join(out, 't'), manifest);
    expect(r).toMatchObject({ code: 0 });
    expect(r.out.match(/: OK/g)?.length).toBe(files.filter((f) => manifest.endsWith(f.hashtype)).length);
  }
});

test('without ?manifest the zip and the tarball hold exactly the cart\'s files', async () => {
  const zip = await save('zipped?format=zip&filename=p.zip', 'p.zip');
  const names = JSON.parse(python('import sys, zipfile, json\nprint(json.dumps(zipfile.ZipFile(sys.argv[1]).namelist()))', zip)) as string[];
  expect(names.sort()).toEqual(files.map((f) => `p/${f.path}`).sort());
  const tar = await save('zipped?filename=p.tar', 'p.tar');
  const listed = execFileSync('tar', ['-tf', tar]).toString('utf8').split('\n').filter((l) => l !== '');
  expect(listed.sort()).toEqual(files.map((f) => `p/${f.path}`).sort());
});
