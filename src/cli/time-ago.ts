import { InvalidArgumentError } from 'commander';

const UNIT_SECONDS: Readonly<Record<string, number>> = { second: 1, minute: 60, hour: 3600, day: 86_400, week: 604_800 };

/** What `--time-ago` accepts, shown when it is malformed. */
export const TIME_AGO_SYNTAX = 'expected "N unit ago", N a whole number and unit one of seconds, minutes, hours, days or weeks (singular or plural), e.g. "60 days ago"';

export interface TimeAgo {
  readonly text: string;
  /** Milliseconds since the epoch: the moment `text` names, taken when the option was read. */
  readonly cutoff: number;
}

/** The reference's `--time-ago` syntax: `N unit ago` (Python timedelta's units from seconds to weeks). */
export function parseTimeAgo(text: string, now: number = Date.now()): TimeAgo {
  const m = /^\s*(\d{1,12})\s+(second|minute|hour|day|week)s?\s+ago\s*$/i.exec(text);
  if (!m) throw new InvalidArgumentError(TIME_AGO_SYNTAX);
  const seconds = Number(m[1]) * UNIT_SECONDS[m[2]!.toLowerCase()]!;
  return { text: text.trim(), cutoff: now - seconds * 1000 };
}
