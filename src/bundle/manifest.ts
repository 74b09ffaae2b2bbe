/**
 * Checksum manifests shipped inside a bundle, so a user can verify what they downloaded
 * with the tools they already have: `cd ROOT && md5sum -c MANIFEST.md5` (sha256sum, b2sum...).
 */

/** What a manifest needs to know about one file. */
export interface ManifestFile {
  /** Relative to the bundle's root folder. */
  readonly path: string;
  readonly mtime: number;
  readonly hashtype?: string;
  readonly hashsum?: string;
}

export interface Manifest {
  /** Relative to the root folder, e.g. `MANIFEST.md5`. */
  readonly path: string;
  readonly hashtype: string;
  readonly content: Buffer;
  /** The newest mtime of the files it lists, so the entry is as deterministic as they are. */
  readonly mtime: number;
}

/**
 * One line in the coreutils `*sum` format: `<hex>  <path>\n`. coreutils escapes a name
 * holding a backslash or newline and flags the line with a leading backslash; we do the
 * same so `-c` finds the file (the cart API rejects both, so this is belt and braces).
 */
export function manifestLine(hashsum: string, path: string): string {
  if (!/[\\\n]/.test(path)) return `${hashsum}  ${path}\n`;
  const escaped = path.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  return `\\${hashsum}  ${escaped}\n`;
}

/**
 * One manifest per hashtype present, in order of first appearance, each listing its files
 * in cart order. Files without a hash are left out. The name is `MANIFEST.<hashtype>`, or
 * `MANIFEST-2.<hashtype>`, ... when the cart itself holds that path (or a folder of it).
 */
export function buildManifests(files: readonly ManifestFile[]): Manifest[] {
  const groups = new Map<string, ManifestFile[]>();
  for (const f of files) {
    if (f.hashtype === undefined || f.hashsum === undefined) continue;
    const group = groups.get(f.hashtype) ?? [];
    group.push(f);
    groups.set(f.hashtype, group);
  }
  const taken = new Set(files.map((f) => f.path));
  const isTaken = (name: string): boolean =>
    taken.has(name) || files.some((f) => f.path.startsWith(`${name}/`));

  const manifests: Manifest[] = [];
  for (const [hashtype, group] of groups) {
    // Digest names are validated upstream; this only keeps a stray one from making folders.
    const ext = hashtype.replace(/[^A-Za-z0-9_-]/g, '_');
    let path = `MANIFEST.${ext}`;
    for (let n = 2; isTaken(path); n += 1) path = `MANIFEST-${n}.${ext}`;
    taken.add(path);
    const text = group.map((f) => manifestLine(f.hashsum ?? '', f.path)).join('');
    const mtime = group.reduce((max, f) => Math.max(max, f.mtime), 0);
    manifests.push({ path, hashtype, content: Buffer.from(text, 'utf8'), mtime });
  }
  return manifests;
}
