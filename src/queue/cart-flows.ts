import { FlowProducer, Queue, type ParentOptions } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import {
  EVENTS_MAX_LEN,
  FINISH_JOB_OPTIONS,
  FINISH_QUEUE,
  GATE_SAFETY_DELAY_MS,
  STAGE_JOB_OPTIONS,
  STAGE_QUEUE,
  cancelChannel,
  cartJobId,
  connectionOptions,
  fileGroups,
  filesJobId,
  flowsKey,
  gateJobId,
  ownJobId,
  type FinishJobData,
  type StageJobData,
} from './bullmq-layout';

export interface CartFlowsOptions {
  readonly url: string;
  readonly prefix: string;
  readonly log: Logger;
}

/** The cart fields a flow is built from. */
export interface CartRef {
  readonly id: number;
  readonly generation: number;
}

/** File jobs added per round trip: a cart of a million files never becomes one giant MULTI. */
const ADD_BATCH = 1000;
/** States in which a cart's finish job still has work ahead of it. */
const LIVE_STATES = new Set(['waiting-children', 'waiting', 'active', 'delayed', 'prioritized']);

const FORGET_SCRIPT = `if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end return 0`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A job staging `fileIds` of a cart, a child of its finish job `parent`. */
function stageJob(cartId: number, fileIds: readonly number[], jobId: string, parent: ParentOptions, delayMs = 0) {
  return {
    name: 'stage',
    data: { cartId, fileIds } satisfies StageJobData,
    opts: { ...STAGE_JOB_OPTIONS, jobId, parent, ...(delayMs > 0 ? { delay: delayMs } : {}) },
  };
}

/**
 * The producing side of staging on BullMQ: add a cart's flow, find it again, cancel it.
 * Holds no worker, so a short-lived process (`cartd-cmd fixit --queue`) can use it too.
 */
export class CartFlows {
  readonly stage: Queue<StageJobData>;
  readonly finish: Queue<FinishJobData>;
  readonly redis: Redis;
  private readonly flow: FlowProducer;

  constructor(private readonly opts: CartFlowsOptions) {
    const connection = connectionOptions(opts.url);
    const common = { connection, prefix: opts.prefix, streams: { events: { maxLen: EVENTS_MAX_LEN } } };
    this.stage = new Queue<StageJobData>(STAGE_QUEUE, common);
    this.finish = new Queue<FinishJobData>(FINISH_QUEUE, common);
    this.flow = new FlowProducer({ connection, prefix: opts.prefix });
    this.redis = new Redis(opts.url, { maxRetriesPerRequest: null });
    const onError = (err: Error): void => opts.log.warn({ err: err.message }, 'redis error (retrying)');
    this.stage.on('error', onError);
    this.finish.on('error', onError);
    this.flow.on('error', onError);
    this.redis.on('error', onError);
  }

  async ready(): Promise<void> {
    await Promise.all([this.stage.waitUntilReady(), this.finish.waitUntilReady(), this.flow.waitUntilReady()]);
  }

  /**
   * Queue a cart: its finish job, then its file jobs as that job's children. The finish job
   * is created with one extra child, a gate, so it cannot run while file jobs are still
   * being added in batches; removing the gate at the end lets it run once they are done.
   * Does nothing when this generation's flow is still live.
   */
  async submit(cart: CartRef, fileIds: readonly number[]): Promise<'queued' | 'already-queued'> {
    const parentId = cartJobId(cart.id, cart.generation);
    const state = await this.finish.getJobState(parentId);
    if (LIVE_STATES.has(state)) return 'already-queued';
    if (state !== 'unknown') await this.finish.remove(parentId, { removeChildren: true });
    await this.redis.hset(flowsKey(this.opts.prefix), String(cart.id), parentId);
    const gate = gateJobId(cart.id, cart.generation);
    await this.flow.add({
      name: 'finish',
      queueName: FINISH_QUEUE,
      data: { cartId: cart.id, generation: cart.generation } satisfies FinishJobData,
      opts: { ...FINISH_JOB_OPTIONS, jobId: parentId },
      children: [
        {
          name: 'gate',
          queueName: STAGE_QUEUE,
          data: { cartId: cart.id, fileIds: [] } satisfies StageJobData,
          opts: { ...STAGE_JOB_OPTIONS, jobId: gate, delay: GATE_SAFETY_DELAY_MS },
        },
      ],
    });
    await this.addFileJobs(cart, fileIds, { id: parentId, queue: this.finish.qualifiedName });
    await this.stage.remove(gate);
    return 'queued';
  }

  /** Add file jobs under an existing finish job (`round` > 0: the finish job queues leftovers again). */
  async addFileJobs(cart: CartRef, fileIds: readonly number[], parent: ParentOptions, round = 0): Promise<void> {
    const groups = fileGroups(fileIds);
    for (let i = 0; i < groups.length; i += ADD_BATCH) {
      await this.stage.addBulk(groups.slice(i, i + ADD_BATCH).map((ids) => stageJob(cart.id, ids, filesJobId(cart.id, cart.generation, ids[0] ?? 0, round), parent)));
    }
  }

  /**
   * Files of the group job `groupJobId` that must wait (`delayMs`) go on as jobs of their
   * own under the same finish job, added before the group's job completes so the cart
   * cannot finish in between.
   */
  async addOwnJobs(groupJobId: string, cartId: number, parent: ParentOptions, files: readonly { fileId: number; delayMs: number }[]): Promise<void> {
    await this.stage.addBulk(files.map(({ fileId, delayMs }) => stageJob(cartId, [fileId], ownJobId(groupJobId, fileId), parent, delayMs)));
  }

  /** Whether this generation of the cart still has a flow with work ahead of it. */
  async isQueued(cart: CartRef): Promise<boolean> {
    return LIVE_STATES.has(await this.finish.getJobState(cartJobId(cart.id, cart.generation)));
  }

  /**
   * Cancel a cart: every worker aborts its transfers for it (pub/sub), then its flow is
   * removed from Redis, waiting and delayed jobs included. A job still running is locked
   * and cannot be removed: its abort makes it end within moments, so try again until
   * `deadlineMs`. Returns false if jobs were left (they find the cart gone and do nothing).
   */
  async cancel(cartId: number, deadlineMs = 5000): Promise<boolean> {
    await this.publishCancel(cartId);
    const parentId = await this.redis.hget(flowsKey(this.opts.prefix), String(cartId));
    if (parentId === null) return true;
    const until = Date.now() + deadlineMs;
    for (;;) {
      const removed = await this.finish.remove(parentId, { removeChildren: true });
      if (removed === 1 || (await this.finish.getJobState(parentId)) === 'unknown') break;
      if (Date.now() > until) return false;
      await sleep(20);
    }
    await this.forget(cartId, parentId);
    return true;
  }

  /** Abort the cart's transfers in progress in every worker. */
  async publishCancel(cartId: number): Promise<void> {
    await this.redis.publish(cancelChannel(this.opts.prefix), String(cartId));
  }

  /** Drop the pointer to a cart's flow, if it still names this finish job. */
  async forget(cartId: number, parentId: string): Promise<void> {
    // Compare and delete in one step: a re-staged cart may have pointed it elsewhere meanwhile.
    await this.redis.eval(FORGET_SCRIPT, 1, flowsKey(this.opts.prefix), String(cartId), parentId);
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.flow.close(), this.stage.close(), this.finish.close()]);
    this.redis.disconnect();
  }
}
