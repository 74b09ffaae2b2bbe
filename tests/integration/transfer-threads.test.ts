/**
 * Transfer threads against the archive test server: the bytes land verified in the temp
 * file, and every way a transfer can go wrong reaches the caller as the error class and
 * message staging acts on (retryable fault, cancelled), as when pulled on the event loop.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { CancelledError, TransferError } from '../../src/core/errors';
import { TransferThreads } from '../../src/main/transfer-threads';
import { startArchiveServer, type ArchiveServer } from '../support/archive-server';

const MiB = 1024 * 1024;
const data = randomBytes(3 * MiB + 17);
const sha1 = createHash('sha1').update(data).digest('hex');
let archive: ArchiveServer;
let threads: TransferThreads;
let dir: string;
let n = 0;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'cartd-transfer-'));
  archive = await startArchiveServer();
  threads = new TransferThreads({ url: archive.url, timeoutMs: 1000, maxSockets: 8, resumeDelayMs: 50 }, 2);
});
afterAll(async () => {
  await threads.close();
  await archive.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A file on the archive and the request that pulls it into a new temp file. */
async function file(id: string) {
  await archive.put(id, data);
  const temp = path.join(dir, `t${n++}`);
  return { temp, req: { archiveId: id, temp, hashtype: 'sha1', hashsum: sha1, size: data.length, mtime: 1_546_983_446 } };
}

test('pulls, hashes and syncs the file on a thread', async () => {
  const { temp, req } = await file('ok');
  await threads.pull(req);
  expect(readFileSync(temp).equals(data)).toBe(true);
  expect(archive.stats('ok').get).toBe(1);
  // Several transfers at once, spread over the threads.
  const many = await Promise.all(['a', 'b', 'c', 'd'].map((id) => file(id)));
  await Promise.all(many.map((m) => threads.pull(m.req)));
  for (const m of many) expect(readFileSync(m.temp).equals(data)).toBe(true);
});

test.each([
  ['corrupt', /hash mismatch: expected sha1/],
  ['500', /archive answered 500 to GET/],
] as const)('%s on the archive: a retryable TransferError naming what happened', async (kind, message) => {
  const { req } = await file(`fault-${kind}`);
  archive.fault(`fault-${kind}`, kind, { times: 1 });
  const err: unknown = await threads.pull(req).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(TransferError);
  expect((err as TransferError).retryable).toBe(true);
  expect((err as Error).message).toMatch(message);
});

test.each(['truncate', 'reset', 'hang'] as const)('a body broken off by %s is resumed where it broke, with byte_range, and lands whole', async (kind) => {
  const id = `resume-${kind}`;
  const { temp, req } = await file(id);
  archive.fault(id, kind, { times: 1 });
  const resumes: number[] = [];
  await threads.pull({ ...req, onResume: (at) => resumes.push(at) });
  expect(readFileSync(temp).equals(data)).toBe(true);
  expect(resumes).toHaveLength(1);
  expect(resumes[0]).toBeGreaterThan(0);
  // The second GET asked for exactly the rest: what arrived before was not fetched again.
  expect(archive.rangesAsked(id)).toEqual([undefined, `${resumes[0]}-${data.length}`]);
});

test('a body that breaks off on every GET is given up after a bounded number of resumes', async () => {
  const { req } = await file('resume-never');
  archive.fault('resume-never', 'truncate');
  const err: unknown = await threads.pull(req).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(TransferError);
  expect((err as TransferError).retryable).toBe(true);
  expect((err as Error).message).toMatch(/transfer cut short: .*; resumed 3 times/);
  expect(archive.stats('resume-never').get).toBe(4);
});

test('a file the archive does not have is a fault that will not change on a retry', async () => {
  const err: unknown = await threads
    .pull({ archiveId: 'nowhere', temp: path.join(dir, 'none'), hashtype: 'sha1', hashsum: sha1, size: 10 })
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(TransferError);
  expect((err as TransferError).retryable).toBe(false);
});

test('an archive that sends nothing times out as a retryable fault (nothing to resume)', async () => {
  const { req } = await file('hang');
  archive.fault('hang', 'slow', { times: 1, delayMs: 3000 });
  const err: unknown = await threads.pull(req).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(TransferError);
  expect((err as Error).message).toMatch(/within 1 s/);
});

test('cancelling stops the transfer on the thread and rejects with CancelledError', async () => {
  const abort = new AbortController();
  const { temp, req } = await file('slow');
  archive.fault('slow', 'throttle', { times: 1, bytesPerSec: 256 * 1024 });
  const pulling = threads.pull({ ...req, signal: abort.signal });
  setTimeout(() => abort.abort(), 300);
  await expect(pulling).rejects.toBeInstanceOf(CancelledError);
  // The thread stopped writing: the temp file (the caller removes it) does not grow any more.
  const size = existsSync(temp) ? readFileSync(temp).length : 0;
  expect(size).toBeLessThan(data.length);
  await new Promise((r) => setTimeout(r, 300));
  expect(existsSync(temp) ? readFileSync(temp).length : 0).toBe(size);
});

test('a thread that dies in the middle of a transfer fails it as a retryable fault, and the next transfer gets a new thread', async () => {
  const dying = new TransferThreads({ url: archive.url, timeoutMs: 1000, maxSockets: 8, resumeDelayMs: 50 }, 1);
  const workers = (): Worker[] => (dying as unknown as { slots: { worker: Worker }[] }).slots.map((s) => s.worker);
  try {
    const { req } = await file('dies');
    archive.fault('dies', 'throttle', { times: 1, bytesPerSec: 256 * 1024 });
    const pulling = dying.pull(req);
    for (let i = 0; i < 100 && archive.openTransfers('dies') === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(archive.openTransfers('dies')).toBe(1);
    // What a crash or an out-of-memory abort of the thread looks like from the event loop: it ends.
    const [first] = workers();
    await first?.terminate();
    const err: unknown = await pulling.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransferError);
    expect((err as TransferError).retryable).toBe(true);
    expect((err as Error).message).toBe('transfer thread stopped: exit code 1');
    const next = await file('after-death');
    await dying.pull(next.req);
    expect(readFileSync(next.temp).equals(data)).toBe(true);
    expect(workers()).toHaveLength(1);
    expect(workers()[0]).not.toBe(first);
  } finally {
    await dying.close();
  }
});

test('a transfer asked of closed threads is cancelled', async () => {
  const closed = new TransferThreads({ url: archive.url, timeoutMs: 1000, maxSockets: 8, resumeDelayMs: 50 }, 1);
  await closed.close();
  const { req } = await file('late');
  await expect(closed.pull(req)).rejects.toBeInstanceOf(CancelledError);
});

test('closing the threads cancels the transfers still running on them', async () => {
  const closing = new TransferThreads({ url: archive.url, timeoutMs: 1000, maxSockets: 8, resumeDelayMs: 50 }, 1);
  const { req } = await file('closing');
  archive.fault('closing', 'throttle', { times: 1, bytesPerSec: 256 * 1024 });
  const pulling = closing.pull(req);
  await new Promise((r) => setTimeout(r, 300));
  await closing.close();
  await expect(pulling).rejects.toBeInstanceOf(CancelledError);
});
