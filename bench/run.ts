/**
 * `npm run bench -- [options]` (see options.ts): starts the archive test server, a private
 * redis-server for the BullMQ runners, and cartd as separate processes on loopback; runs the
 * workloads of issue 7 with their limits measured in the same run; writes
 * OUT/latest.json and OUT/latest.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { findRedisServer, startRedis, type RedisServer } from '../tests/support/redis';
import { unavailable, type Context } from './context';
import { removeCarts, storeCarts } from './fixtures';
import { machine, rawLimits } from './machine';
import { measureCarts, type WorkloadResult } from './measure';
import { USAGE, parseOptions, runnersOf, scaleOf, type BenchOptions } from './options';
import { ROOT, startArchive } from './processes';
import { markdown } from './report';
import { checkTargets, type BenchResults, type GrowthPoint } from './results';
import { statusLimit, statusRun } from './status';
import { growthPoints, wideCart, workload, type WorkloadName } from './workloads';

/** Why the BullMQ runners cannot run here ('' when they can). */
function bullmqProblem(): string {
  if (findRedisServer() === undefined) return 'skipped: no redis-server on PATH';
  const help = execFileSync(process.execPath, [path.join(ROOT, 'bin', 'cartd'), '--help'], { encoding: 'utf8' });
  return /\bworker\b/.test(help) ? '' : 'skipped: runner not available (cartd has no worker subcommand)';
}

function growthFrom(files: number, w: WorkloadResult): GrowthPoint[] {
  return w.runs
    .filter((r) => r.status === 'ok')
    .map((r) => {
      const idle = Object.values(r.rss.idle).reduce((s, n) => s + n, 0);
      const stagePeak = Object.values(r.rss.stage).reduce((s, n) => s + n, 0);
      return {
        files, runner: r.runner, readySeconds: r.readySeconds, limitSeconds: r.limit.stageSeconds, ratio: r.ratios.ready,
        secondsPer1k: (r.readySeconds / files) * 1000, perFileVsSmallest: Number.NaN, peakRssBytes: stagePeak, rssBytesPerFile: (stagePeak - idle) / files,
      };
    });
}

const T0 = performance.now();
const stamp = (l: string): boolean => process.stderr.write(`[${((performance.now() - T0) / 1000).toFixed(1).padStart(6)} s] ${l}\n`);

