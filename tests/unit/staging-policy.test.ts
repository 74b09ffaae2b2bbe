import { retryDelay, tapeDelay, type StagingPolicy } from '../../src/staging/policy';

const p: StagingPolicy = {
  retries: 5,
  retryDelayMs: 1000,
  retryMaxDelayMs: 10_000,
  tapeFirstDelayMs: 5000,
  tapeBackoffFactor: 2,
  tapeMaxDelayMs: 60_000,
  tapeTimeLimitMs: 300_000,
  busyDelayMs: 250,
};

describe('backoff', () => {
  test('retries wait 1 s, 2 s, 4 s, 8 s, then the cap', () => {
    expect([1, 2, 3, 4, 5, 6].map((t) => retryDelay(p, t))).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000]);
  });

  test('tape checks: gaps grow by the factor from the first delay, capped, and never run past the time limit', () => {
    const checks: number[] = [];
    let t = p.tapeFirstDelayMs; // the first check comes tape_first_delay after the recall
    while (t < p.tapeTimeLimitMs) {
      checks.push(t);
      t += tapeDelay(p, t);
    }
    const gaps = checks.slice(1).map((c, i) => c - checks[i]!);
    expect(checks.slice(0, 5)).toEqual([5000, 10_000, 20_000, 40_000, 80_000]);
    expect(gaps.slice(0, 4)).toEqual([5000, 10_000, 20_000, 40_000]);
    expect(Math.max(...gaps)).toBe(60_000);
    expect(t).toBe(p.tapeTimeLimitMs);
  });
});
