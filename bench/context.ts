/** What every phase of a run shares: options, the archive, Redis, scratch space, logging. */
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisServer } from '../tests/support/redis';
import { startDeployment, type Deployment, type RunnerName } from './deployment';
import type { BenchOptions } from './options';
import type { ArchiveProc } from './processes';

export interface Context {
  readonly opts: BenchOptions;
  readonly archive: ArchiveProc;
  /** The archive server's folder: a file `id` there is served as `GET /id`. */
  readonly archiveDir: string;
  /** Scratch root of this run. */
  readonly work: string;
  /** Prefix of every file id and cart uid of this run. */
  readonly run: string;
  /** Undefined when there is no redis-server (BullMQ runs are then skipped, with `redisProblem`). */
  readonly redis: RedisServer | undefined;
  readonly redisProblem: string;
  log(line: string): void;
}

let deployments = 0;

/** Why `runner` cannot run here, or undefined when it can. */
export function unavailable(ctx: Context, runner: RunnerName): string | undefined {
  return runner !== 'embedded' && ctx.redis === undefined ? ctx.redisProblem : undefined;
}

/** A fresh cartd deployment (own database and volume) for one measurement. */
export function deploy(ctx: Context, runner: RunnerName, dirName = `cartd-${++deployments}-${runner}`): Promise<Deployment> {
  return startDeployment({
    runner,
    dir: path.join(ctx.work, dirName),
    archiveUrl: ctx.archive.url,
    concurrency: ctx.opts.concurrency,
    redis: ctx.redis,
    nodeArgs: ctx.opts.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${path.join(ctx.opts.out, 'profiles', dirName)}`] : [],
  });
}

/** Stop a deployment and (unless --keep) remove its folder. */
export async function undeploy(ctx: Context, dep: Deployment): Promise<void> {
  await dep.stop();
  if (!ctx.opts.keep) await rm(dep.dir, { recursive: true, force: true });
}

/**
 * Before a timed phase: write back the dirty pages earlier phases left (fixtures, volumes),
 * so the kernel's writeback does not compete with the fsyncs being timed.
 */
export async function quiesce(): Promise<void> {
  execFileSync('sync');
  await sleep(200);
}

export const MB = 1e6;

/** x / y, or NaN when either is not a positive finite number (shown as "n/a"). */
export function ratio(x: number, y: number): number {
  return Number.isFinite(x) && Number.isFinite(y) && y > 0 ? x / y : Number.NaN;
}
