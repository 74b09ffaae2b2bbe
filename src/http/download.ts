import type { Request, Response } from 'express';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { CartService, OpenDownload } from '../carts/cart-service';
import { blobKey, type Cart } from '../core/cart';
import { badRequest } from '../core/errors';
import { bundleRootName, contentDisposition, defaultTarName } from '../bundle/names';
import { parseRange, type ByteRange } from '../bundle/range';
import { tarLayout, type BundleFile, type TarLayout } from '../bundle/layout';
import { ReadBuffers } from '../bundle/read-buffers';
import { tarPieces } from '../bundle/tar-body';
import { SourceChangedError } from '../bundle/file-slice';
import { sendError } from './errors';
import { LayoutCache } from './layout-cache';
import { missingSources, sourcesInRange, type SourceFile } from './source-check';
import { writePieces } from './write-pieces';

/** The reference's answer while a cart is still staging. */
export const NOT_READY_TEXT = 'The cart is not ready for download.';

/** Longest a broken download's connection is held open while its cart is sent back to staging. */
const RESTAGE_WAIT_MS = 5_000;

/** Longest download name accepted: what a filesystem can save (NAME_MAX), in UTF-8 bytes. */
const MAX_FILENAME_BYTES = 255;

interface DownloadOptions {
  readonly format: 'tar' | 'zip';
  readonly filename: string;
  readonly root: string;
  readonly manifest: boolean;
}

function queryText(req: Request, name: string): string | undefined {
  const v: unknown = req.query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw badRequest(`${name} must be given once, as text`, name);
  return v;
}

/** `?filename=NAME.tar` (root folder NAME), `?format=tar|zip`, `?manifest=1` (adds MANIFEST.<hashtype>). */
function downloadOptions(req: Request, now: Date): DownloadOptions {
  const format = queryText(req, 'format') ?? 'tar';
  if (format !== 'tar' && format !== 'zip') throw badRequest(`format must be tar or zip (got ${JSON.stringify(format.slice(0, 40))})`, 'format');
  const manifestText = queryText(req, 'manifest');
  const manifest = manifestText !== undefined && !['0', 'false', 'no', ''].includes(manifestText.toLowerCase());
  const filename = queryText(req, 'filename') ?? defaultTarName(now).replace(/\.tar$/, `.${format}`);
  if (filename === '' || /[/\\\0]/.test(filename) || filename === '.' || filename === '..') {
    throw badRequest('filename must be a plain file name (no /, \\ or NUL)', 'filename');
  }
  if (Buffer.byteLength(filename) > MAX_FILENAME_BYTES) throw badRequest(`filename must be at most ${MAX_FILENAME_BYTES} bytes of UTF-8`, 'filename');
  return { format, filename, root: bundleRootName(filename), manifest };
}

export interface DownloadsOptions {
  readonly chunkSize: number;
  readonly log: Logger;
  readonly cache?: LayoutCache;
}

/** GET /{uid}: the tarball (exact length, ETag, Range) or zip, built on the fly from the staged files. */
export class Downloads {
  private readonly cache: LayoutCache;

  constructor(
    private readonly service: CartService,
    private readonly opts: DownloadsOptions,
  ) {
    this.cache = opts.cache ?? new LayoutCache();
  }

  private layout(cart: Cart, opts: DownloadOptions, files: () => readonly BundleFile[]): TarLayout {
    return this.cache.get({ cartId: cart.id, generation: cart.generation, root: opts.root, manifest: opts.manifest }, () =>
      tarLayout(opts.root, files(), { manifest: opts.manifest }),
    );
  }

  /**
   * For `HEAD /{uid}?filename=NAME.tar`: the Content-Length the same query's GET of this
   * ready cart sends, or undefined (not ready, no filename, zip, bad query). The layout it
   * works out is cached, so the GET that follows starts at once.
   */
  downloadLength(req: Request, cart: Cart): number | undefined {
    if (cart.status !== 'ready' || req.query.filename === undefined) return undefined;
    try {
      const opts = downloadOptions(req, new Date());
      return opts.format === 'tar' ? this.layout(cart, opts, () => this.service.downloadFiles(cart)).size : undefined;
    } catch {
      return undefined; // the status call never fails over a bad download query
    }
  }

  async send(req: Request, res: Response, uid: string): Promise<void> {
    const opts = downloadOptions(req, new Date());
    const opened = this.service.openDownload(uid);
    if (opened.state === 'not-ready') {
      res.status(202).type('text/plain').send(NOT_READY_TEXT);
      return;
    }
    if (opened.state !== 'ready') {
      res.setHeader('X-Pacifica-Status', 'error');
      sendError(res, 500, opened.cart.message);
      return;
    }
    const { download } = opened;
    // The pin is released however the response ends: finished, failed, or the client gone.
    res.on('close', () => download.release());
    if (opts.format === 'zip') await this.sendZip(res, download, opts);
    else await this.sendTar(req, res, download, opts);
  }

