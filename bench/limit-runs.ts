/**
 * The limits of one workload, each in a child process of its own (bench/limits/): the
 * staging limit on the archive's files, and the download limit on the files cartd staged.
 */
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { downloadAll } from './client';
import { MB, quiesce, type Context } from './context';
import { CpuWatch } from './cpu';
import type { Deployment } from './deployment';
import { mapLimit, type StoredCart } from './fixtures';
import { forkLimit } from './limits/child';
import type { RawServerReply, RawServerRequest } from './limits/raw-server';
import type { StageLimitReply, StageLimitRequest } from './limits/stage-limit';
import { totalBytes } from './workloads';

export interface StageLimit {
  readonly seconds: number;
  readonly filesPerSec: number;
  readonly MBps: number;
  readonly rssBytes: number;
  /** CPU seconds the limit's process used, and the archive server meanwhile. */
  readonly cpuSeconds: number;
  readonly archiveCpuSeconds: number;
}

export interface DownloadLimit {
  readonly seconds: number;
  readonly MBps: number;
  readonly rssBytes: number;
}

export async function stageLimit(ctx: Context, carts: readonly StoredCart[]): Promise<StageLimit> {
  const outDir = path.join(ctx.work, 'stage-limit');
  const child = forkLimit<StageLimitReply>('stage-limit');
  try {
    await quiesce();
    const req: StageLimitRequest = {
      archiveUrl: ctx.archive.url,
      files: carts.flatMap((c) => c.files.map((f) => ({ id: f.id, size: f.size, hashtype: f.hashtype, hashsum: f.hashsum }))),
      concurrency: ctx.opts.concurrency,
      head: ctx.opts.limitHead,
      outDir,
    };
    const cpu = new CpuWatch([{ role: 'limit', pid: child.pid }, { role: 'archive', pid: ctx.archive.proc.pid }]);
    child.send(req);
    const r = await child.reply();
    const used = cpu.stop();
    return {
      seconds: r.seconds, filesPerSec: r.files / r.seconds, MBps: r.bytes / MB / r.seconds, rssBytes: r.maxRssBytes,
      cpuSeconds: used.limit ?? Number.NaN, archiveCpuSeconds: used.archive ?? Number.NaN,
    };
  } finally {
    await child.stop();
    await rm(outDir, { recursive: true, force: true });
  }
}

/** Where cartd's volume keeps a file's bytes (src/volume/volume.ts blobPath). */
export function blobFile(dep: Deployment, hashtype: string, hashsum: string): string {
  return path.join(dep.volumeRoot, 'blobs', hashsum.slice(0, 2), `${hashtype}-${hashsum}`);
}

/**
 * Read files once, untimed, so what is timed after reads them from the page cache, whoever
 * comes first. (A sparse file's holes are not in the cache after it was written: whichever
 * reader came first would pay for filling it.)
 */
export async function warmCache(files: readonly string[]): Promise<void> {
  await mapLimit(files, 8, async (f) => {
    const stream = createReadStream(f, { highWaterMark: 1024 * 1024 });
    stream.resume();
    await finished(stream);
  });
}

export async function downloadLimit(dep: Deployment, carts: readonly StoredCart[]): Promise<DownloadLimit> {
  const child = forkLimit<RawServerReply>('raw-server');
  try {
    const req: RawServerRequest = { lists: carts.map((c) => c.files.map((f) => blobFile(dep, f.hashtype, f.hashsum))) };
    child.send(req);
    const { port } = await child.reply();
    await quiesce();
    const dl = await downloadAll(carts.map((_, i) => `http://127.0.0.1:${port}/${i}`));
    child.send({});
    const { maxRssBytes } = await child.reply();
    return { seconds: dl.seconds, MBps: totalBytes(carts) / MB / dl.seconds, rssBytes: maxRssBytes };
  } finally {
    await child.stop();
  }
}

