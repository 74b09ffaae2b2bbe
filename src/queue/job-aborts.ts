/** Why a running step was aborted; it decides what becomes of its job. */
export type AbortReason =
  /** The cart was deleted or failed as a whole: the job just ends. */
  | 'cart-cancelled'
  /** This process is stopping: the job goes back to the queue for another worker. */
  | 'shutdown'
  /** This worker lost the job's lock (another worker has it now): touch nothing. */
  | 'lock-lost';

export interface RunningStep {
  readonly signal: AbortSignal;
  /** Why it was aborted, once it was. */
  readonly reason: AbortReason | undefined;
  close(): void;
}

interface Entry {
  readonly cartId: number;
  readonly controller: AbortController;
  reason: AbortReason | undefined;
}

/**
 * The abort switches of the steps running in this process, by job and by cart, so a
 * DELETE (heard through pub/sub), a lost lock or a shutdown reaches the HTTP request and
 * the file write of exactly the steps concerned.
 */
export class JobAborts {
  private readonly byJob = new Map<string, Entry>();

  /** Register a step; `outer` (BullMQ's own signal for the job) aborts it too. */
  open(jobId: string, cartId: number, outer?: AbortSignal): RunningStep {
    const entry: Entry = { cartId, controller: new AbortController(), reason: undefined };
    this.byJob.set(jobId, entry);
    const onOuter = (): void => this.abortEntry(entry, 'shutdown');
    if (outer?.aborted) onOuter();
    else outer?.addEventListener('abort', onOuter, { once: true });
    return {
      signal: entry.controller.signal,
      get reason() {
        return entry.reason;
      },
      close: () => {
        outer?.removeEventListener('abort', onOuter);
        if (this.byJob.get(jobId) === entry) this.byJob.delete(jobId);
      },
    };
  }

  /** Abort every step of the cart; returns how many there were. */
  abortCart(cartId: number, reason: AbortReason = 'cart-cancelled'): number {
    let n = 0;
    for (const entry of this.byJob.values()) {
      if (entry.cartId !== cartId) continue;
      this.abortEntry(entry, reason);
      n++;
    }
    return n;
  }

  abortJob(jobId: string, reason: AbortReason): void {
    const entry = this.byJob.get(jobId);
    if (entry) this.abortEntry(entry, reason);
  }

  abortAll(reason: AbortReason): void {
    for (const entry of this.byJob.values()) this.abortEntry(entry, reason);
  }

  get size(): number {
    return this.byJob.size;
  }

  private abortEntry(entry: Entry, reason: AbortReason): void {
    if (entry.controller.signal.aborted) return;
    entry.reason = reason;
    entry.controller.abort(reason);
  }
}