  private async sendZip(res: Response, download: OpenDownload, opts: DownloadOptions): Promise<void> {
    const files = download.files();
    if (await this.restagedIfMissing(res, download, files)) return;
    res.status(200).type('application/zip');
    res.setHeader('Content-Disposition', contentDisposition(opts.filename));
    // archiver is loaded on the first zip download: tarball-only servers never carry it (about 9 MB resident).
    const { zipStream } = await import('../bundle/zip');
    await this.stream(zipStream(opts.root, files, { manifest: opts.manifest, chunkSize: this.opts.chunkSize }), res, download);
  }

  private async sendTar(req: Request, res: Response, download: OpenDownload, opts: DownloadOptions): Promise<void> {
    const layout = this.layout(download.cart, opts, () => download.files());
    const range = chooseRange(req, layout);
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('ETag', layout.etag);
    if (range === 'unsatisfiable') {
      res.setHeader('Content-Range', `bytes */${layout.size}`);
      sendError(res, 416, `range not satisfiable; the tarball is ${layout.size} bytes`);
      return;
    }
    if (await this.restagedIfMissing(res, download, sourcesInRange(layout, range))) return;
    res.type('application/x-tar');
    res.setHeader('Content-Disposition', contentDisposition(opts.filename));
    if (range) {
      res.status(206);
      res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${layout.size}`);
      res.setHeader('Content-Length', String(range.end - range.start + 1));
    } else {
      res.status(200);
      res.setHeader('Content-Length', String(layout.size));
    }
    const buffers = new ReadBuffers(this.opts.chunkSize);
    await this.stream(tarPieces(layout, range, { buffers }), res, download, buffers);
  }

  /** Staged bytes gone from the volume: stage the cart again and answer as for a cart still staging. */
  private async restagedIfMissing(res: Response, download: OpenDownload, sources: readonly SourceFile[]): Promise<boolean> {
    const missing = await missingSources(sources);
    if (missing.size === 0) return false;
    await this.restage(download, missing);
    res.removeHeader('ETag');
    res.removeHeader('Accept-Ranges');
    res.status(202).type('text/plain').send(NOT_READY_TEXT);
    return true;
  }

  private async restage(download: OpenDownload, missing: ReadonlySet<string>): Promise<void> {
    const keys = [...new Set(download.files().filter((f) => missing.has(f.source)).map((f) => blobKey(f)))];
    await this.service.restageMissing(keys);
  }

  /**
   * Write the body out, each piece once the socket has room; a piece read into one of
   * `buffers` is handed back when the socket has taken it. The body is closed however this
   * ends (finished, client gone, failed), and only then does this resolve. A source error
   * after the first byte aborts the connection (never a clean end on a short archive) and, if
   * the file really is gone or changed, the cart is staged again first, so a client that asks
   * for the status the moment its download breaks already reads `staging`.
   */
  private async stream(body: AsyncIterable<Buffer>, res: Response, download: OpenDownload, buffers?: ReadBuffers): Promise<void> {
    // A write to a socket that broke: 'close' follows, and the loop below stops at it.
    res.on('error', () => undefined);
    try {
      if (await writePieces(body, res, buffers)) res.end();
    } catch (err) {
      // Cut the connection once the cart is back to staging, or after RESTAGE_WAIT_MS at
      // most (a queue that does not answer must not leave the client hanging).
      const waited = new AbortController();
      await Promise.race([this.afterSourceError(err, download), sleep(RESTAGE_WAIT_MS, undefined, { signal: waited.signal }).catch(() => undefined)]);
      waited.abort();
      res.destroy();
    }
  }

  private async afterSourceError(err: unknown, download: OpenDownload): Promise<void> {
    const source = failedSource(err);
    if (source === undefined) return;
    this.opts.log.error({ cart: download.cart.uid, source, err }, 'download aborted: a staged file failed mid-stream');
    const size = download.files().find((f) => f.source === source)?.size ?? -1;
    try {
      const missing = await missingSources([{ source, size }]);
      if (missing.size > 0) await this.restage(download, missing);
    } catch (e) {
      this.opts.log.error({ cart: download.cart.uid, err: e }, 'restage failed');
    }
  }
}

/** The staged file a stream error is about (gone, resized, unreadable), or undefined for any other error. */
function failedSource(err: unknown): string | undefined {
  if (err instanceof SourceChangedError) return err.source;
  if (typeof err === 'object' && err !== null && 'syscall' in err && 'path' in err && typeof err.path === 'string') return err.path;
  return undefined;
}

/** `If-Range` with a different ETag (or a date: we send no Last-Modified) means "send it all". */
function chooseRange(req: Request, layout: TarLayout): ByteRange | 'unsatisfiable' | undefined {
  const ifRange = req.get('if-range');
  if (ifRange !== undefined && ifRange.trim() !== layout.etag) return undefined;
  return parseRange(req.get('range'), layout.size);
}
