import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { CartService } from '../carts/cart-service';
import { badRequest } from '../core/errors';
import { cartRoutes } from './cart-routes';
import { corsMiddleware } from './cors';
import { errorHandler, sendError } from './errors';

export interface AppDeps {
  readonly service: CartService;
  readonly log: Logger;
  readonly maxBodyBytes: number;
  readonly transferSize: number;
  /** `cartd.cors_origins`: origins allowed to call from a browser (`*`: any); none by default. */
  readonly corsOrigins?: readonly string[];
}

/** Build the express app; no listening, no globals, so tests run the real thing on port 0. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(accessLog(deps.log));
  // Before every route, so preflights are answered and errors carry CORS headers too.
  app.use(corsMiddleware(deps.corsOrigins ?? []));

  app.get('/', (_req, res) => {
    res.json({ message: 'Pacifica Cartd Interface Up and Running' });
  });
  app.use(cartRoutes(deps.service, deps));
  // Anything deeper than /{uid} is a uid with a `/` in it.
  app.all('/{*rest}', (req: Request, _res: Response, next: NextFunction) => {
    if (['GET', 'HEAD', 'POST', 'DELETE'].includes(req.method)) {
      next(badRequest(`uid must be 1 to 128 characters of A-Z a-z 0-9 . _ - (got ${JSON.stringify(req.path.slice(1, 141))})`, 'uid'));
      return;
    }
    next();
  });
  app.use((req: Request, res: Response) => {
    res.setHeader('Allow', 'GET, HEAD, POST, DELETE');
    sendError(res, 405, `${req.method} is not supported; use GET, HEAD, POST or DELETE`);
  });
  app.use(errorHandler(deps.log));
  return app;
}

function accessLog(log: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const start = process.hrtime.bigint();
    res.on('close', () => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      const entry = { method: req.method, url: req.originalUrl, status: res.statusCode, ms: Math.round(ms * 10) / 10, complete: res.writableFinished };
      if (req.method === 'HEAD') log.debug(entry, 'request');
      else log.info(entry, 'request');
    });
    next();
  };
}
