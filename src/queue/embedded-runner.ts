import { CancelledError } from '../core/errors';
import type { StagingRunner } from '../core/ports';
import type { StagingDeps } from '../staging/deps';
import { finishCart } from '../staging/finish-cart';
import { stageFileStep } from '../staging/stage-file';

interface Job {
  readonly cartId: number;
  readonly fileId: number;
}

/**
 * Runs staging inside the server process: a FIFO of file steps, at most `concurrency` at
 * once, delayed steps on timers. No Redis needed; what it loses on a crash is rebuilt from
 * the database by start() (every unfinished cart is submitted again).
 */
export class EmbeddedRunner implements StagingRunner {
  private readonly queue: Job[] = [];
  private head = 0;
  private readonly known = new Set<number>();
  private readonly timers = new Map<number, { job: Job; timer: NodeJS.Timeout }>();
  private readonly running = new Map<number, { job: Job; done: Promise<void> }>();
  private readonly cartAborts = new Map<number, AbortController>();
  private stopped = false;

  constructor(
    private readonly deps: StagingDeps,
    private readonly concurrency: number,
  ) {}

  async start(): Promise<void> {
    this.stopped = false;
    for (const cart of this.deps.carts.unfinished()) await this.submitCart(cart.id);
  }

  async submitCart(cartId: number): Promise<void> {
    const ids = this.deps.carts.pendingFileIds(cartId);
    if (ids.length === 0) finishCart(this.deps, cartId);
    for (const fileId of ids) this.enqueue({ cartId, fileId });
    this.pump();
  }

  async cancelCart(cartId: number): Promise<void> {
    this.cartAborts.get(cartId)?.abort();
    this.cartAborts.delete(cartId);
    this.dropQueued((j) => j.cartId === cartId);
    await Promise.all([...this.running.values()].filter((r) => r.job.cartId === cartId).map((r) => r.done));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const ac of this.cartAborts.values()) ac.abort();
    this.cartAborts.clear();
    this.dropQueued(() => true);
    await Promise.all([...this.running.values()].map((r) => r.done));
  }

  /** Steps queued, waiting on a timer, or running: for tests and status. */
  get pending(): number {
    return this.known.size;
  }

  private enqueue(job: Job): void {
    if (this.known.has(job.fileId)) return;
    this.known.add(job.fileId);
    this.queue.push(job);
  }

  private dropQueued(match: (j: Job) => boolean): void {
    const keep = this.queue.slice(this.head).filter((j) => !match(j));
    for (const j of this.queue.slice(this.head)) if (match(j)) this.known.delete(j.fileId);
    this.queue.length = 0;
    this.head = 0;
    this.queue.push(...keep);
    for (const [fileId, t] of this.timers) {
      if (!match(t.job)) continue;
      clearTimeout(t.timer);
      this.timers.delete(fileId);
      this.known.delete(fileId);
    }
  }

  private signalFor(cartId: number): AbortSignal {
    let ac = this.cartAborts.get(cartId);
    if (!ac) {
      ac = new AbortController();
      this.cartAborts.set(cartId, ac);
    }
    return ac.signal;
  }

  private pump(): void {
    while (!this.stopped && this.running.size < this.concurrency && this.head < this.queue.length) {
      const job = this.queue[this.head++]!;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      const done = this.run(job).finally(() => {
        this.running.delete(job.fileId);
        this.pump();
      });
      this.running.set(job.fileId, { job, done });
    }
  }

  private async run(job: Job): Promise<void> {
    try {
      const outcome = await stageFileStep(this.deps, job.fileId, this.signalFor(job.cartId));
      if (outcome.kind === 'again' && !this.stopped) {
        const timer = setTimeout(() => {
          this.timers.delete(job.fileId);
          this.queue.push(job);
          this.pump();
        }, outcome.delayMs);
        this.timers.set(job.fileId, { job, timer });
        return;
      }
      this.known.delete(job.fileId);
      if (outcome.kind === 'cart-failed') await this.cancelOthers(job);
      finishCart(this.deps, job.cartId);
    } catch (err) {
      this.known.delete(job.fileId);
      if (!(err instanceof CancelledError)) this.deps.log.error({ err, fileRow: job.fileId }, 'staging step crashed');
    }
  }

  private async cancelOthers(job: Job): Promise<void> {
    this.cartAborts.get(job.cartId)?.abort();
    this.cartAborts.delete(job.cartId);
    this.dropQueued((j) => j.cartId === job.cartId);
  }
}
