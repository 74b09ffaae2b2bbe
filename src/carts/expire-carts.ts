import { finishRemoval, type RemovalDeps } from './remove-cart';

export interface ExpiryDeps extends RemovalDeps {
  readonly now: () => number;
}

/**
 * Remove every cart not used (status, download) nor changed for `ttlMs`, unless a download
 * of it is streaming. Returns how many went.
 */
export async function expireCarts(deps: ExpiryDeps, ttlMs: number): Promise<number> {
  if (!(ttlMs > 0)) return 0;
  let removed = 0;
  const before = deps.now() - ttlMs;
  for (const id of deps.carts.expiryCandidates(before)) {
    const cart = deps.carts.getLive(id);
    // Checked again in the same statement that marks it, so a download opening now wins.
    if (!cart || !deps.carts.markExpired(id, before, deps.now())) continue;
    await finishRemoval(deps, cart, 'expired');
    removed += 1;
  }
  return removed;
}

/**
 * Run expireCarts every `intervalMs` (never two at once) until the returned stop() is
 * awaited. The timer does not keep the process alive.
 */
export function startExpiry(deps: ExpiryDeps, ttlMs: number, intervalMs: number): () => Promise<void> {
  if (!(ttlMs > 0)) return async () => undefined;
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const timer = setInterval(() => {
    running = running.then(async () => {
      if (stopped) return;
      try {
        await expireCarts(deps, ttlMs);
      } catch (err) {
        deps.log.error({ err }, 'removing expired carts failed; will try again');
      }
    });
  }, intervalMs);
  timer.unref();
  return async () => {
    stopped = true;
    clearInterval(timer);
    await running;
  };
}
