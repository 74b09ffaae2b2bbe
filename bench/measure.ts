/**
 * One workload: the staging limit and the download limit on its files, then each runner
 * from POST to ready and the download of every cart, with the peak RSS of every cartd
 * process in both phases.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { countDownload, deleteCart, downloadAll, postCart, waitReady } from './client';
import { MB, deploy, quiesce, ratio, undeploy, unavailable, type Context } from './context';
import type { Deployment, RunnerName } from './deployment';
import { archivePath, cartBody, storeCarts, type StoredCart } from './fixtures';
import { blobFile, downloadLimit, stageLimit, warmCache, type DownloadLimit, type StageLimit } from './limit-runs';
import { CpuWatch, sumCpu, type CpuByRole } from './cpu';
import { RssWatch, sumPeaks, type Peaks } from './rss';
import { totalBytes, totalFiles } from './workloads';

export type { DownloadLimit, StageLimit } from './limit-runs';

export interface RunResult {
  readonly runner: RunnerName;
  readonly status: 'ok' | 'skipped' | 'failed';
  readonly reason?: string;
  /** Seconds until every POST was answered. */
  readonly acceptSeconds: number;
  /** Seconds from the first POST to the HEAD that saw the last cart ready. */
  readonly readySeconds: number;
  readonly filesPerSec: number;
  readonly MBps: number;
  /** Seconds to GET every cart's tar (all at once); NaN when not downloaded. */
  readonly downloadSeconds: number;
  /** File bytes delivered a second (tar headers and padding not counted, as in the limit). */
  readonly downloadMBps: number;
  readonly tarBytes: number;
  readonly rss: { readonly idle: Peaks; readonly stage: Peaks; readonly download: Peaks };
  /** Highest total RSS of all cartd processes, either phase. */
  readonly peakRssBytes: number;
  /** CPU seconds from POST to ready: every cartd process (Redis not counted), and the archive server. */
  readonly cpu: { readonly cartd: CpuByRole; readonly archive: number };
  readonly cpuSeconds: number;
  /** The limits this run's ratios are to (its round's, with --repeat). */
  readonly limit: RunLimit;
  /** With --repeat: the ratios of every round, in order (this run is the round with the median `ready`). */
  readonly rounds?: { readonly ready: readonly number[]; readonly download: readonly number[] };
  readonly ratios: {
    /** readySeconds / staging limit seconds (1 = as fast as the limit; target <= 1.25 or 2). */
    readonly ready: number;
    readonly filesPerSec: number;
    readonly MBps: number;
    /** downloadMBps / download limit MB/s (target >= 0.9). */
    readonly download: number;
    /** peakRssBytes / the staging limit process's peak RSS. */
    readonly rss: number;
    /** cpuSeconds / the staging limit's CPU seconds: the work cartd did against the limit's, for the same files. */
    readonly cpu: number;
  };
}

export interface RunLimit {
  readonly stageSeconds: number;
  readonly downloadMBps: number;
  readonly cpuSeconds: number;
  readonly archiveCpuSeconds: number;
}

export interface WorkloadResult {
  readonly files: number;
  readonly bytes: number;
  readonly stageLimit: StageLimit;
  readonly downloadLimit?: DownloadLimit;
  readonly runs: RunResult[];
}

/** A 1-file cart through the whole deployment before timing: processes warm, workers proven. */
export async function warmUp(ctx: Context, dep: Deployment): Promise<void> {
  const [cart] = await storeCarts(ctx.archiveDir, [{ uid: `${path.basename(dep.dir)}-warm`, files: [{ id: `${path.basename(dep.dir)}-warm`, path: 'warm', size: 4096, content: 'random' }] }], ctx.opts.hashtype);
  if (!cart) return;
  await postCart(dep.url, cart.uid, cartBody(cart));
  await waitReady(dep.url, [cart.uid], { timeoutMs: 60_000 });
  await countDownload(new URL(`${cart.uid}?filename=warm.tar`, dep.url).href);
  await deleteCart(dep.url, cart.uid);
}

const NO_RSS = { idle: {}, stage: {}, download: {} };

