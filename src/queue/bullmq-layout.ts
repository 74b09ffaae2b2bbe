import type { ConnectionOptions, JobsOptions } from 'bullmq';

/**
 * Where cartd's staging lives in Redis, and how much of it is kept. Every key is under
 * the configured prefix (`[redis] prefix`): BullMQ's own as `{prefix}:{queue}:...`, ours
 * as `{prefix}:cartd:...`.
 */

/** Jobs staging a cart's files, a group of files each (and a per-cart "gate" job, see CartFlows.submit). */
export const STAGE_QUEUE = 'stage';
/** One "finish cart" job per cart: the parent of its file jobs. */
export const FINISH_QUEUE = 'finish';

export interface StageJobData {
  readonly cartId: number;
  /** Staged one after another; a job of one file waits as a delayed job when it must wait. */
  readonly fileIds: readonly number[];
}

export interface FinishJobData {
  readonly cartId: number;
  readonly generation: number;
}

/**
 * Job ids carry the cart's generation (bumped whenever a cart is sent back to staging):
 * BullMQ silently ignores an add whose id already exists, so a re-staged cart needs new ids.
 * A file job is named after its cart and its first file; `round` > 0 when the finish job
 * queues leftovers again.
 */
export const cartJobId = (cartId: number, generation: number): string => `cart-${cartId}-g${generation}`;
export const filesJobId = (cartId: number, generation: number, firstFileId: number, round = 0): string =>
  `files-${cartId}-g${generation}-${firstFileId}${round > 0 ? `-r${round}` : ''}`;
/** A file of a group that must wait (tape, a fault to retry, space) goes on as a job of its own. */
export const ownJobId = (groupJobId: string, fileId: number): string => `${groupJobId}-f${fileId}`;
export const gateJobId = (cartId: number, generation: number): string => `gate-${cartId}-g${generation}`;

/**
 * Files per job: one each for a cart of up to 2 x MIN_JOBS - 1 files; bigger carts share
 * them out so that a cart still has at least MIN_JOBS jobs (as many files at once as that
 * many worker slots can take), at most MAX_GROUP files a job. A job costs a few Redis round
 * trips and scripts however small its file, so a cart of 2,000 small files is 65 jobs, not
 * 2,000.
 */
export const MIN_JOBS = 64;
export const MAX_GROUP = 32;

/** `fileIds` in order, cut into the groups of one cart's file jobs. */
export function fileGroups(fileIds: readonly number[]): number[][] {
  const size = Math.max(1, Math.min(MAX_GROUP, Math.floor(fileIds.length / MIN_JOBS)));
  const groups: number[][] = [];
  for (let i = 0; i < fileIds.length; i += size) groups.push(fileIds.slice(i, i + size));
  return groups;
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

/**
 * Unexpected crashes of a step (a bug, the database locked for too long) are retried by
 * BullMQ, backing off from this delay; a file of a group that crashes goes on as a job of
 * its own after it.
 */
export const STEP_CRASH_DELAY_MS = 1000;

export const STAGE_JOB_OPTIONS: JobsOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: STEP_CRASH_DELAY_MS },
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
