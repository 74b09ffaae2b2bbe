import type { Logger } from 'pino';
import type { CartsRepo } from '../db/carts-repo';
import { finishCart } from '../staging/finish-cart';
import { CartFlows } from './cart-flows';

export interface CartQueueOptions {
  readonly url: string;
  readonly prefix: string;
  readonly carts: CartsRepo;
  readonly log: Logger;
  /** How long to wait for Redis before giving up (a short-lived command should not hang). Default 5 s. */
  readonly connectTimeoutMs?: number;
}

/** Hand carts to the running `cartd worker` processes from any process (e.g. `cartd-cmd fixit --queue`). */
export interface CartQueue {
  /** Queue the cart's pending files (a cart with none is settled at once). */
  submitCart(cartId: number): Promise<void>;
  close(): Promise<void>;
}

/** Queue a cart's pending files as a flow; shared by the BullMQ runner and CartQueue. */
export async function queueCart(flows: CartFlows, deps: { carts: CartsRepo; log: Logger; now: () => number }, cartId: number): Promise<void> {
  const cart = deps.carts.getLive(cartId);
  if (!cart || cart.status !== 'staging') return;
  const ids = deps.carts.pendingFileIds(cartId);
  if (ids.length === 0) {
    finishCart(deps, cartId);
    return;
  }
  const outcome = await flows.submit(cart, ids);
  deps.log.debug({ cart: cart.uid, files: ids.length, outcome }, 'cart queued');
}

/** Connect (or fail within the timeout, saying where it tried) and return the queue. */
export async function openCartQueue(opts: CartQueueOptions): Promise<CartQueue> {
  const flows = new CartFlows({ url: opts.url, prefix: opts.prefix, log: opts.log });
  const timeoutMs = opts.connectTimeoutMs ?? 5000;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      flows.ready(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`could not reach Redis (${redactedUrl(opts.url)}) within ${timeoutMs / 1000} s`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    await flows.close().catch(() => undefined);
    throw err;
  } finally {
    clearTimeout(timer);
  }
  const deps = { carts: opts.carts, log: opts.log, now: (): number => Date.now() };
  return {
    submitCart: (cartId) => queueCart(flows, deps, cartId),
    close: () => flows.close(),
  };
}

/** The URL without its password, for messages. */
export function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return 'the configured [redis] url';
  }
}
