import type { Logger } from 'pino';
import type { Cart } from '../core/cart';
import type { StagingRunner } from '../core/ports';
import type { CartsRepo } from '../db/carts-repo';
import type { Volume } from '../volume/volume';

export interface RemovalDeps {
  readonly carts: CartsRepo;
  readonly volume: Volume;
  readonly runner: StagingRunner;
  readonly log: Logger;
}

/** Why a cart went away (for the logs; on the wire every removed cart is simply 404). */
export type RemovalReason = 'deleted' | 'expired';

/**
 * The second half of every removal, once the cart is marked deleted (so it answers 404):
 * stop its work and free the bytes no other live cart needs. DELETE and expiry come here;
 * eviction marks its victims and frees their bytes inside the reservation's transaction,
 * with the same ledger rule (a blob goes only when no staging or ready cart names it).
 */
export async function finishRemoval(deps: RemovalDeps, cart: Cart, reason: RemovalReason): Promise<number> {
  await deps.runner.cancelCart(cart.id);
  const freed = await deps.volume.dropUnreferenced(deps.carts.blobKeysOf(cart.id));
  deps.log.info({ cart: cart.uid, freedBytes: freed, reason }, `cart ${reason}`);
  return freed;
}
