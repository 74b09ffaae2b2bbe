/** Open a tarball the way users do: GNU tar, bsdtar and Python's tarfile in stream mode (`r|`). */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export type Reader = 'gnutar' | 'bsdtar' | 'python';

/** Extract `tar` with the given reader into a fresh folder; returns every file's relative path -> bytes. */
export function extractWith(reader: Reader, tar: Buffer): Map<string, Buffer> {
  const out = mkdtempSync(path.join(os.tmpdir(), `cartd-x-${reader}-`));
  if (reader === 'python') {
    const script = 'import sys, tarfile\nwith tarfile.open(fileobj=sys.stdin.buffer, mode="r|") as t:\n    t.extractall(sys.argv[1])\n';
    const r = spawnSync('python3', ['-c', script, out], { input: tar, maxBuffer: 1 << 30 });
    if (r.status !== 0) throw new Error(`python tarfile failed: ${r.stderr.toString()}`);
  } else {
    execFileSync(reader === 'gnutar' ? 'tar' : 'bsdtar', ['-xf', '-', '-C', out], { input: tar, maxBuffer: 1 << 30 });
  }
  return readTree(out);
}

export function readTree(root: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else files.set(path.relative(root, full).split(path.sep).join('/'), readFileSync(full));
    }
  };
  walk(root);
  return files;
}

/** Member names as GNU tar lists them. */
export function listWithGnuTar(tar: Buffer): string[] {
  return execFileSync('tar', ['-tf', '-'], { input: tar, maxBuffer: 1 << 30 })
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '');
}
