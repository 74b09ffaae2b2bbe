/**
 * Peak resident memory of processes, from /proc (Linux): the kernel's own high-water mark
 * (VmHWM, reset per phase through /proc/PID/clear_refs) and, as a check and where the reset
 * is not allowed, the highest VmRSS seen by sampling every 50 ms.
 */
import { readFileSync, writeFileSync } from 'node:fs';

export interface Watched {
  readonly role: string;
  readonly pid: number;
}

function statusField(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined; // gone, or not Linux
  }
}

/** Start the high-water mark afresh (Linux >= 4.0); false when the kernel refuses. */
function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** One phase's peaks, in bytes, per process role. */
export type Peaks = Record<string, number>;

export class RssWatch {
  private readonly sampled = new Map<number, number>();
  /** Resident bytes of each role when the watch began (the idle footprint). */
  readonly initial: Peaks = {};
  private readonly hwmValid = new Map<number, boolean>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly procs: readonly Watched[]) {
    for (const p of procs) {
      this.hwmValid.set(p.pid, resetPeak(p.pid));
      const rss = statusField(p.pid, 'VmRSS') ?? 0;
      this.sampled.set(p.pid, rss);
      this.initial[p.role] = rss;
    }
    this.timer = setInterval(() => this.sample(), 50);
  }

  private sample(): void {
    for (const p of this.procs) {
      const rss = statusField(p.pid, 'VmRSS');
      if (rss !== undefined) this.sampled.set(p.pid, Math.max(rss, this.sampled.get(p.pid) ?? 0));
    }
  }

  /** Stop sampling; the peak of each process since the watch began. */
  stop(): Peaks {
    clearInterval(this.timer);
    this.sample();
    const out: Peaks = {};
    for (const p of this.procs) {
      const hwm = this.hwmValid.get(p.pid) === true ? statusField(p.pid, 'VmHWM') : undefined;
      out[p.role] = Math.max(hwm ?? 0, this.sampled.get(p.pid) ?? 0);
    }
    return out;
  }
}

export function sumPeaks(peaks: Peaks): number {
  return Object.values(peaks).reduce((s, n) => s + n, 0);
}
