/** The shape of bench/results/latest.json, and the targets checked against it. */
import type { Machine, RawLimits } from './machine';
import type { WorkloadResult } from './measure';
import type { BenchOptions } from './options';
import type { LoadResult } from './loadgen';
import type { StatusRun } from './status';
import type { RunnerName } from './deployment';

export interface GrowthPoint {
  readonly files: number;
  readonly runner: RunnerName;
  readonly readySeconds: number;
  readonly limitSeconds: number;
  readonly ratio: number;
  /** Seconds per 1,000 files. */
  readonly secondsPer1k: number;
  /** secondsPer1k / secondsPer1k at the smallest point (1 = perfectly linear). */
  readonly perFileVsSmallest: number;
  readonly peakRssBytes: number;
  /** (peak - idle RSS) / files: what each file costs in memory. */
  readonly rssBytesPerFile: number;
}

export interface Target {
  readonly what: string;
  readonly runner: string;
  readonly goal: string;
  readonly value: number;
  readonly unit: string;
  readonly met: boolean;
}

export interface BenchResults {
  readonly version: 1;
  readonly startedAt: string;
  readonly wallSeconds: number;
  readonly options: Omit<BenchOptions, 'out' | 'work'>;
  readonly machine: Machine;
  readonly rawLimits: RawLimits;
  readonly workloads: Record<string, WorkloadResult & { readonly description: string }>;
  readonly growth: GrowthPoint[];
  readonly status: { readonly limit?: LoadResult; readonly runs: StatusRun[] };
  /** Phases that could not run at all, with why. */
  readonly errors: { readonly phase: string; readonly message: string }[];
  readonly targets: Target[];
}

function target(what: string, runner: string, goal: string, value: number, unit: string, ok: (v: number) => boolean): Target {
  return { what, runner, goal, value, unit, met: Number.isFinite(value) && ok(value) };
}

/** Every target of issue 7 that this run has figures for. */
export function checkTargets(r: Omit<BenchResults, 'targets'>): Target[] {
  const out: Target[] = [];
  const runsOf = (name: string) => (r.workloads[name]?.runs ?? []).filter((x) => x.status !== 'skipped');
  for (const run of runsOf('large')) {
    out.push(target('large: time to ready / staging limit', run.runner, '<= 1.25', run.ratios.ready, 'x', (v) => v <= 1.25));
    out.push(target('large: download / download limit', run.runner, '>= 0.9', run.ratios.download, 'x', (v) => v >= 0.9));
  }
  for (const name of ['small', 'concurrent']) {
    for (const run of runsOf(name)) out.push(target(`${name}: time to ready / staging limit`, run.runner, '<= 2', run.ratios.ready, 'x', (v) => v <= 2));
  }
  for (const run of runsOf('wide')) {
    out.push(target('wide: POST answered', run.runner, '< 2 s', run.acceptSeconds, 's', (v) => v < 2));
    out.push(target('wide: time to ready / staging limit', run.runner, '<= 2', run.ratios.ready, 'x', (v) => v <= 2));
  }
  const runners = [...new Set(r.growth.map((g) => g.runner))];
  for (const runner of runners) {
    const pts = r.growth.filter((g) => g.runner === runner).sort((a, b) => a.files - b.files);
    const last = pts[pts.length - 1];
    const mid = pts[pts.length - 2];
    if (pts.length < 2 || !last || !mid) continue;
    out.push(target(`growth: time per file at ${last.files} / at ${pts[0]?.files}`, runner, '<= 1.5 (linear)', last.perFileVsSmallest, 'x', (v) => v <= 1.5));
    out.push(target(`growth: RSS per file at ${last.files} / at ${mid.files}`, runner, '<= 1.5 (linear)', last.rssBytesPerFile / mid.rssBytesPerFile, 'x', (v) => v <= 1.5));
  }
  for (const run of runsOf('stream')) {
    out.push(target('stream: peak RSS of the API process while streaming', run.runner, '< 150 MB', (run.rss.download.api ?? Number.NaN) / 1e6, 'MB', (v) => v < 150));
  }
  for (const s of r.status.runs) {
    const label = s.phase === 'million' ? `HEAD p99 at ${r.options.statusRate}/s, ${s.cartsInDb} carts in the database` : `HEAD p99 at ${r.options.statusRate}/s while large carts stage`;
    out.push(target(label, s.runner, '< 5 ms', s.load.fromDue.p99, 'ms', (v) => v < 5));
  }
  return out;
}
