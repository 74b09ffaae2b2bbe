import { blobKey, type CartFile } from '../core/cart';
import { CancelledError, NO_SPACE_MESSAGE, NoSpaceError, TransferError } from '../core/errors';
import { pullResuming } from '../archive/resuming-pull';
import type { ArchiveFileStatus } from '../core/ports';
import type { StagingDeps, StepOutcome } from './deps';
import { learnCartSizes } from './learn-sizes';
import { retryDelay, tapeDelay } from './policy';

const settled: StepOutcome = { kind: 'settled' };

/**
 * One step of staging one file: from "is it already on the volume?" through the archive's
 * status, a tape recall, space reservation and the verified pull. Returns what the runner
 * should do next; never throws for a fault of the archive (those are recorded on the
 * file), only CancelledError when `signal` aborts.
 */
export async function stageFileStep(deps: StagingDeps, fileId: number, signal: AbortSignal): Promise<StepOutcome> {
  const file = deps.carts.file(fileId);
  if (!file || file.status !== 'pending') return settled;
  const cart = deps.carts.getLive(file.cartId);
  if (!cart || cart.status !== 'staging') return settled;
  const log = deps.log.child({ cart: cart.uid, file: file.archiveId });
  try {
    return await attempt(deps, file, cart.generation, signal, log);
  } catch (err) {
    if (err instanceof CancelledError || signal.aborted) throw new CancelledError();
    if (err instanceof NoSpaceError) {
      log.warn({ needed: err.needed, available: err.available }, 'no space for file; cart fails');
      deps.carts.fail(file.cartId, NO_SPACE_MESSAGE, deps.now());
      // Its transfers in flight are aborted by the runner (and release their room); what it already staged goes too.
      await deps.volume.dropUnreferenced(deps.carts.blobKeysOf(file.cartId)).catch((e: unknown) => log.warn({ err: e }, 'could not remove the failed cart\'s files'));
      return { kind: 'cart-failed' };
    }
    const retryable = !(err instanceof TransferError) || err.retryable;
    const cause = err instanceof Error ? err.message : String(err);
    const tries = file.tries + 1;
    if (!retryable) {
      deps.carts.markFailed(file.id, `file ${file.archiveId}: ${cause}`, deps.now());
      log.warn({ cause }, 'file failed');
      return settled;
    }
    if (tries >= deps.policy.retries) {
      deps.carts.markFailed(file.id, `file ${file.archiveId}: ${cause} (gave up after ${tries} ${tries === 1 ? 'try' : 'tries'})`, deps.now());
      log.warn({ cause, tries }, 'file failed after retries');
      return settled;
    }
    deps.carts.setTries(file.id, tries, cause, deps.now());
    const delayMs = retryDelay(deps.policy, tries);
    log.info({ cause, tries, delayMs }, 'transfer fault; will retry');
    return { kind: 'again', delayMs, reason: 'retry' };
  }
}

/** Carts (id:generation) known to have every recall sent: a file never becomes unexamined again. */
const allRecalled = new Set<string>();

/**
 * The tape system orders the recalls it has: so a cart's first re-check waits until every
 * file of the cart has been looked at and every recall answered.
 */
function recallsOutstanding(deps: StagingDeps, cartId: number, generation: number): boolean {
  const id = `${cartId}:${generation}`;
  if (allRecalled.has(id)) return false;
  if (deps.carts.hasUnexamined(cartId)) return true;
  if (allRecalled.size >= 10_000) allRecalled.clear();
  allRecalled.add(id);
  return false;
}

