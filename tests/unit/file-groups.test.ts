/**
 * How a cart's files are cut into BullMQ jobs: every file once, in order; one file a job
 * for small carts; never fewer than MIN_JOBS jobs for a bigger cart (the slots of many
 * workers stay busy), never more than MAX_GROUP files a job.
 */
import { MAX_GROUP, MIN_JOBS, fileGroups } from '../../src/queue/bullmq-layout';

const ids = (n: number): number[] => Array.from({ length: n }, (_, i) => 1000 + i);

describe('fileGroups', () => {
  test.each([
    [0, 0, 0],
    [1, 1, 1],
    [64, 64, 1],
    [127, 127, 1],
    [128, 64, 2],
    [300, 75, 4],
    [2000, 65, 31],
    [2048, 64, 32],
    [100_000, 3125, 32],
  ])('%i files: %i jobs of at most %i', (n, jobs, largest) => {
    const groups = fileGroups(ids(n));
    expect(groups).toHaveLength(jobs);
    expect(Math.max(0, ...groups.map((g) => g.length))).toBe(largest);
    expect(groups.flat()).toEqual(ids(n));
  });

  test('from MIN_JOBS files on, a cart has at least MIN_JOBS jobs and none above MAX_GROUP files', () => {
    for (let n = MIN_JOBS; n <= 5000; n += 7) {
      const groups = fileGroups(ids(n));
      expect(groups.length).toBeGreaterThanOrEqual(MIN_JOBS);
      expect(groups.every((g) => g.length >= 1 && g.length <= MAX_GROUP)).toBe(true);
    }
  });
});