export function emptyRun(runner: RunnerName, status: 'skipped' | 'failed', reason: string): RunResult {
  const nan = Number.NaN;
  return {
    runner, status, reason, acceptSeconds: nan, readySeconds: nan, filesPerSec: nan, MBps: nan, downloadSeconds: nan, downloadMBps: nan, tarBytes: nan,
    rss: NO_RSS, peakRssBytes: nan, cpu: { cartd: {}, archive: nan }, cpuSeconds: nan,
    limit: { stageSeconds: nan, downloadMBps: nan, cpuSeconds: nan, archiveCpuSeconds: nan },
    ratios: { ready: nan, filesPerSec: nan, MBps: nan, download: nan, rss: nan, cpu: nan },
  };
}

export interface OnceOptions {
  readonly download: boolean;
  /** Measure the download limit in this deployment (its volume holds the files). */
  readonly downloadLimit: boolean;
}

/** One runner through one workload; the download limit too when asked. */
export async function runOnce(ctx: Context, runner: RunnerName, carts: readonly StoredCart[], limit: StageLimit, opts: OnceOptions): Promise<{ run: RunResult; downloadLimit?: DownloadLimit }> {
  const dep = await deploy(ctx, runner);
  ctx.log(`  ${runner}: started (${dep.procs.map((p) => `${p.role} ${p.pid}`).join(', ')})`);
  try {
    await warmUp(ctx, dep);
    ctx.log(`  ${runner}: warm`);
    await quiesce();
    const bodies = carts.map((c) => cartBody(c));
    const watch = new RssWatch(dep.procs);
    const cpu = new CpuWatch(dep.procs);
    const archiveCpu = new CpuWatch([{ role: 'archive', pid: ctx.archive.proc.pid }]);
    const t0 = performance.now();
    await Promise.all(carts.map((c, i) => postCart(dep.url, c.uid, bodies[i] as string)));
    const acceptSeconds = (performance.now() - t0) / 1000;
    const readySeconds = ((await waitReady(dep.url, carts.map((c) => c.uid))) - t0) / 1000;
    const stage = watch.stop();
    const cartdCpu = cpu.stop();
    const archiveUsed = archiveCpu.stop().archive ?? Number.NaN;
    let dl = { seconds: Number.NaN, bytes: Number.NaN };
    let download: Peaks = {};
    if (opts.download) {
      await warmCache(carts.flatMap((c) => c.files.map((f) => blobFile(dep, f.hashtype, f.hashsum))));
      await quiesce();
      const dlWatch = new RssWatch(dep.procs);
      dl = await downloadAll(carts.map((c) => new URL(`${c.uid}?filename=${c.uid}.tar`, dep.url).href));
      download = dlWatch.stop();
    }
    const downloadLimitResult = opts.downloadLimit && opts.download ? await downloadLimit(dep, carts) : undefined;
    const files = totalFiles(carts);
    const bytes = totalBytes(carts);
    const peakRssBytes = Math.max(sumPeaks(stage), sumPeaks(download));
    const downloadMBps = bytes / MB / dl.seconds;
    const run: RunResult = {
      runner, status: 'ok', acceptSeconds, readySeconds,
      filesPerSec: files / readySeconds, MBps: bytes / MB / readySeconds,
      downloadSeconds: dl.seconds, downloadMBps, tarBytes: dl.bytes,
      rss: { idle: watch.initial, stage, download }, peakRssBytes,
      cpu: { cartd: cartdCpu, archive: archiveUsed }, cpuSeconds: sumCpu(cartdCpu),
      // The download limit is filled in by the caller, once it is known.
      limit: { stageSeconds: limit.seconds, downloadMBps: Number.NaN, cpuSeconds: limit.cpuSeconds, archiveCpuSeconds: limit.archiveCpuSeconds },
      ratios: {
        ready: ratio(readySeconds, limit.seconds),
        filesPerSec: ratio(files / readySeconds, limit.filesPerSec),
        MBps: ratio(bytes / MB / readySeconds, limit.MBps),
        download: Number.NaN, // filled in by the caller, once the download limit is known
        rss: ratio(peakRssBytes, limit.rssBytes),
        cpu: ratio(sumCpu(cartdCpu), limit.cpuSeconds),
      },
    };
    return { run, downloadLimit: downloadLimitResult };
  } finally {
    await undeploy(ctx, dep);
    ctx.log(`  ${runner}: stopped`);
  }
}

