import type { IncomingHttpHeaders } from 'node:http';
import { TransferError } from '../core/errors';
import type { ArchiveFileStatus } from '../core/ports';

const header = (h: IncomingHttpHeaders, name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
};

/**
 * `Last-Modified` from the archive is a float of epoch seconds (`1546983446.123`), not an
 * HTTP date; accept both. Returns seconds.
 */
export function parseLastModified(value: string | undefined, now = Date.now()): number {
  if (value === undefined || value.trim() === '') return Math.floor(now / 1000);
  const t = value.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t);
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? Math.floor(now / 1000) : ms / 1000;
}

/** Read the HEAD answer of a found file. */
export function parseStatusHeaders(h: IncomingHttpHeaders): ArchiveFileStatus {
  const sizeText = header(h, 'x-content-length') ?? header(h, 'content-length');
  if (sizeText === undefined || !/^\d+$/.test(sizeText.trim())) {
    throw new TransferError(`archive sent no usable size (X-Content-Length: ${JSON.stringify(sizeText ?? null)})`, true);
  }
  const media = (header(h, 'x-pacifica-file-storage-media') ?? 'disk').trim().toLowerCase();
  return {
    size: Number(sizeText.trim()),
    mtime: parseLastModified(header(h, 'last-modified')),
    media: media === 'tape' ? 'tape' : 'disk',
  };
}
