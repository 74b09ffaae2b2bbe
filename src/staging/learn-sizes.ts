import type { StagingDeps } from './deps';

/** HEADs at once while learning a cart's sizes. */
const AT_ONCE = 8;

/** Carts whose sizes are being learned in this process: a second file of the same cart waits for the first's answer. */
const learning = new Map<number, Promise<void>>();

/**
 * Ask the archive (HEAD) for the size of every file of the cart it has not answered for yet,
 * so the volume can tell whether the whole cart could fit before evicting anyone's cart for
 * it. A file the archive does not have fails here as it would in its own step; other faults
 * leave the size unknown (the file's own step retries them).
 */
export function learnCartSizes(deps: StagingDeps, cartId: number, signal: AbortSignal): Promise<void> {
  let run = learning.get(cartId);
  if (!run) {
    run = learn(deps, cartId, signal).finally(() => learning.delete(cartId));
    learning.set(cartId, run);
  }
  return run;
}

async function learn(deps: StagingDeps, cartId: number, signal: AbortSignal): Promise<void> {
  const unknown = deps.carts.files(cartId).filter((f) => f.size === null && f.status === 'pending');
  for (let i = 0; i < unknown.length && !signal.aborted; i += AT_ONCE) {
    await Promise.all(
      unknown.slice(i, i + AT_ONCE).map(async (f) => {
        const status = await deps.archive.status(f.archiveId, signal).catch(() => undefined);
        if (status === undefined) return;
        if (status === null) deps.carts.markFailed(f.id, `file ${f.archiveId}: not found in the archive (404)`, deps.now());
        else deps.carts.setFileFacts(f.id, status.size, status.mtime, deps.now());
      }),
    );
  }
}
