import type { Cartd } from '../../main/build';
import { CliError } from '../exit';

/** Where `fixit --queue` sends carts it has put back to staging. */
export interface WorkerQueue {
  submitCart(cartId: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Connect to the BullMQ workers' queue, before any cart is touched so a failure changes
 * nothing. This build has no BullMQ runner yet: say so rather than pretend.
 */
export async function openWorkerQueue(cartd: Cartd): Promise<WorkerQueue> {
  if (cartd.config.redis.url === '') {
    throw new CliError('--queue hands carts to the BullMQ workers, but no [redis] url is configured (set it in the configuration or $REDIS_URL); run without --queue to stage here');
  }
  throw new CliError('--queue: this cartd has no BullMQ runner to hand carts to yet; nothing was changed; run without --queue to stage the carts here');
}
