import type { Logger } from 'pino';
import { HttpArchive } from '../archive/http-archive';
import { CartService } from '../carts/cart-service';
import type { Config } from '../config/config';
import type { StagingRunner } from '../core/ports';
import type { StagingDeps } from '../staging/deps';
import type { StagingPolicy } from '../staging/policy';
import { Volume } from '../volume/volume';
import { openState, type State } from './open-state';
import { createRunner, type RunnerOptions } from './runner';
import { TransferThreads } from './transfer-threads';

export function policyFrom(config: Config): StagingPolicy {
  const a = config.archive;
  return {
    retries: a.retries,
    retryDelayMs: a.retryDelayMs,
    retryMaxDelayMs: a.retryMaxDelayMs,
    tapeFirstDelayMs: a.tapeFirstDelayMs,
    tapeBackoffFactor: a.tapeBackoffFactor,
    tapeMaxDelayMs: a.tapeMaxDelayMs,
    tapeTimeLimitMs: a.tapeTimeLimitMs,
    busyDelayMs: 250,
  };
}

/** Everything one cartd process holds, wired together; main/ is the only place that does this. */
export interface Cartd {
  readonly config: Config;
  readonly log: Logger;
  readonly state: State;
  readonly volume: Volume;
  readonly archive: HttpArchive;
  readonly staging: StagingDeps;
  readonly runner: StagingRunner;
  readonly service: CartService;
  close(): Promise<void>;
}

/** `migrate`: see openState; admin commands pass 'never' so they never create or change a schema. */
export async function buildCartd(config: Config, log: Logger, opts: { migrate?: 'if-empty' | 'always' | 'never'; runner?: RunnerOptions } = {}): Promise<Cartd> {
  const state = openState(config, opts);
  const c = config.cartd;
  const volume = new Volume(
    {
      root: c.volumePath,
      maxBytes: c.volumeMaxBytes,
      reserveBytes: c.volumeReserveBytes,
      evict: c.lruPurge,
      lruBufferMs: Math.round(c.lruBufferTime * 1000),
      spaceWaitMs: c.spaceWaitMs,
    },
    state.blobs,
    log,
  );
  await volume.init();
  const archiveOptions = { url: config.archive.url, timeoutMs: config.archive.timeoutMs, maxSockets: config.archive.maxRequests };
  const archive = new HttpArchive(archiveOptions);
  // The bytes of staged files are pulled on threads (started on first use): status calls never queue behind them.
  const transfers = new TransferThreads({ ...archiveOptions, resumeDelayMs: config.archive.retryDelayMs });
  const now = (): number => Date.now();
  const staging: StagingDeps = { carts: state.carts, volume, archive, transfers, policy: policyFrom(config), log, now };
  const runner = await createRunner(config, staging, opts.runner);
  const service = new CartService({ carts: state.carts, volume, runner, log, now, maxFiles: config.cartd.maxFiles });
  return {
    config,
    log,
    state,
    volume,
    archive,
    staging,
    runner,
    service,
    async close() {
      await runner.stop();
      await transfers.close();
      await volume.close();
      archive.close();
      state.db.close();
    },
  };
}
