import type { StagingRunner } from '../core/ports';
import type { StagingDeps } from '../staging/deps';
import { CartFlows } from './cart-flows';
import { queueCart } from './cart-queue';
import { StagingWorkers } from './staging-workers';

export interface BullmqRunnerOptions {
  /** Redis URL (`[redis] url`). */
  readonly url: string;
  /** Prefix of every key (`[redis] prefix`). */
  readonly prefix: string;
  /** File steps at once in this process's worker (`[cartd] concurrency`). */
  readonly concurrency: number;
  /**
   * Most file steps running at once across all workers (`[archiveinterface] max_requests`).
   * A step holds at most one request to the archive at a time, so this caps the archive's
   * simultaneous requests; waiting tape checks are delayed jobs and do not count.
   */
  readonly maxRequests: number;
  /** Run a worker in this process (false: `cartd serve --no-worker`, or an admin command). */
  readonly worker: boolean;
  /** At start, queue again unfinished carts whose flow is missing from Redis (the API server does). */
  readonly resubmit: boolean;
  /** Job lock; a dead worker's jobs are taken over within about twice this. Default 30 s. */
  readonly lockMs?: number;
  /** On stop, how long running steps may finish before they are handed back. Default 10 s. */
  readonly drainMs?: number;
}

/**
 * Staging on BullMQ: a cart is a flow (a "finish cart" job whose children are its file
 * jobs), so one API server and any number of `cartd worker` processes share the work
 * through Redis. A short-lived process that only hands carts to the workers uses
 * openCartQueue (cart-queue.ts) instead.
 */
export class BullmqRunner implements StagingRunner {
  readonly flows: CartFlows;
  private workers: StagingWorkers | undefined;

  constructor(
    private readonly deps: StagingDeps,
    private readonly opts: BullmqRunnerOptions,
  ) {
    this.flows = new CartFlows({ url: opts.url, prefix: opts.prefix, log: deps.log });
  }

  async start(): Promise<void> {
    await this.flows.ready();
    await this.flows.stage.setGlobalConcurrency(this.opts.maxRequests);
    if (this.opts.resubmit) {
      for (const cart of this.deps.carts.unfinished()) {
        if (!(await this.flows.isQueued(cart))) await this.submitCart(cart.id);
      }
    }
    if (this.opts.worker) {
      const workers = new StagingWorkers(this.deps, this.flows, {
        url: this.opts.url,
        prefix: this.opts.prefix,
        concurrency: this.opts.concurrency,
        lockMs: this.opts.lockMs ?? 30_000,
      });
      this.workers = workers;
      await workers.start();
    }
  }

  submitCart(cartId: number): Promise<void> {
    return queueCart(this.flows, this.deps, cartId);
  }

  /** Abort its transfers everywhere, remove its jobs; resolves once none of them runs. */
  async cancelCart(cartId: number): Promise<void> {
    this.workers?.aborts.abortCart(cartId);
    if (!(await this.flows.cancel(cartId))) {
      this.deps.log.warn({ cartId }, 'some jobs of the cancelled cart could not be removed; they will find it gone');
    }
  }

  async stop(): Promise<void> {
    try {
      await this.workers?.stop(this.opts.drainMs ?? 10_000);
    } finally {
      this.workers = undefined;
      await this.flows.close();
    }
  }
}
