/**
 * CORS for web portals on other origins (config `cartd.cors_origins`): an allowed origin's
 * preflight is answered and its responses expose the status and download headers a page
 * needs to read; any other origin gets no CORS header at all, so the browser blocks it.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import cors from 'cors';
import { PROGRESS_HEADERS } from './status-headers';

/** What a page may read besides the CORS-safelisted headers. */
export const EXPOSED_HEADERS: readonly string[] = [
  'X-Pacifica-Status',
  'X-Pacifica-Message',
  'Content-Disposition',
  'Content-Length',
  'ETag',
  'Content-Range',
  'Accept-Ranges',
  ...PROGRESS_HEADERS,
];

/** Request headers a page may send: the POST body type and resuming a download. */
const ALLOWED_HEADERS = ['Content-Type', 'Range', 'If-Range'];
const METHODS = ['GET', 'HEAD', 'POST', 'DELETE'];
/** Seconds a browser may reuse a preflight answer. */
const PREFLIGHT_MAX_AGE = 600;

/**
 * `origins`: exact origins (`https://portal.example.org`), or `*` for any; empty: CORS off.
 * Origins are compared as the browser sends them (scheme://host[:port], no trailing slash).
 */
export function corsMiddleware(origins: readonly string[]): RequestHandler {
  const list = origins.map((o) => o.replace(/\/+$/, ''));
  if (list.length === 0) return (_req: Request, _res: Response, next: NextFunction) => next();
  const any = list.includes('*');
  const allowed = new Set(list);
  const handler = cors({
    // false: not allowed, and the cors package then adds nothing (not even to a preflight).
    origin: (origin, callback) => callback(null, any ? '*' : origin !== undefined && allowed.has(origin) ? origin : false),
    methods: METHODS,
    allowedHeaders: ALLOWED_HEADERS,
    exposedHeaders: [...EXPOSED_HEADERS],
    maxAge: PREFLIGHT_MAX_AGE,
  });
  return (req: Request, res: Response, next: NextFunction) => {
    // The answer depends on Origin even when it carries no CORS header: tell caches so.
    if (!any) res.vary('Origin');
    handler(req, res, next);
  };
}
