import type { Logger } from 'pino';
import type { BlobsRepo } from '../db/blobs-repo';
import type { CartsRepo } from '../db/carts-repo';
import { reconcileVolume, type ReconcileReport } from '../volume/reconcile';
import type { Volume } from '../volume/volume';

export interface RecoveryDeps {
  readonly carts: CartsRepo;
  readonly blobs: BlobsRepo;
  readonly volume: Volume;
  readonly log: Logger;
  readonly now: () => number;
}

/**
 * At start, before the runner picks up unfinished carts: remove what a crash left on the
 * volume (dead owners' temp files, blobs no row owns), and send every cart whose staged
 * bytes are missing back to staging, so the runner stages them again.
 */
export async function recoverVolume(deps: RecoveryDeps): Promise<ReconcileReport & { restaged: readonly number[] }> {
  const report = await reconcileVolume(deps.volume, deps.blobs, deps.now());
  const restaged = new Set<number>();
  for (const key of report.missing) for (const id of deps.carts.unstageBlob(key, deps.now())) restaged.add(id);
  for (const id of restaged) deps.log.warn({ cart: deps.carts.getLive(id)?.uid }, 'staged bytes missing from the volume; cart staged again');
  const { tempsRemoved, orphansRemoved, rowsReleased, missing } = report;
  if (tempsRemoved + orphansRemoved + rowsReleased + missing.length > 0) {
    deps.log.info({ tempsRemoved, orphansRemoved, rowsReleased, missingBlobs: missing.length, restagedCarts: restaged.size }, 'volume reconciled');
  }
  return { ...report, restaged: [...restaged] };
}