async function attempt(deps: StagingDeps, file: CartFile, generation: number, signal: AbortSignal, log: StagingDeps['log']): Promise<StepOutcome> {
  const key = blobKey(file);
  const stored = deps.volume.presentMtime(key);
  if (stored) {
    deps.carts.markStaged(file.id, stored.size, file.mtime ?? stored.mtime ?? deps.now() / 1000, deps.now());
    log.debug('already on the volume');
    return settled;
  }
  // Bytes another transfer is bringing, or room still held by carts in use: ask again later, not the archive.
  if (deps.volume.isBeingFetched(key)) return { kind: 'again', delayMs: deps.policy.busyDelayMs, reason: 'busy' };
  const waiting = { key, size: file.size ?? 0, cartId: file.cartId, fileId: file.id };
  if (file.size !== null && (await deps.volume.stillWaiting(waiting))) return { kind: 'again', delayMs: deps.volume.spaceRetryDelay(file.id, deps.policy.busyDelayMs), reason: 'busy' };
  // A re-check of a recalled file waits (without asking the archive) for the cart's other recalls.
  if (file.recallAt !== null && recallsOutstanding(deps, file.cartId, generation)) return { kind: 'again', delayMs: deps.policy.busyDelayMs, reason: 'tape' };
  const status = await deps.archive.status(file.archiveId, signal);
  if (status === null) {
    deps.carts.markFailed(file.id, `file ${file.archiveId}: not found in the archive (404)`, deps.now());
    log.warn('archive has no such file');
    return settled;
  }
  // A tape file's size is recorded once its recall is answered (see recallsOutstanding).
  if (status.media === 'tape') return waitForTape(deps, file, status, signal, log);
  // The archive's facts are recorded in the reservation's transaction (whatever it answers).
  const facts = (): void => deps.carts.setFileFacts(file.id, status.size, status.mtime, deps.now());
  const want = { key, size: status.size, cartId: file.cartId, fileId: file.id };
  let reservation = await deps.volume.reserve({ ...want, alsoInTx: facts });
  if (reservation === 'need-sizes') {
    await learnCartSizes(deps, file.cartId, signal);
    reservation = await deps.volume.reserve(want);
    // Still unknown: the archive did not answer for some file; its own step retries it.
    if (reservation === 'need-sizes') return { kind: 'again', delayMs: deps.policy.busyDelayMs, reason: 'busy' };
  }
  if (reservation === 'busy') return { kind: 'again', delayMs: deps.policy.busyDelayMs, reason: 'busy' };
  if (reservation === 'wait') return { kind: 'again', delayMs: deps.volume.spaceRetryDelay(file.id, deps.policy.busyDelayMs), reason: 'busy' };
  if (reservation === 'reserved') {
    try {
      // The file is staged in the same commit that records its bytes as present.
      const staged = (): void => deps.carts.markStaged(file.id, status.size, status.mtime, deps.now());
      const blob = { key, hashtype: file.hashtype, hashsum: file.hashsum, size: status.size, mtime: status.mtime, signal, alsoInTx: staged };
      const { transfers } = deps;
      const onResume = (at: number, cause: string): void => log.info({ at, bytes: status.size, cause }, 'transfer broken off; asking for the rest with byte_range');
      const resume = { delayMs: deps.policy.retryDelayMs, signal, onResume };
      if (transfers?.wants(status.size)) await deps.volume.ingestBy((temp, onChunk) => transfers.pull({ ...blob, archiveId: file.archiveId, temp, onChunk, onResume }), blob);
      else await deps.volume.ingest(await pullResuming(deps.archive, file.archiveId, status.size, resume), blob);
    } catch (err) {
      deps.volume.release(key);
      throw err;
    }
    log.info({ bytes: status.size }, 'file staged');
  } else deps.carts.markStaged(file.id, status.size, status.mtime, deps.now());
  // The cart failed or went away while the bytes came: keep them only if another cart needs them.
  const after = deps.carts.getLive(file.cartId);
  if (reservation === 'reserved' && after?.status !== 'staging') await deps.volume.dropUnreferenced([key]);
  return settled;
}

async function waitForTape(deps: StagingDeps, file: CartFile, status: ArchiveFileStatus, signal: AbortSignal, log: StagingDeps['log']): Promise<StepOutcome> {
  const now = deps.now();
  if (file.recallAt === null) {
    await deps.archive.recall(file.archiveId, signal);
    deps.carts.setRecallAt(file.id, now);
    deps.carts.setFileFacts(file.id, status.size, status.mtime, deps.now());
    log.info('recall from tape requested');
    return { kind: 'again', delayMs: deps.policy.tapeFirstDelayMs, reason: 'tape' };
  }
  const elapsed = now - file.recallAt;
  if (elapsed >= deps.policy.tapeTimeLimitMs) {
    const secs = Math.round(elapsed / 1000);
    deps.carts.markFailed(file.id, `file ${file.archiveId}: still on tape ${secs} s after the recall was requested`, now);
    log.warn({ elapsedMs: elapsed }, 'file never left tape');
    return settled;
  }
  return { kind: 'again', delayMs: tapeDelay(deps.policy, elapsed), reason: 'tape' };
}
