/**
 * The staging limit: the least a stager must do per file, at the same concurrency as cartd.
 * GET the file from the archive (keep-alive), hash it, write it (chunks gathered into writev
 * calls of about 1 MiB; all-zero chunks left as holes, as cartd does), fdatasync, close.
 * No HEAD (unless asked: `--limit-head`), no database, no rename.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, open } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { maxRssBytes, serveParent } from './child';

export interface StageLimitRequest {
  readonly archiveUrl: string;
  readonly files: readonly { readonly id: string; readonly size: number; readonly hashtype: string; readonly hashsum: string }[];
  readonly concurrency: number;
  /** Send a HEAD before each GET, as the archive protocol has cartd do (`--limit-head`). */
  readonly head?: boolean;
  readonly outDir: string;
}

export interface StageLimitReply {
  readonly seconds: number;
  readonly bytes: number;
  readonly files: number;
  readonly maxRssBytes: number;
}

const BATCH = 1024 * 1024;
const ZEROS = Buffer.alloc(BATCH);

/** What the archive interface answers for a file it has (PROTOCOL.md section 2). */
const FOUND = { GET: 200, HEAD: 204 } as const;

/** The archive's answer to GET (its body still to read) or HEAD; any other status than FOUND's is an error. */
function request(method: 'GET' | 'HEAD', url: string, agent: http.Agent): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent, method }, (res) => {
      if (res.statusCode === FOUND[method]) return resolve(res);
      res.resume();
      reject(new Error(`${method} ${url}: ${res.statusCode}`));
    });
    req.on('error', reject);
    req.end();
  });
}

/** True when every byte is 0 (memcmp speed), as cartd checks each chunk before leaving a hole. */
function isZeros(chunk: Buffer): boolean {
  for (let at = 0; at < chunk.length; at += ZEROS.length) {
    const part = chunk.subarray(at, Math.min(chunk.length, at + ZEROS.length));
    if (!part.equals(ZEROS.subarray(0, part.length))) return false;
  }
  return true;
}

/** HEAD, answered in full before the GET goes out (as cartd asks for size and media first). */
async function head(url: string, agent: http.Agent): Promise<void> {
  const res = await request('HEAD', url, agent);
  res.resume();
  await once(res, 'end');
}

async function pullOne(url: string, file: StageLimitRequest['files'][number], out: string, agent: http.Agent, withHead: boolean): Promise<void> {
  if (withHead) await head(url, agent);
  const res = await request('GET', url, agent);
  const fh = await open(out, 'w');
  try {
    const hash = createHash(file.hashtype);
    let at = 0;
    // Chunks waiting to be written with one writev (no copy), starting at `batchAt`.
    let batch: Buffer[] = [];
    let batched = 0;
    let batchAt = 0;
    const flush = async (): Promise<void> => {
      if (batched > 0) await fh.writev(batch, batchAt);
      batch = [];
      batched = 0;
    };
    for await (const chunk of res as AsyncIterable<Buffer>) {
      hash.update(chunk);
      if (isZeros(chunk)) {
        await flush(); // a hole: nothing written
      } else {
        if (batched === 0) batchAt = at;
        batch.push(chunk);
        batched += chunk.length;
        if (batched >= BATCH) await flush();
      }
      at += chunk.length;
    }
    await flush();
    if (at !== file.size) throw new Error(`${file.id}: got ${at} of ${file.size} bytes`);
    if (hash.digest('hex') !== file.hashsum) throw new Error(`${file.id}: digest mismatch`);
    await fh.truncate(at);
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

async function stageLimit(msg: StageLimitRequest): Promise<StageLimitReply> {
  await mkdir(msg.outDir, { recursive: true });
  const agent = new http.Agent({ keepAlive: true, maxSockets: msg.concurrency });
  const t0 = performance.now();
  let next = 0;
  let bytes = 0;
  const lanes = Array.from({ length: Math.min(msg.concurrency, msg.files.length) }, async () => {
    while (next < msg.files.length) {
      const i = next++;
      const f = msg.files[i] as StageLimitRequest['files'][number];
      await pullOne(new URL(encodeURIComponent(f.id), msg.archiveUrl).href, f, path.join(msg.outDir, String(i)), agent, msg.head === true);
      bytes += f.size;
    }
  });
  await Promise.all(lanes);
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  return { seconds, bytes, files: msg.files.length, maxRssBytes: maxRssBytes() };
}

serveParent(stageLimit);