/**
 * The workload measured `--repeat` times in rounds (see measureRound); each runner reports its
 * round with the median ratio to the limit, and the ratios of every round. On a shared machine
 * one round's ratio can be far off both ways; the rounds show how far.
 */
export async function measureCarts(ctx: Context, label: string, carts: readonly StoredCart[], runners: readonly RunnerName[], download = true): Promise<WorkloadResult> {
  const n = ctx.opts.repeat;
  const rounds: WorkloadResult[] = [];
  for (let i = 1; i <= n; i++) rounds.push(await measureRound(ctx, n > 1 ? `${label} (round ${i}/${n})` : label, carts, runners, download));
  const [first] = rounds;
  if (first === undefined || n === 1) return first as WorkloadResult;
  const middle = lowerMedian(rounds, (r) => r.stageLimit.seconds) ?? first;
  const runs = runners.map((_, i) => medianRound(rounds.map((r) => r.runs[i]).filter((r): r is RunResult => r !== undefined)));
  return { ...middle, runs };
}

/** The round with the median `ready` ratio (the lower middle for an even count), with every round's ratios. */
function medianRound(rounds: readonly RunResult[]): RunResult {
  const ok = rounds.filter((r) => r.status === 'ok');
  const median = lowerMedian(ok, (r) => r.ratios.ready);
  if (median === undefined) return rounds[rounds.length - 1] as RunResult;
  return { ...median, rounds: { ready: ok.map((r) => r.ratios.ready), download: ok.map((r) => r.ratios.download) } };
}

/** The item with the median `by` (the lower middle for an even count); undefined when there is none. */
function lowerMedian<T>(items: readonly T[], by: (item: T) => number): T | undefined {
  const sorted = [...items].sort((a, b) => by(a) - by(b));
  return sorted[(sorted.length - 1) >> 1];
}

/** Stage limit, then every runner (failures recorded, never fatal), then the download ratios. */
async function measureRound(ctx: Context, label: string, carts: readonly StoredCart[], runners: readonly RunnerName[], download = true): Promise<WorkloadResult> {
  ctx.log(`${label}: staging limit (${totalFiles(carts)} files, ${(totalBytes(carts) / MB).toFixed(1)} MB)`);
  // Both the limit and cartd read the archive's files from the page cache (sparse files' holes included).
  await warmCache(carts.flatMap((c) => c.files.map((f) => archivePath(ctx.archiveDir, f.id))));
  const limit = await stageLimit(ctx, carts);
  ctx.log(`${label}: staging limit ${limit.seconds.toFixed(2)} s, ${limit.MBps.toFixed(0)} MB/s`);
  let dlLimit: DownloadLimit | undefined;
  const runs: RunResult[] = [];
  for (const runner of runners) {
    const why = unavailable(ctx, runner);
    if (why !== undefined) {
      runs.push(emptyRun(runner, 'skipped', why));
      continue;
    }
    try {
      const { run, downloadLimit: measured } = await runOnce(ctx, runner, carts, limit, { download, downloadLimit: download && dlLimit === undefined });
      dlLimit ??= measured;
      runs.push(run);
      ctx.log(`${label}: ${runner} ready ${run.readySeconds.toFixed(2)} s (x${run.ratios.ready.toFixed(2)}), download ${run.downloadMBps.toFixed(0)} MB/s, RSS ${(run.peakRssBytes / MB).toFixed(0)} MB`);
    } catch (err) {
      ctx.log(`${label}: ${runner} FAILED: ${err instanceof Error ? err.message : String(err)}`);
      runs.push(emptyRun(runner, 'failed', err instanceof Error ? err.message.slice(0, 2000) : String(err)));
    }
  }
  const dlMBps = dlLimit?.MBps ?? Number.NaN;
  const withRatios = runs.map((r) => ({ ...r, limit: { ...r.limit, downloadMBps: dlMBps }, ratios: { ...r.ratios, download: ratio(r.downloadMBps, dlMBps) } }));
  if (dlLimit) ctx.log(`${label}: download limit ${dlLimit.MBps.toFixed(0)} MB/s`);
  return { files: totalFiles(carts), bytes: totalBytes(carts), stageLimit: limit, ...(dlLimit ? { downloadLimit: dlLimit } : {}), runs: withRatios };
}
