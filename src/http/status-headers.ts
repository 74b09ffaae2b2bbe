import type { Response } from 'express';
import type { CartStatusView } from '../carts/cart-service';
import { headerSafe } from './errors';

/** cartd's own headers; reference clients ignore them. */
export const PROGRESS_HEADERS = ['X-Cartd-Files-Staged', 'X-Cartd-Bytes-Staged', 'Retry-After'] as const;

/**
 * HEAD /{uid}: 204 with `X-Pacifica-Status` staging|ready, or 500 with `error` and the
 * reason in `X-Pacifica-Message`. Only `staging` is ever sent while in progress.
 */
export function sendStatus(res: Response, view: CartStatusView): void {
  const { cart, progress } = view;
  res.setHeader('X-Pacifica-Status', cart.status);
  res.setHeader('X-Pacifica-Message', cart.status === 'error' ? headerSafe(cart.message) : '');
  res.setHeader('X-Cartd-Files-Staged', `${progress.filesStaged}/${progress.files}`);
  res.setHeader('X-Cartd-Bytes-Staged', `${progress.bytesStaged}/${progress.bytes}`);
  if (cart.status === 'staging') res.setHeader('Retry-After', '1');
  res.status(cart.status === 'error' ? 500 : 204).end();
}
