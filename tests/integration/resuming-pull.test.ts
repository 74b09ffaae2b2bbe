/**
 * pullResuming on the event loop against the archive test server: the pause before a resume
 * gives way to a cancel at once, and a stream read to its end holds the file's bytes once.
 */
import { randomBytes } from 'node:crypto';
import { HttpArchive } from '../../src/archive/http-archive';
import { pullResuming } from '../../src/archive/resuming-pull';
import { CancelledError } from '../../src/core/errors';
import { startArchiveServer, type ArchiveServer } from '../support/archive-server';

const data = randomBytes(200_003);
let archive: ArchiveServer;
let client: HttpArchive;

beforeAll(async () => {
  archive = await startArchiveServer({ byteRangeEnd: 'exclusive' });
  client = new HttpArchive({ url: archive.url, timeoutMs: 1000 });
});
afterAll(async () => {
  client.close();
  await archive.close();
});

async function readAll(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part);
  return Buffer.concat(parts);
}

test('two breaks in a row: the stream holds every byte once, in order', async () => {
  await archive.put('twice', data);
  archive.fault('twice', 'truncate', { times: 2 });
  const at: number[] = [];
  const body = await pullResuming(client, 'twice', data.length, { delayMs: 10, onResume: (n) => at.push(n) });
  expect((await readAll(body)).equals(data)).toBe(true);
  const half = Math.floor(data.length / 2);
  expect(at).toEqual([half, half + Math.floor((data.length - half) / 2)]);
});

test('a cancel during the pause before a resume ends the pull at once, without asking again', async () => {
  await archive.put('cancel', data);
  archive.fault('cancel', 'truncate');
  const abort = new AbortController();
  const started = Date.now();
  const body = await pullResuming(client, 'cancel', data.length, { delayMs: 30_000, signal: abort.signal, onResume: () => abort.abort() });
  await expect(readAll(body)).rejects.toBeInstanceOf(CancelledError);
  expect(Date.now() - started).toBeLessThan(5000);
  expect(archive.stats('cancel').get).toBe(1);
});
