import { InvalidArgumentError } from 'commander';
import { parseTimeAgo, TIME_AGO_SYNTAX } from '../../src/cli/time-ago';

const NOW = Date.UTC(2026, 0, 31, 12, 0, 0);

describe('--time-ago syntax ("N unit ago", as the reference)', () => {
  test.each([
    ['1 seconds ago', 1_000],
    ['1 second ago', 1_000],
    ['90 seconds ago', 90_000],
    ['5 minutes ago', 300_000],
    ['1 minute ago', 60_000],
    ['2 Hours ago', 7_200_000],
    ['60 days ago', 60 * 86_400_000],
    ['1 day ago', 86_400_000],
    ['3 weeks ago', 3 * 604_800_000],
    ['  0 seconds ago  ', 0],
    ['180 days   ago', 180 * 86_400_000],
  ])('%j is %d ms before now', (text, ms) => {
    expect(parseTimeAgo(text, NOW).cutoff).toBe(NOW - ms);
  });

  test.each(['60 dayz ago', '60 days', 'ago', 'days ago', '-1 days ago', '1.5 days ago', 'sixty days ago', '3 months ago', '1 year ago', '', '60 days from now'])(
    '%j is refused with the expected syntax',
    (text) => {
      expect(() => parseTimeAgo(text, NOW)).toThrow(InvalidArgumentError);
      expect(() => parseTimeAgo(text, NOW)).toThrow(TIME_AGO_SYNTAX);
    },
  );
});
