import { Router, raw, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { CartService } from '../carts/cart-service';
import { badRequest } from '../core/errors';
import { checkUid } from '../carts/request';
import { Downloads } from './download';
import { LayoutCache } from './layout-cache';
import { sendStatus } from './status-headers';

export interface CartRoutesOptions {
  readonly maxBodyBytes: number;
  readonly transferSize: number;
  readonly log: Logger;
  /** Tar layouts shared by HEAD (download length) and GET; a fresh bounded one by default. */
  readonly layouts?: LayoutCache;
}

/** Body as JSON whatever the Content-Type: `curl --upload-file` sends none. */
function jsonBody(req: Request): unknown {
  const buf: unknown = req.body;
  if (!Buffer.isBuffer(buf) || buf.length === 0) throw badRequest('body is empty; send a JSON object with a "fileids" list', 'body');
  try {
    return JSON.parse(buf.toString('utf8')) as unknown;
  } catch (err) {
    throw badRequest(`body is not valid JSON: ${(err as Error).message}`, 'body');
  }
}

const uidOf = (req: Request): string => checkUid(String(req.params.uid));

/** The Pacifica cart API: POST, HEAD, GET and DELETE on /{uid}. */
export function cartRoutes(service: CartService, opts: CartRoutesOptions): Router {
  const r = Router();
  const body = raw({ type: () => true, limit: opts.maxBodyBytes });
  const downloads = new Downloads(service, { chunkSize: opts.transferSize, log: opts.log, cache: opts.layouts ?? new LayoutCache() });

  r.post('/:uid', body, async (req: Request, res: Response) => {
    const uid = uidOf(req);
    await service.create(uid, jsonBody(req));
    res.status(201).json({ message: 'Cart Processing has begun' });
  });

  // Registered before GET so a status call never builds a tarball.
  r.head('/:uid', (req: Request, res: Response) => {
    const view = service.status(uidOf(req));
    sendStatus(res, view, downloads.downloadLength(req, view.cart));
  });

  r.get('/:uid', async (req: Request, res: Response) => {
    await downloads.send(req, res, uidOf(req));
  });

  r.delete('/:uid', async (req: Request, res: Response) => {
    await service.delete(uidOf(req));
    res.status(200).json({ message: 'Cart Deleted Successfully' });
  });

  return r;
}
