import type { Response } from 'express';
import type { CartStatusView } from '../carts/cart-service';
import { headerSafe } from './errors';

/** cartd's own headers; reference clients ignore them. */
export const PROGRESS_HEADERS = ['X-Cartd-Files-Staged', 'X-Cartd-Bytes-Staged', 'X-Cartd-Download-Length', 'Retry-After'] as const;

/**
 * HEAD /{uid}: 204 with `X-Pacifica-Status` staging|ready, or 500 with `error` and the
 * reason in `X-Pacifica-Message`. Only `staging` is ever sent while in progress.
 * `downloadLength`: for a ready cart asked as `HEAD /{uid}?filename=NAME.tar` (optionally
 * `&manifest=1`), the Content-Length the same query's GET will send (`X-Cartd-Download-Length`).
 */
export function sendStatus(res: Response, view: CartStatusView, downloadLength?: number): void {
  const { cart, progress } = view;
  res.setHeader('X-Pacifica-Status', cart.status);
  res.setHeader('X-Pacifica-Message', cart.status === 'error' ? headerSafe(cart.message) : '');
  res.setHeader('X-Cartd-Files-Staged', `${progress.filesStaged}/${progress.files}`);
  res.setHeader('X-Cartd-Bytes-Staged', `${progress.bytesStaged}/${progress.bytes}`);
  if (cart.status === 'staging') res.setHeader('Retry-After', '1');
  if (cart.status === 'ready' && downloadLength !== undefined) res.setHeader('X-Cartd-Download-Length', String(downloadLength));
  res.status(cart.status === 'error' ? 500 : 204).end();
}
