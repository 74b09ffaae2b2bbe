import type { Config } from '../config/config';
import type { StagingRunner } from '../core/ports';
import { EmbeddedRunner } from '../queue/embedded-runner';
import type { StagingDeps } from '../staging/deps';

/** How this process takes part in staging (command-line choices, not configuration). */
export interface RunnerOptions {
  /** Run staging work in this process (default true; `cartd serve --no-worker`: false). BullMQ only. */
  readonly worker?: boolean;
  /** At start, queue unfinished carts whose jobs are missing (default true: the API server; workers: false). */
  readonly resubmit?: boolean;
  /** BullMQ job lock in ms: a dead worker's jobs move on within about twice this (default 30 s). */
  readonly lockMs?: number;
  /** On stop, ms running steps may take to finish before they are handed back (default 10 s). */
  readonly drainMs?: number;
}

export type RunnerKind = 'embedded' | 'bullmq';

/** `[redis] url` (REDIS_URL) set: BullMQ; unset: the embedded in-process runner. */
export function runnerKind(config: Config): RunnerKind {
  return config.redis.url === '' ? 'embedded' : 'bullmq';
}

/**
 * The runner `config` asks for. BullMQ and its Redis client are loaded only when Redis is
 * configured: the embedded server does not carry them (about 12 MB resident).
 */
export async function createRunner(config: Config, staging: StagingDeps, opts: RunnerOptions = {}): Promise<StagingRunner> {
  if (runnerKind(config) === 'embedded') return new EmbeddedRunner(staging, config.cartd.concurrency);
  const { BullmqRunner } = await import('../queue/bullmq-runner');
  return new BullmqRunner(staging, {
    url: config.redis.url,
    prefix: config.redis.prefix,
    concurrency: config.cartd.concurrency,
    maxRequests: config.archive.maxRequests,
    worker: opts.worker ?? true,
    resubmit: opts.resubmit ?? true,
    lockMs: opts.lockMs,
    drainMs: opts.drainMs,
  });
}
