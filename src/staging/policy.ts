/** When to try again: transfer faults and tape checks both back off, never a hot loop. */
export interface StagingPolicy {
  /** Tries per file before a fault fails it. */
  readonly retries: number;
  readonly retryDelayMs: number;
  readonly retryMaxDelayMs: number;
  readonly tapeFirstDelayMs: number;
  readonly tapeBackoffFactor: number;
  readonly tapeMaxDelayMs: number;
  readonly tapeTimeLimitMs: number;
  /** Wait while another transfer brings the same bytes. */
  readonly busyDelayMs: number;
}

/** Delay before try `tries + 1` after `tries` failed ones: doubling from the first delay, capped. */
export function retryDelay(p: StagingPolicy, tries: number): number {
  return Math.min(p.retryMaxDelayMs, p.retryDelayMs * 2 ** Math.max(0, tries - 1));
}

/**
 * Delay before the next tape check, `elapsedMs` after the recall. Checks land at
 * first, first*(1+f), ... so gaps grow by `factor`; never past the time limit.
 */
export function tapeDelay(p: StagingPolicy, elapsedMs: number): number {
  const grown = elapsedMs * (p.tapeBackoffFactor - 1);
  const delay = Math.min(p.tapeMaxDelayMs, Math.max(p.tapeFirstDelayMs, grown));
  return Math.max(0, Math.min(delay, p.tapeTimeLimitMs - elapsedMs));
}
