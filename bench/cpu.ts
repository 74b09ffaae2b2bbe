/**
 * CPU time of processes (user + system, every thread), from /proc/PID/stat (Linux): where a
 * run's cores went, cartd beside the staging limit and the archive server sharing them. A
 * time ratio close to the CPU ratio says the gap is work done, not time spent waiting.
 */
import { readFileSync } from 'node:fs';
import type { Watched } from './rss';

/** USER_HZ, the unit of utime and stime: 100 on every Linux architecture Node runs on. */
const TICKS_PER_SECOND = 100;

/** Seconds of CPU `pid` has used so far, or undefined when it is gone (or not Linux). */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces: state is
    // field 3, utime 14 and stime 15.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks / TICKS_PER_SECOND : undefined;
  } catch {
    return undefined;
  }
}

/** CPU seconds per role, summed over that role's processes. */
export type CpuByRole = Record<string, number>;

/** CPU each process used between start (construction) and stop(). */
export class CpuWatch {
  private readonly start = new Map<number, number>();

  constructor(private readonly procs: readonly Watched[]) {
    for (const p of procs) this.start.set(p.pid, cpuSeconds(p.pid) ?? Number.NaN);
  }

  stop(): CpuByRole {
    const used: CpuByRole = {};
    for (const p of this.procs) used[p.role] = (used[p.role] ?? 0) + ((cpuSeconds(p.pid) ?? Number.NaN) - (this.start.get(p.pid) ?? Number.NaN));
    return used;
  }
}

export const sumCpu = (used: CpuByRole): number => Object.values(used).reduce((n, s) => n + s, 0);
