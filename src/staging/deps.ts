import type { Logger } from 'pino';
import type { ArchivePort, PullerPort } from '../core/ports';
import type { CartsRepo } from '../db/carts-repo';
import type { Volume } from '../volume/volume';
import type { StagingPolicy } from './policy';

/** Everything the staging use-cases need; whichever runner calls them provides it. */
export interface StagingDeps {
  readonly carts: CartsRepo;
  readonly volume: Volume;
  readonly archive: ArchivePort;
  /** Where the bytes of files are pulled, hashed and written; without it, on the event loop. */
  readonly transfers?: PullerPort;
  readonly policy: StagingPolicy;
  readonly log: Logger;
  readonly now: () => number;
}

/** What a runner does after one step on a file. */
export type StepOutcome =
  /** The file is staged or failed for good: see whether the cart is finished. */
  | { readonly kind: 'settled' }
  /** Run the step again after `delayMs` (tape not yet on disk, a fault to retry, bytes being fetched by another). */
  | { readonly kind: 'again'; readonly delayMs: number; readonly reason: 'tape' | 'retry' | 'busy' }
  /** The whole cart failed (No Space Available): drop its other work. */
  | { readonly kind: 'cart-failed' };
