import { mkdtempSync, readdirSync, readlinkSync, rmSync, truncateSync, unlinkSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { SourceChangedError, tarLayout, tarStream, type BundleFile } from '../../src/bundle';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cartd-bundle-stream-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, size: number): BundleFile {
  const source = join(dir, name);
  writeFileSync(source, Buffer.alloc(size, name.charCodeAt(0)));
  return { path: `p/${name}`, size, mtime: 1_700_000_000, source };
}

/**
 * Descriptors of this process open on our temp files. Counting all of /proc/self/fd is noisy
 * under jest (its own files come and go), so look at where each one points.
 */
function openSources(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir)) n += 1;
    } catch {
      // closed between readdir and readlink
    }
  }
  return n;
}

/** Reads until the stream has pushed `bytes`, then returns what it got and how. */
async function drain(stream: Readable): Promise<{ bytes: number; error?: unknown }> {
  let bytes = 0;
  try {
    for await (const chunk of stream) bytes += (chunk as Buffer).byteLength;
    return { bytes };
  } catch (error) {
    return { bytes, error };
  }
}

test('destroying 50 streams mid-file leaks no file descriptor', async () => {
  const layout = tarLayout('r', [file('a', 4 << 20), file('b', 4 << 20)]);
  const streams = Array.from({ length: 50 }, (_, i) => tarStream(layout, { start: i * 1000, end: layout.size - 1 }, { chunkSize: 64 * 1024 }));
  // Pull a couple of chunks from each so every one of them has a file open.
  await Promise.all(
    streams.map(async (s) => {
      const it = s[Symbol.asyncIterator]();
      await it.next();
      await it.next();
    }),
  );
  expect(openSources()).toBe(50);
  await Promise.all(streams.map(async (s) => {
    s.destroy();
    await finished(s).catch(() => undefined);
  }));
  await new Promise((resolve) => setImmediate(resolve));
  expect(openSources()).toBe(0);
});

test('destroying a stream that was never read opens nothing', async () => {
  const layout = tarLayout('r', [file('a', 1000)]);
  const s = tarStream(layout);
  s.destroy();
  await finished(s).catch(() => undefined);
  expect(openSources()).toBe(0);
});

test('aborting the signal errors the stream and closes the file', async () => {
  const layout = tarLayout('r', [file('a', 8 << 20)]);
  const controller = new AbortController();
  const s = tarStream(layout, undefined, { chunkSize: 64 * 1024, signal: controller.signal });
  const it = s[Symbol.asyncIterator]();
  await it.next();
  controller.abort();
  await expect(it.next()).rejects.toMatchObject({ name: 'AbortError' });
  await finished(s).catch(() => undefined);
  await new Promise((resolve) => setImmediate(resolve));
  expect(openSources()).toBe(0);
});

test('a missing source file errors the stream: never a clean, truncated tarball', async () => {
  const files = [file('a', 1000), file('b', 1000), file('c', 0)];
  const layout = tarLayout('r', files);
  unlinkSync(files[1]?.source ?? '');
  const result = await drain(tarStream(layout));
  expect(result.error).toMatchObject({ code: 'ENOENT' });
  expect(result.bytes).toBeLessThan(layout.size);
});

test('a missing empty file is noticed too', async () => {
  const files = [file('a', 10), file('z', 0)];
  const layout = tarLayout('r', files);
  unlinkSync(files[1]?.source ?? '');
  expect((await drain(tarStream(layout))).error).toMatchObject({ code: 'ENOENT' });
});

test.each([
  ['shrank', (p: string) => truncateSync(p, 999)],
  ['grew', (p: string) => appendFileSync(p, 'x')],
])('a source file that %s since the layout errors the stream', async (_how, change) => {
  const files = [file('a', 1000), file('b', 1000)];
  const layout = tarLayout('r', files);
  change(files[1]?.source ?? '');
  const result = await drain(tarStream(layout));
  expect(result.error).toBeInstanceOf(SourceChangedError);
  expect(result.bytes).toBeLessThan(layout.size);
});

test('a source file cut short while being read errors the stream', async () => {
  const f = file('a', 1 << 20);
  const layout = tarLayout('r', [f]);
  const s = tarStream(layout, undefined, { chunkSize: 64 * 1024 });
  const it = s[Symbol.asyncIterator]();
  await it.next();
  truncateSync(f.source, 100_000);
  let error: unknown;
  try {
    while (!(await it.next()).done);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(SourceChangedError);
});

test('a range inside one file does not open the others', async () => {
  const files = [file('a', 10_000), file('b', 10_000), file('c', 10_000)];
  const layout = tarLayout('r', files);
  unlinkSync(files[0]?.source ?? '');
  unlinkSync(files[2]?.source ?? '');
  const b = layout.entries[1];
  const start = (b?.offset ?? 0) + (b?.headerSize ?? 0);
  const result = await drain(tarStream(layout, { start, end: start + 9_999 }));
  expect(result).toEqual({ bytes: 10_000 });
});
