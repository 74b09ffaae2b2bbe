import type { ConnectionOptions, JobsOptions } from 'bullmq';

/**
 * Where cartd's staging lives in Redis, and how much of it is kept. Every key is under
 * the configured prefix (`[redis] prefix`): BullMQ's own as `{prefix}:{queue}:...`, ours
 * as `{prefix}:cartd:...`.
 */

/** One job per file to stage (and a per-cart "gate" job, see CartFlows.submit). */
export const STAGE_QUEUE = 'stage';
/** One "finish cart" job per cart: the parent of its file jobs. */
export const FINISH_QUEUE = 'finish';

export interface StageJobData {
  readonly cartId: number;
  readonly fileId: number;
}

export interface FinishJobData {
  readonly cartId: number;
  readonly generation: number;
}

/**
 * Job ids carry the cart's generation (bumped whenever a cart is sent back to staging):
 * BullMQ silently ignores an add whose id already exists, so a re-staged cart needs new ids.
 */
export const cartJobId = (cartId: number, generation: number): string => `cart-${cartId}-g${generation}`;
export const fileJobId = (fileId: number, generation: number, round = 0): string => `file-${fileId}-g${generation}${round > 0 ? `-r${round}` : ''}`;
export const gateJobId = (cartId: number, generation: number): string => `gate-${cartId}-g${generation}`;

/** The file row id inside a file job's key (`{prefix}:stage:file-12-g0`), or undefined. */
export function fileIdOfJobKey(key: string): number | undefined {
  const m = /:file-(\d+)-g\d+(?:-r\d+)?$/.exec(key);
  return m ? Number(m[1]) : undefined;
}

/** Hash: cart id -> id of its current finish job (so DELETE finds the flow of a deleted cart). */
export const flowsKey = (prefix: string): string => `${prefix}:cartd:flows`;
/** Pub/sub channel: a cart id published here aborts that cart's transfers in every worker. */
export const cancelChannel = (prefix: string): string => `${prefix}:cartd:cancel`;

/**
 * Retention, so Redis stays bounded whatever the traffic: file jobs vanish when done (the
 * database holds each file's outcome); the last 100 finished carts are kept for a look
 * with any BullMQ dashboard; failed jobs (a crash, never a file fault: those complete)
 * are kept a week, at most 1,000.
 */
export const KEEP_FINISHED_CARTS = 100;
export const KEEP_FAILED = { age: 7 * 24 * 3600, count: 1000 } as const;
/** Approximate cap of each queue's event stream (BullMQ's default is 10,000). */
export const EVENTS_MAX_LEN = 1000;

/** Unexpected crashes of a step (a bug, the database locked for too long) are retried by BullMQ. */
export const STAGE_JOB_OPTIONS: JobsOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: true,
  removeOnFail: KEEP_FAILED,
  // A file job that fails for good must not hold its cart forever: the finish job runs and
  // records it (see finishCartJob).
  ignoreDependencyOnFailure: true,
};

export const FINISH_JOB_OPTIONS: JobsOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: { count: KEEP_FINISHED_CARTS },
  removeOnFail: KEEP_FAILED,
};

/**
 * How long a gate waits before opening on its own: only if the process adding the cart's
 * file jobs died half-way; the finish job then queues whatever is still pending.
 */
export const GATE_SAFETY_DELAY_MS = 5 * 60_000;

/** Connection options for every BullMQ client: workers must retry forever, never drop a command. */
export function connectionOptions(url: string): ConnectionOptions {
  return { url, maxRetriesPerRequest: null };
}
