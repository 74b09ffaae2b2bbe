import type { Request, Response } from 'express';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { CartService, OpenDownload } from '../carts/cart-service';
import { badRequest } from '../core/errors';
import { contentDisposition, defaultTarName } from '../bundle/names';
import { parseRange } from '../bundle/range';
import { tarLayout, type TarLayout } from '../bundle/layout';
import { tarStream } from '../bundle/tar-body';
import { zipStream } from '../bundle/zip';
import { sendError } from './errors';

/** The reference's answer while a cart is still staging. */
export const NOT_READY_TEXT = 'The cart is not ready for download.';

type Format = 'tar' | 'zip';

function queryText(req: Request, name: string): string | undefined {
  const v: unknown = req.query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw badRequest(`${name} must be given once, as text`, name);
  return v;
}

function downloadOptions(req: Request, now: Date): { format: Format; filename: string; root: string; manifest: boolean } {
  const fmt = queryText(req, 'format') ?? 'tar';
  if (fmt !== 'tar' && fmt !== 'zip') throw badRequest(`format must be tar or zip (got ${JSON.stringify(fmt)})`, 'format');
  const manifestText = queryText(req, 'manifest');
  const manifest = manifestText !== undefined && !['0', 'false', 'no', ''].includes(manifestText.toLowerCase());
  const filename = queryText(req, 'filename') ?? defaultTarName(now).replace(/\.tar$/, `.${fmt}`);
  if (filename === '' || /[/\\\0]/.test(filename) || filename === '.' || filename === '..') {
    throw badRequest('filename must be a plain file name (no /, \\ or NUL)', 'filename');
  }
  const root = filename.replace(fmt === 'zip' ? /\.zip$/i : /\.tar$/i, '') || filename;
  return { format: fmt, filename, root, manifest };
}

/** GET /{uid}: the tarball (or zip), built on the fly from the staged files; Range for tar. */
export async function sendDownload(service: CartService, req: Request, res: Response, uid: string, chunkSize: number): Promise<void> {
  const opts = downloadOptions(req, new Date());
  const opened = service.openDownload(uid);
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
  res.on('close', () => download.release());
  res.setHeader('Content-Disposition', contentDisposition(opts.filename));
  if (opts.format === 'zip') {
    res.status(200).type('application/zip');
    await send(zipStream(opts.root, bundleFiles(download), { manifest: opts.manifest }), res);
    return;
  }
  const layout = tarLayout(opts.root, bundleFiles(download), { manifest: opts.manifest });
  const range = chooseRange(req, layout);
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('ETag', layout.etag);
  res.type('application/x-tar');
  if (range === 'unsatisfiable') {
    res.setHeader('Content-Range', `bytes */${layout.size}`);
    sendError(res, 416, `range not satisfiable; the tarball is ${layout.size} bytes`);
    return;
  }
  if (range) {
    res.status(206);
    res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${layout.size}`);
    res.setHeader('Content-Length', String(range.end - range.start + 1));
  } else {
    res.status(200);
    res.setHeader('Content-Length', String(layout.size));
  }
  await send(tarStream(layout, range, { chunkSize }), res);
}

function bundleFiles(d: OpenDownload): { path: string; size: number; mtime: number; source: string; hashtype: string; hashsum: string }[] {
  return d.files.map((f) => ({ path: f.path, size: f.size, mtime: f.mtime, source: f.source, hashtype: f.hashtype, hashsum: f.hashsum }));
}

/** `If-Range` with a different ETag (or a date) means "send it all". */
function chooseRange(req: Request, layout: TarLayout): ReturnType<typeof parseRange> {
  const ifRange = req.headers['if-range'];
  if (ifRange !== undefined && ifRange !== layout.etag) return undefined;
  return parseRange(req.headers.range, layout.size);
}

/** A source error after the first byte must abort the connection: never a clean end on a short archive. */
async function send(body: Readable, res: Response): Promise<void> {
  try {
    await pipeline(body, res);
  } catch {
    body.destroy();
    res.destroy();
  }
}