export async function runBench(opts: BenchOptions, log: (line: string) => void = stamp): Promise<BenchResults> {
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  const work = opts.work !== '' ? opts.work : mkdtempSync(path.join(os.tmpdir(), 'cartd-bench-'));
  const archiveDir = path.join(work, 'archive');
  mkdirSync(archiveDir, { recursive: true });
  const errors: { phase: string; message: string }[] = [];
  let redis: RedisServer | undefined;
  let redisProblem = '';
  if (opts.workloads.some((w) => runnersOf(opts, w).some((r) => r !== 'embedded'))) {
    redisProblem = bullmqProblem();
    if (redisProblem === '') redis = await startRedis();
  }
  const archive = await startArchive(archiveDir, path.join(work, 'archive.log'));
  const run = `b${Date.now().toString(36)}`;
  const ctx: Context = { opts, archive, archiveDir, work, run, redis, redisProblem, log };
  try {
    const mach = await machine(work);
    log(`machine: ${mach.cpuModel}, ${mach.cores} cores, load ${mach.loadAvg1.toFixed(1)}; work in ${work}`);
    const raw = await rawLimits(work, opts.hashtype, Math.max(...opts.workloads.map((w) => scaleOf(opts, w))));
    log(`raw limits: hash ${raw.hashMBps.toFixed(0)} MB/s, sync write ${raw.syncWriteMBps.toFixed(0)} MB/s, ${raw.fsyncsPerSec.toFixed(0)} fsyncs/s`);
    const workloads: Record<string, WorkloadResult & { description: string }> = {};
    const growth: GrowthPoint[] = [];
    const status: { limit?: BenchResults['status']['limit']; runs: BenchResults['status']['runs'] } = { runs: [] };
    const phase = async (name: string, fn: () => Promise<void>): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        log(`${name}: FAILED: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
        errors.push({ phase: name, message: err instanceof Error ? err.message : String(err) });
      }
    };
    for (const name of opts.workloads) {
      if (name === 'growth') {
        await phase('growth', async () => {
          const points = growthPoints(scaleOf(opts, 'growth'));
          const runners = runnersOf(opts, 'growth');
          for (const n of points) {
            const wide = workloads.wide;
            // The last point is wide's cart when wide ran it with every runner growth wants.
            if (wide && wide.files === n && runners.every((r) => wide.runs.some((w) => w.runner === r))) {
              growth.push(...growthFrom(n, { ...wide, runs: wide.runs.filter((w) => runners.includes(w.runner)) }));
              continue;
            }
            const carts = await storeCarts(archiveDir, [wideCart(`${run}-g`, n)], opts.hashtype);
            try {
              growth.push(...growthFrom(n, await measureCarts(ctx, `growth ${n}`, carts, runners, false)));
            } finally {
              await removeCarts(archiveDir, carts);
            }
          }
          for (const runner of new Set(growth.map((g) => g.runner))) {
            const pts = growth.filter((g) => g.runner === runner).sort((a, b) => a.files - b.files);
            const base = pts[0]?.secondsPer1k ?? Number.NaN;
            for (const p of pts) Object.assign(p, { perFileVsSmallest: p.secondsPer1k / base });
          }
        });
      } else if (name === 'status' || name === 'million') {
        await phase(name, async () => {
          const sets = await storeCarts(archiveDir, ['A', 'B', 'C', 'D'].flatMap((set) => workload('large', scaleOf(opts, name), `${run}-${name}${set}`).carts), opts.hashtype);
          try {
            status.limit ??= await statusLimit(ctx, sets);
            log(`status limit: p99 ${status.limit.fromDue.p99.toFixed(2)} ms`);
            const usable = runnersOf(opts, name).filter((r) => unavailable(ctx, r) === undefined);
            // The million phase is about the API process's database: one runner is enough,
            // unless the phase is given its own list (--runner all,million=embedded+bullmq1).
            const runners = name === 'million' && opts.runnersFor.million === undefined ? usable.slice(0, 1) : usable;
            for (const runner of runners) {
              const s = await statusRun(ctx, name === 'million' ? 'million' : 'staging', runner, sets, status.limit);
              log(`${name}: ${runner} HEAD p50 ${s.load.fromDue.p50.toFixed(2)} ms, p99 ${s.load.fromDue.p99.toFixed(2)} ms (${s.load.requests} requests, answers ${JSON.stringify(s.load.answers)})`);
              status.runs.push(s);
            }
          } finally {
            await removeCarts(archiveDir, sets);
          }
        });
      } else {
        await phase(name, async () => {
          const w = workload(name as WorkloadName, scaleOf(opts, name), run);
          log(`${name}: writing ${w.description}`);
          const carts = await storeCarts(archiveDir, w.carts, opts.hashtype);
          try {
            workloads[name] = { description: w.description, ...(await measureCarts(ctx, name, carts, runnersOf(opts, name))) };
          } finally {
            await removeCarts(archiveDir, carts);
          }
        });
      }
    }
    const shown: BenchResults['options'] = { ...opts };
    for (const k of ['out', 'work'] as const) delete (shown as Partial<BenchOptions>)[k];
    const partial = { version: 1 as const, startedAt, wallSeconds: (performance.now() - t0) / 1000, options: shown, machine: mach, rawLimits: raw, workloads, growth, status, errors };
    return { ...partial, targets: checkTargets(partial) };
  } finally {
    await archive.proc.stop(5000);
    await redis?.stop();
    if (!opts.keep) rmSync(work, { recursive: true, force: true });
    else log(`kept ${work}`);
  }
}

/** Write OUT/latest.json and OUT/latest.md. */
export function writeResults(out: string, results: BenchResults): void {
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(path.join(out, 'latest.md'), markdown(results));
}

async function main(argv: readonly string[]): Promise<void> {
  let opts: ReturnType<typeof parseOptions>;
  try {
    opts = parseOptions(argv);
  } catch (err) {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}\n`);
    process.exit(2);
  }
  if (opts === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const results = await runBench(opts);
  writeResults(opts.out, results);
  process.stdout.write(markdown(results));
  process.stderr.write(`\nwrote ${path.join(opts.out, 'latest.json')} and latest.md\n`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  });
}
