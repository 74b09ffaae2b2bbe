import type { Cartd } from '../../main/build';
import { openCartQueue, type CartQueue } from '../../queue/cart-queue';
import { CliError } from '../exit';

/**
 * Connect to the BullMQ workers' queue before any cart is touched, so a missing or
 * unreachable Redis changes nothing (rather than a cart half-removed, or a command that
 * hangs while ioredis retries for ever). `what` names the option or command needing it.
 */
export async function openWorkerQueue(cartd: Cartd, what: string, fallback: string): Promise<CartQueue> {
  const { url, prefix } = cartd.config.redis;
  if (url === '') {
    throw new CliError(`${what} hands carts to the BullMQ workers, but no [redis] url is configured (set it in the configuration or $REDIS_URL); ${fallback}`);
  }
  try {
    return await openCartQueue({ url, prefix, carts: cartd.state.carts, log: cartd.log });
  } catch (err) {
    throw new CliError(`${what}: ${(err as Error).message}; nothing was changed; check that Redis runs and [redis] url is right, or ${fallback}`);
  }
}
