/** What is really on a volume's disk: files, their bytes, sampled while cartd works. */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract } from 'tar-stream';

export const MiB = 1024 * 1024;

/** Every file under `dir`, recursively (missing folder: none). */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else out.push(path.join(d, e.name));
    }
  };
  walk(dir);
  return out;
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0; // removed between listing and stat
  }
}

/**
 * Bytes of every file on the volume, blobs and temp files. Blobs are listed before temp
 * files, so a temp file renamed into place during the walk is missed rather than counted
 * twice: a sample never shows more than was there.
 */
export function volumeBytes(volumeRoot: string): number {
  let n = 0;
  for (const f of filesUnder(path.join(volumeRoot, 'blobs'))) n += sizeOf(f);
  for (const f of filesUnder(path.join(volumeRoot, 'tmp'))) n += sizeOf(f);
  return n;
}

/** Blob file names (content keys) on the volume. */
export function blobKeysOnDisk(volumeRoot: string): string[] {
  return filesUnder(path.join(volumeRoot, 'blobs'))
    .map((f) => path.basename(f))
    .sort();
}

export function tempFiles(volumeRoot: string): string[] {
  return filesUnder(path.join(volumeRoot, 'tmp'));
}

export interface Sampler {
  /** Stop sampling; every sample taken, in bytes. */
  stop(): Promise<number[]>;
}

/** Measure the volume's bytes over and over (a few ms apart) until stopped. */
export function sampleVolume(volumeRoot: string): Sampler {
  const samples: number[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      samples.push(volumeBytes(volumeRoot));
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return samples;
    },
  };
}

export function md5(data: Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

export function md5File(file: string): string {
  return md5(readFileSync(file));
}

/** Every regular member of a tarball: name -> md5 of its bytes (streamed, never held whole). */
export async function tarDigests(tar: Readable | Buffer): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const ex = extract();
  const done = (async () => {
    for await (const entry of ex) {
      const hash = createHash('md5');
      for await (const chunk of entry as AsyncIterable<Buffer>) hash.update(chunk);
      if (entry.header.type === 'file') out.set(entry.header.name, hash.digest('hex'));
    }
  })();
  await Promise.all([pipeline(Buffer.isBuffer(tar) ? Readable.from([tar]) : tar, ex), done]);
  return out;
}

/**
 * A download held open: the response's headers have arrived and its body is paused, as a
 * slow client would leave it. `finish()` reads the rest and returns its members' digests.
 */
export interface HeldDownload {
  readonly status: number;
  finish(): Promise<Map<string, string>>;
  abort(): void;
}

export function holdDownload(url: URL): Promise<HeldDownload> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      res.pause();
      resolve({
        status: res.statusCode ?? 0,
        finish: () => tarDigests(res),
        abort: () => req.destroy(),
      });
    });
    req.on('error', reject);
  });
}
