/**
 * Puts a workload's files into the archive test server's folder (a file `id` is stored as
 * `dir/<encodeURIComponent(id)>`, see tests/support/archive-store.ts) and works out each
 * file's digest. Every file has distinct bytes, so cartd's content-addressed volume cannot
 * collapse two of them into one transfer.
 */
import { createHash, randomBytes } from 'node:crypto';
import { open, rm, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MiB, type BenchCart, type BenchFile } from './workloads';

export interface StoredFile extends BenchFile {
  readonly hashtype: string;
  readonly hashsum: string;
}

export interface StoredCart {
  readonly uid: string;
  readonly files: readonly StoredFile[];
}

/** Random bytes the files are cut from (one draw; the per-file stamp makes each file unique). */
const POOL = randomBytes(8 * MiB);
const ZEROS = Buffer.alloc(MiB);

export function archivePath(dir: string, id: string): string {
  return path.join(dir, encodeURIComponent(id));
}

/** Bytes `[at, at + n)` of file `id`: a slice of the pool whose first 20 bytes stamp (id, offset). */
function chunkOf(id: string, at: number, n: number): Buffer {
  const stamp = createHash('sha1').update(`${id}@${at}`).digest();
  const start = stamp.readUInt32BE(0) % (POOL.length - n + 1);
  const chunk = Buffer.from(POOL.subarray(start, start + n));
  stamp.copy(chunk, 0, 0, Math.min(stamp.length, n));
  return chunk;
}

async function writeRandom(dir: string, f: BenchFile, hashtype: string): Promise<string> {
  const hash = createHash(hashtype);
  if (f.size <= MiB) {
    const data = chunkOf(f.id, 0, f.size);
    hash.update(data);
    await writeFile(archivePath(dir, f.id), data);
    return hash.digest('hex');
  }
  const fh = await open(archivePath(dir, f.id), 'w');
  try {
    for (let at = 0; at < f.size; at += MiB) {
      const data = chunkOf(f.id, at, Math.min(MiB, f.size - at));
      hash.update(data);
      await fh.write(data, 0, data.length, at);
    }
  } finally {
    await fh.close();
  }
  return hash.digest('hex');
}

const zeroDigests = new Map<string, string>();

/** The digest of `size` zero bytes (what a sparse file reads as). */
export function zerosDigest(size: number, hashtype: string): string {
  const key = `${hashtype}/${size}`;
  const known = zeroDigests.get(key);
  if (known !== undefined) return known;
  const hash = createHash(hashtype);
  for (let left = size; left > 0; left -= MiB) hash.update(left >= MiB ? ZEROS : ZEROS.subarray(0, left));
  const digest = hash.digest('hex');
  zeroDigests.set(key, digest);
  return digest;
}

async function store(dir: string, f: BenchFile, hashtype: string): Promise<StoredFile> {
  if (f.content === 'sparse') {
    await writeFile(archivePath(dir, f.id), '');
    await truncate(archivePath(dir, f.id), f.size);
    return { ...f, hashtype, hashsum: zerosDigest(f.size, hashtype) };
  }
  return { ...f, hashtype, hashsum: await writeRandom(dir, f, hashtype) };
}

/** Run `fn` over `items`, `limit` at a time, keeping the order of the results. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
    }
  });
  await Promise.all(lanes);
  return out;
}

/** Write the carts' files into the archive folder; returns them with their digests. */
export async function storeCarts(dir: string, carts: readonly BenchCart[], hashtype: string): Promise<StoredCart[]> {
  const out: StoredCart[] = [];
  for (const cart of carts) out.push({ uid: cart.uid, files: await mapLimit(cart.files, 16, (f) => store(dir, f, hashtype)) });
  return out;
}

/** Remove the carts' files from the archive folder (frees the disk between workloads). */
export async function removeCarts(dir: string, carts: readonly StoredCart[]): Promise<void> {
  for (const cart of carts) await mapLimit(cart.files, 32, (f) => rm(archivePath(dir, f.id), { force: true }));
}

/** The POST body of a cart, as a Pacifica client sends it. */
export function cartBody(cart: StoredCart): string {
  return JSON.stringify({ fileids: cart.files.map((f) => ({ id: f.id, path: f.path, hashtype: f.hashtype, hashsum: f.hashsum })), bundle: false });
}
