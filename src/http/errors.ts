import { STATUS_CODES } from 'node:http';
import type { ErrorRequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { AppError, type ErrorCode } from '../core/errors';

/** The one table from error code to HTTP status. */
export const STATUS_OF: Readonly<Record<ErrorCode, number>> = {
  bad_request: 400,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  range_not_satisfiable: 416,
  unavailable: 503,
  internal: 500,
};

/** Errors are JSON `{status, message}`; a client never sees a stack trace. */
export function sendError(res: Response, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.status(status).json({ status: STATUS_CODES[status] ?? 'Error', message });
}

interface BodyParserError {
  readonly type?: string;
  readonly status?: number;
  readonly limit?: number;
}

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    if (err instanceof AppError) {
      const status = STATUS_OF[err.code];
      if (status >= 500) log.error({ err, method: req.method, url: req.originalUrl }, 'request failed');
      sendError(res, status, err.message);
      return;
    }
    const bp = (typeof err === 'object' && err !== null ? err : {}) as BodyParserError;
    if (bp.type === 'entity.too.large') {
      sendError(res, 413, `body is larger than the ${bp.limit ?? 'configured'} bytes allowed (max_body_bytes)`);
      return;
    }
    if (typeof bp.status === 'number' && bp.status >= 400 && bp.status < 500) {
      sendError(res, bp.status, `request could not be read: ${bp.type ?? 'bad request'}`);
      return;
    }
    log.error({ err, method: req.method, url: req.originalUrl }, 'unexpected error');
    sendError(res, 500, 'internal error; the server log has the details');
  };
}

/** Header values must be Latin-1; keep messages readable and never throw on a user's file name. */
export function headerSafe(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
