import type { StagingDeps } from './deps';

/** Settle a cart whose files are all staged or failed: `ready`, or `error` with the reason. */
export function finishCart(deps: Pick<StagingDeps, 'carts' | 'log' | 'now'>, cartId: number): void {
  const status = deps.carts.finishIfSettled(cartId, deps.now());
  if (status === undefined) return;
  const cart = deps.carts.getLive(cartId);
  const log = deps.log.child({ cart: cart?.uid });
  if (status === 'ready') log.info('cart ready');
  else log.warn({ reason: cart?.message }, 'cart failed');
}
