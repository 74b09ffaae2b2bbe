/**
 * The same bundle as a zip, for users whose tools prefer it. Stored (no compression: science
 * data rarely shrinks and it would cost a core per download), always zip64 so entries and
 * archives over 4 GiB work. Its size is not known up front, so it goes out chunked, no Range.
 */
import type { EventEmitter } from 'node:events';
import { PassThrough, Readable, addAbortSignal } from 'node:stream';
import archiver from 'archiver';
import { readFileSlice } from './file-slice';
import { FILE_MODE, assertSafeBundle, type BundleFile } from './layout';
import { buildManifests } from './manifest';

export interface ZipStreamOptions {
  /** Add `ROOT/MANIFEST.<hashtype>` files as the tarball does. */
  readonly manifest?: boolean;
  /** Largest read from disk; default 1 MiB. */
  readonly chunkSize?: number;
  /** Aborting destroys the stream (and so closes the open file). */
  readonly signal?: AbortSignal;
}

/**
 * Resolves true once archiver has written `source` out ('entry'), false if the consumer went
 * away first; rejects if the source fails (missing file, size changed). archiver's append()
 * has no backpressure of its own, so we hand it one entry at a time.
 */
function appended(archive: EventEmitter, source: Readable | undefined, out: Readable): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const settle = (finish: () => void): void => {
      archive.off('entry', onEntry);
      source?.off('error', onError);
      out.off('close', onClose);
      finish();
    };
    const onEntry = (): void => settle(() => resolve(true));
    const onError = (err: Error): void => settle(() => reject(err));
    const onClose = (): void => settle(() => resolve(false));
    archive.on('entry', onEntry);
    source?.on('error', onError);
    out.on('close', onClose);
  });
}

/**
 * What the caller reads. Destroying it (client gone, abort) closes the file being read
 * before 'close' is emitted, so 'close' means no descriptor is left open.
 */
class ZipOutput extends PassThrough {
  current: Readable | undefined;
  archive: { abort(): unknown } | undefined;

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.archive?.abort();
    const source = this.current;
    if (!source || source.closed) return callback(error);
    source.once('close', () => callback(error));
    source.destroy();
  }
}

/** The zip of `files` below `root`, streamed; reads each file only when its turn comes. */
export function zipStream(root: string, files: readonly BundleFile[], options: ZipStreamOptions = {}): Readable {
  assertSafeBundle(root, files);
  const chunk = options.chunkSize ?? 1024 * 1024;
  // archiver 7 (CommonJS): 8 is ESM-only, which Jest on Node 20 cannot load.
  const archive = archiver('zip', { store: true, forceZip64: true });
  const out = new ZipOutput({ highWaterMark: chunk });
  out.archive = archive;
  archive.on('error', (err: Error) => out.destroy(err));
  archive.pipe(out);

  const feed = async (): Promise<void> => {
    for (const f of files) {
      if (out.destroyed) return;
      const source = Readable.from(readFileSlice(f.source, f.size, 0, f.size, chunk), { objectMode: false });
      out.current = source;
      archive.append(source, { name: `${root}/${f.path}`, date: new Date(f.mtime * 1000), mode: FILE_MODE });
      if (!(await appended(archive, source, out))) return;
    }
    for (const m of options.manifest === true ? buildManifests(files) : []) {
      if (out.destroyed) return;
      archive.append(m.content, { name: `${root}/${m.path}`, date: new Date(m.mtime * 1000), mode: FILE_MODE });
      if (!(await appended(archive, undefined, out))) return;
    }
    await archive.finalize();
  };
  feed().catch((err: unknown) => out.destroy(err instanceof Error ? err : new Error(String(err))));
  return options.signal ? addAbortSignal(options.signal, out) : out;
}
