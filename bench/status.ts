/**
 * Status under load: HEAD latency at a fixed rate while `large` carts stage one after
 * another for the whole window (four file sets take turns, so each cart's files really are
 * pulled), on a fresh database and on one that already holds a million carts. The limit: a bare Node server answering HEAD with 204,
 * at the same rate, while the staging-limit pipeline pulls the same files.
 */
import { mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { deleteCart, headCart, postCart } from './client';
import { deploy, quiesce, ratio, undeploy, type Context } from './context';
import { databasePath, type RunnerName } from './deployment';
import { cartBody, type StoredCart } from './fixtures';
import { forkLimit } from './limits/child';
import type { RawServerReply } from './limits/raw-server';
import type { StageLimitReply, StageLimitRequest } from './limits/stage-limit';
import { fixedRateHeads, type LoadResult } from './loadgen';
import { warmUp } from './measure';
import { fillCarts, millionUid } from './million';
import { RssWatch, sumPeaks } from './rss';

export interface StatusRun {
  readonly phase: 'staging' | 'million';
  readonly runner: RunnerName;
  readonly cartsInDb: number;
  /** Seconds to insert the carts (million only; 0 otherwise). */
  readonly fillSeconds: number;
  /** Seconds from starting cartd to its first answer. */
  readonly startSeconds: number;
  /** Large carts that became ready during the window. */
  readonly cartsStaged: number;
  readonly load: LoadResult;
  readonly peakRssBytes: number;
  /** p99 (from due time) / the limit's p99. */
  readonly p99Ratio: number;
}

/**
 * Keep one large cart staging at all times until `stop.done`; resolves with how many became
 * ready. Cart k uses file set k mod 4, and cart k-3 is deleted once cart k is posted: its
 * files go and are pulled again by cart k+1, while carts k-1 and k-2, which HEAD requests
 * still in flight may ask about, stay.
 */
async function keepStaging(base: string, sets: readonly StoredCart[], current: { uid: string }, stop: { done: boolean }): Promise<number> {
  let staged = 0;
  const posted: string[] = [];
  for (let k = 0; !stop.done; k++) {
    const set = sets[k % sets.length] as StoredCart;
    const uid = `${set.uid}-s${k}`;
    await postCart(base, uid, cartBody(set));
    current.uid = uid;
    posted.push(uid);
    if (posted.length > 3) await deleteCart(base, posted.shift() as string);
    while (!stop.done) {
      const s = await headCart(base, uid);
      if (s.status === 'ready') {
        staged++;
        break;
      }
      if (s.code !== 204) throw new Error(`status phase: cart ${uid} ${s.code} ${s.status} ${s.message}`);
      await sleep(50);
    }
  }
  return staged;
}

export async function statusRun(ctx: Context, phase: 'staging' | 'million', runner: RunnerName, sets: readonly StoredCart[], limit: LoadResult): Promise<StatusRun> {
  const dirName = `status-${phase}-${runner}`;
  let fillSeconds = 0;
  const carts = phase === 'million' ? ctx.opts.millionCarts : 0;
  if (phase === 'million') {
    mkdirSync(path.join(ctx.work, dirName), { recursive: true });
    ctx.log(`million: inserting ${carts} carts`);
    fillSeconds = fillCarts(databasePath(path.join(ctx.work, dirName)), carts).seconds;
  }
  const t0 = performance.now();
  const dep = await deploy(ctx, runner, dirName);
  const startSeconds = (performance.now() - t0) / 1000;
  try {
    await warmUp(ctx, dep);
    await quiesce();
    const current = { uid: '' };
    const stop = { done: false };
    const watch = new RssWatch(dep.procs);
    const staging = keepStaging(dep.url, sets, current, stop);
    while (current.uid === '') await sleep(5);
    const pathOf = phase === 'million' ? () => millionUid(1 + Math.floor(Math.random() * carts)) : () => current.uid;
    const load = await fixedRateHeads({ base: dep.url, pathOf, rate: ctx.opts.statusRate, seconds: ctx.opts.statusSeconds });
    stop.done = true;
    const cartsStaged = await staging;
    const peakRssBytes = sumPeaks(watch.stop());
    return { phase, runner, cartsInDb: carts, fillSeconds, startSeconds, cartsStaged, load, peakRssBytes, p99Ratio: ratio(load.fromDue.p99, limit.fromDue.p99) };
  } finally {
    await undeploy(ctx, dep);
  }
}

/** The limit: HEAD on a bare server while the staging-limit pipeline pulls the same files, over and over. */
export async function statusLimit(ctx: Context, sets: readonly StoredCart[]): Promise<LoadResult> {
  const server = forkLimit<RawServerReply>('raw-server');
  const stager = forkLimit<StageLimitReply>('stage-limit');
  const outDir = path.join(ctx.work, 'status-limit');
  try {
    server.send({ lists: [] });
    const { port } = await server.reply();
    await quiesce();
    const stop = { done: false };
    const staging = (async () => {
      for (let k = 0; !stop.done; k++) {
        const set = sets[k % sets.length] as StoredCart;
        const req: StageLimitRequest = { archiveUrl: ctx.archive.url, files: set.files, concurrency: ctx.opts.concurrency, outDir };
        stager.send(req);
        await stager.reply();
      }
    })();
    const load = await fixedRateHeads({ base: `http://127.0.0.1:${port}/`, pathOf: () => 'x', rate: ctx.opts.statusRate, seconds: ctx.opts.statusSeconds });
    stop.done = true;
    await staging;
    return load;
  } finally {
    await Promise.all([server.stop(), stager.stop()]);
    await rm(outDir, { recursive: true, force: true });
  }
}
