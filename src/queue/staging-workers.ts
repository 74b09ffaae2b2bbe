import { DelayedError, WaitingChildrenError, WaitingError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import os from 'node:os';
import { CancelledError } from '../core/errors';
import type { StagingDeps, StepOutcome } from '../staging/deps';
import { finishCart } from '../staging/finish-cart';
import { stageFileStep } from '../staging/stage-file';
import { FINISH_QUEUE, STAGE_QUEUE, STEP_CRASH_DELAY_MS, cancelChannel, connectionOptions, type FinishJobData, type StageJobData } from './bullmq-layout';
import type { CartFlows } from './cart-flows';
import { JobAborts } from './job-aborts';

export interface StagingWorkersOptions {
  readonly url: string;
  readonly prefix: string;
  /** File steps at once in this process. */
  readonly concurrency: number;
  /**
   * Lock of a running job, renewed every half of it; a worker that dies (SIGKILL, lost
   * machine) has its jobs taken over by another worker within about twice this.
   */
  readonly lockMs: number;
}

/** How often a finish job may queue again files whose jobs all ended without settling them. */
const MAX_REQUEUE_ROUNDS = 3;

/**
 * The BullMQ workers of one process: file steps (`stage` queue) and cart finishing
 * (`finish` queue), plus the pub/sub listener that aborts a cancelled cart's transfers.
 */
export class StagingWorkers {
  readonly aborts = new JobAborts();
  private readonly stageWorker: Worker<StageJobData, string>;
  private readonly finishWorker: Worker<FinishJobData, string>;
  private readonly subscriber: Redis;

  constructor(
    private readonly deps: StagingDeps,
    private readonly flows: CartFlows,
    private readonly opts: StagingWorkersOptions,
  ) {
    const common = {
      connection: connectionOptions(opts.url),
      prefix: opts.prefix,
      name: `${os.hostname()}:${process.pid}`,
      lockDuration: opts.lockMs,
      stalledInterval: Math.max(500, Math.round(opts.lockMs / 2)),
      maxStalledCount: 5,
      autorun: false,
    };
    this.stageWorker = new Worker<StageJobData, string>(STAGE_QUEUE, (job, token, signal) => this.stage(job, token, signal), {
      ...common,
      concurrency: opts.concurrency,
    });
    this.finishWorker = new Worker<FinishJobData, string>(FINISH_QUEUE, (job, token) => this.finish(job, token), { ...common, concurrency: 2 });
    const log = deps.log;
    for (const w of [this.stageWorker, this.finishWorker]) {
      w.on('error', (err) => log.warn({ err: err.message, queue: w.name }, 'worker error (retrying)'));
      w.on('failed', (job, err) => log.error({ err: err.message, job: job?.id, queue: w.name }, 'staging job crashed'));
    }
    // Another worker owns the job now: stop writing its file at once.
    this.stageWorker.on('lockRenewalFailed', (jobIds) => {
      for (const id of jobIds) this.aborts.abortJob(id, 'lock-lost');
    });
    this.subscriber = new Redis(opts.url, { maxRetriesPerRequest: null });
    this.subscriber.on('error', (err: Error) => log.warn({ err: err.message }, 'redis subscriber error (retrying)'));
    this.subscriber.on('message', (_channel: string, message: string) => {
      const cartId = Number(message);
      if (!Number.isSafeInteger(cartId)) return;
      const n = this.aborts.abortCart(cartId);
      if (n > 0) log.info({ cartId, steps: n }, 'cart cancelled; transfers aborted');
    });
  }

  async start(): Promise<void> {
    await this.subscriber.subscribe(cancelChannel(this.opts.prefix));
    // run() settles when the worker closes; a rejection (Redis gone for good) must not crash the process unlogged.
    for (const w of [this.stageWorker, this.finishWorker]) {
      w.run().catch((err: unknown) => this.deps.log.error({ err, queue: w.name }, 'worker stopped on an error'));
    }
    await Promise.all([this.stageWorker.waitUntilReady(), this.finishWorker.waitUntilReady()]);
  }

  /**
   * Stop taking jobs; running steps get `drainMs` to finish, then are aborted and their
   * jobs handed back to the queue for another worker (their temp files are removed by the
   * abort). Resolves when nothing runs any more.
   */
  async stop(drainMs: number): Promise<void> {
    const timer = setTimeout(() => this.aborts.abortAll('shutdown'), drainMs);
    try {
      await Promise.all([this.stageWorker.close(), this.finishWorker.close()]);
    } finally {
      clearTimeout(timer);
      this.subscriber.disconnect();
    }
  }

  /** The steps of a job's files, one after another. 'again' never holds the slot. */
  private async stage(job: Job<StageJobData, string>, token: string | undefined, signal: AbortSignal | undefined): Promise<string> {
    if (job.name === 'gate') return 'gate';
    const { cartId, fileIds } = job.data;
    const step = this.aborts.open(job.id ?? '', cartId, signal);
    try {
      const [only] = fileIds;
      if (fileIds.length === 1 && only !== undefined) return await this.stageOne(job, token, only, step.signal);
      return await this.stageGroup(job, token, fileIds, step.signal);
    } catch (err) {
      if (!(err instanceof CancelledError)) throw err;
      if (step.reason === 'shutdown') {
        await job.moveToWait(token);
        throw new WaitingError();
      }
      if (step.reason === 'lock-lost') throw new DelayedError();
      return 'cancelled';
    } finally {
      step.close();
    }
  }

  /** A job of one file waits as a delayed job; a crash is retried by BullMQ (STAGE_JOB_OPTIONS). */
  private async stageOne(job: Job<StageJobData, string>, token: string | undefined, fileId: number, signal: AbortSignal): Promise<string> {
    const outcome = await stageFileStep(this.deps, fileId, signal);
    if (outcome.kind === 'again') {
      await job.moveToDelayed(Date.now() + outcome.delayMs, token);
      throw new DelayedError();
    }
    // No space: the cart failed as a whole; stop its other transfers wherever they run.
    if (outcome.kind === 'cart-failed') await this.flows.publishCancel(job.data.cartId);
    return outcome.kind;
  }

  /**
   * A group's files one after another. A file that must wait for a fault's retry or for room
   * (or whose step crashed) goes on as a job of its own, added before this one ends, so the
   * rest of the group does not wait for it. Files waiting for the tape system were recalled
   * together and are checked again together: this job waits (delayed) with just them.
   */
  private async stageGroup(job: Job<StageJobData, string>, token: string | undefined, fileIds: readonly number[], signal: AbortSignal): Promise<string> {
    const { cartId } = job.data;
    const later: { fileId: number; delayMs: number }[] = [];
    const onTape: { fileId: number; delayMs: number }[] = [];
    for (const fileId of fileIds) {
      if (signal.aborted) throw new CancelledError();
      let outcome: StepOutcome;
      try {
        outcome = await stageFileStep(this.deps, fileId, signal);
      } catch (err) {
        if (err instanceof CancelledError) throw err;
        this.deps.log.error({ err, cartId, fileId, job: job.id }, 'staging step crashed; the file goes on as a job of its own');
        later.push({ fileId, delayMs: STEP_CRASH_DELAY_MS });
        continue;
      }
      if (outcome.kind === 'again') (outcome.reason === 'tape' ? onTape : later).push({ fileId, delayMs: outcome.delayMs });
      if (outcome.kind === 'cart-failed') {
        await this.flows.publishCancel(cartId);
        return outcome.kind;
      }
    }
    const parent = job.parent;
    if (later.length > 0) {
      if (job.id === undefined || parent?.id === undefined) throw new Error(`file job ${job.id ?? '?'} has no finish job to add its waiting files under`);
      await this.flows.addOwnJobs(job.id, cartId, { id: parent.id, queue: parent.queueKey }, later);
    }
    if (onTape.length === 0) return 'settled';
    await job.updateData({ cartId, fileIds: onTape.map((f) => f.fileId) });
    await job.moveToDelayed(Date.now() + Math.min(...onTape.map((f) => f.delayMs)), token);
    throw new DelayedError();
  }

  /** All of a cart's file jobs ended: settle the cart `ready` or `error`, exactly once. */
  private async finish(job: Job<FinishJobData, string>, token: string | undefined): Promise<string> {
    const { cartId, generation } = job.data;
    const { carts, log, now } = this.deps;
    // A file job that crashed for good (not a fault of the archive: those complete).
    const failures = await job.getIgnoredChildrenFailures();
    for (const [key, reason] of Object.entries(failures)) {
      const failed = await this.flows.stage.getJob(key.slice(key.lastIndexOf(':') + 1));
      for (const fileId of failed?.data.fileIds ?? []) {
        const file = carts.file(fileId);
        if (file?.status === 'pending') carts.markFailed(file.id, `file ${file.archiveId}: staging crashed (${reason})`, now());
      }
    }
    const cart = carts.getLive(cartId);
    if (cart?.status === 'staging' && cart.generation === generation) {
      const pending = carts.pendingFileIds(cartId);
      // Jobs lost (the adding process died half-way, Redis lost data): queue them again.
      if (pending.length > 0 && job.attemptsStarted <= MAX_REQUEUE_ROUNDS && job.id !== undefined) {
        log.warn({ cart: cart.uid, files: pending.length }, 'files still pending after their jobs ended; queueing them again');
        await this.flows.addFileJobs(cart, pending, { id: job.id, queue: this.flows.finish.qualifiedName }, job.attemptsStarted);
        if (await job.moveToWaitingChildren(token ?? '')) throw new WaitingChildrenError();
      }
      for (const id of carts.pendingFileIds(cartId)) {
        const file = carts.file(id);
        if (file) carts.markFailed(id, `file ${file.archiveId}: staging lost track of this file`, now());
      }
    }
    finishCart(this.deps, cartId);
    if (job.id !== undefined) await this.flows.forget(cartId, job.id);
    return 'finished';
  }
}
