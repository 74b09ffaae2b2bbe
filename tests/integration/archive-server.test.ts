/**
 * The test archive interface (tests/support/archive-server.ts), seen from a client over
 * real sockets: the wire of PROTOCOL.md section 2, tape, faults and the test controls.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { main, UsageError } from '../support/archive-cli';
import { startArchiveServer, type ArchiveServer } from '../support/archive-server';

interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The transfer broke (reset, premature close) after the headers arrived. */
  broken: boolean;
}

/**
 * A request with node:http that reports what arrived even when the transfer breaks.
 * `rawPath` is sent as is (no URL normalisation of `.` or `%2E%2E`).
 */
function raw(url: string, method = 'GET', rawPath?: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const options = { method, agent: false, host: target.hostname, port: target.port, path: rawPath ?? `${target.pathname}${target.search}` };
    let answered = false;
    const req = http.request(options, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      let broken = false;
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', () => {
        broken = true;
      });
      res.on('aborted', () => {
        broken = true;
      });
      res.on('close', () => {
        if (!res.complete) broken = true;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), broken });
      });
    });
    // Once the headers are in, a broken transfer is reported by the response's 'close'.
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    req.end();
  });
}

/** Headers of a GET whose body is still coming; the caller ends it. */
function openGet(url: string): Promise<{ res: http.IncomingMessage; req: http.ClientRequest; firstBytes: Promise<Buffer> }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      res.on('error', () => undefined);
      const firstBytes = new Promise<Buffer>((got) => res.once('data', (chunk: Buffer) => got(chunk)));
      resolve({ res, req, firstBytes });
    });
    req.on('error', reject);
  });
}

async function body(res: Response): Promise<Buffer> {
  return Buffer.from(await res.arrayBuffer());
}

describe('archive interface test server', () => {
  let archive: ArchiveServer;

  beforeAll(async () => {
    archive = await startArchiveServer({ tapeDelayMs: 300 });
  });

  afterAll(async () => {
    await archive.close();
  });

  beforeEach(() => {
    archive.clearFaults();
    archive.resetStats();
    archive.throttleBytesPerSec = 0;
  });

  describe('HEAD', () => {
    it('answers 204 with the reference headers for a file on disk', async () => {
      const info = await archive.put('foo.txt', 'hello world', { mtime: 1546983446.123 });
      const res = await fetch(`${archive.url}foo.txt`, { method: 'HEAD' });
      expect(res.status).toBe(204);
      expect(res.headers.get('x-pacifica-messsage')).toBe('File was found');
      expect(res.headers.get('x-content-length')).toBe('11');
      expect(res.headers.get('last-modified')).toBe('1546983446.123');
      expect(res.headers.get('x-pacifica-ctime')).toMatch(/^\d+\.\d+$/);
      expect(res.headers.get('x-pacifica-bytes-per-level')).toBe('(11, 0)');
      expect(res.headers.get('x-pacifica-file')).toBe(info.path);
      expect(res.headers.get('x-pacifica-file-storage-media')).toBe('disk');
      expect(info.path).toBe(path.join(archive.dir, 'foo.txt'));
    });

    it('prints a whole-second mtime as a float', async () => {
      await archive.put('whole', 'x', { mtime: 1546983446 });
      const res = await fetch(`${archive.url}whole`, { method: 'HEAD' });
      expect(res.headers.get('last-modified')).toBe('1546983446.0');
    });

    it('answers 404 with every header saying File Not Found', async () => {
      const res = await fetch(`${archive.url}nope`, { method: 'HEAD' });
      expect(res.status).toBe(404);
      for (const name of [
        'x-pacifica-messsage',
        'x-pacifica-file',
        'x-content-length',
        'last-modified',
        'x-pacifica-ctime',
        'x-pacifica-bytes-per-level',
        'x-pacifica-file-storage-media',
      ]) {
        expect([name, res.headers.get(name)]).toEqual([name, 'File Not Found']);
      }
    });

    it('serves the health check at /', async () => {
      const res = await fetch(archive.url);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ message: 'Pacifica Archive Interface Up and Running' });
    });
  });

  describe('PUT and GET', () => {
    it('stores a body and serves the same bytes back', async () => {
      const data = randomBytes(3 * 1024 * 1024 + 7);
      const put = await fetch(`${archive.url}data.bin`, { method: 'PUT', body: data, headers: { 'Last-Modified': '1700000000.5' } });
      expect(put.status).toBe(201);
      expect(await put.json()).toEqual({ message: 'File was stored', total_bytes: data.length });

      const head = await fetch(`${archive.url}data.bin`, { method: 'HEAD' });
      expect(head.headers.get('last-modified')).toBe('1700000000.5');
      expect(head.headers.get('x-content-length')).toBe(String(data.length));

      const get = await fetch(`${archive.url}data.bin`);
      expect(get.status).toBe(200);
      expect(get.headers.get('content-type')).toBe('application/octet-stream');
      expect(get.headers.get('content-length')).toBe(String(data.length));
      expect((await body(get)).equals(data)).toBe(true);
    });

    it('accepts an HTTP date as Last-Modified and stamps now without one', async () => {
      await fetch(`${archive.url}dated`, { method: 'PUT', body: 'a', headers: { 'Last-Modified': 'Wed, 09 Jan 2019 21:37:26 GMT' } });
      expect((await archive.info('dated'))?.mtimeMs).toBe(Date.UTC(2019, 0, 9, 21, 37, 26));
      const before = Date.now();
      await fetch(`${archive.url}undated`, { method: 'PUT', body: 'a' });
      expect((await archive.info('undated'))?.mtimeMs).toBeGreaterThanOrEqual(before - 1000);
    });

    it('takes numeric ids and keeps every id inside its folder', async () => {
      await archive.put(1234, 'numbered');
      expect(await body(await fetch(`${archive.url}1234`))).toEqual(Buffer.from('numbered'));

      const put = await fetch(`${archive.url}${encodeURIComponent('../escape me')}`, { method: 'PUT', body: 'x' });
      expect(put.status).toBe(201);
      expect(existsSync(path.join(archive.dir, '..%2Fescape%20me'))).toBe(true);
      expect(existsSync(path.join(path.dirname(archive.dir), 'escape me'))).toBe(false);

      for (const bad of ['/%2E%2E', '/.', '/%2e', '/..', '/%E0%A4%A']) {
        expect([bad, (await raw(archive.url, 'PUT', bad)).status]).toEqual([bad, 400]);
      }
    });

    it('stores nothing from an upload broken off, and carries on', async () => {
      await new Promise<void>((resolve) => {
        const target = new URL(`${archive.url}broken`);
        const req = http.request({ host: target.hostname, port: target.port, path: target.pathname, method: 'PUT', agent: false, headers: { 'Content-Length': '100000' } });
        req.on('error', () => resolve());
        req.write(Buffer.alloc(1000), () => setTimeout(() => req.destroy(), 50));
        req.on('close', () => resolve());
      });
      await sleep(50);
      expect(await archive.info('broken')).toBeUndefined();
      expect((await fsp.readdir(archive.dir)).filter((name) => name.startsWith('#'))).toEqual([]);
      expect((await fetch(archive.url)).status).toBe(200);
    });

    it('answers a GET of a missing file with 404 JSON', async () => {
      const res = await fetch(`${archive.url}missing`);
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ message: expect.stringContaining('File Not Found') });
    });

    it('serves byte_range slices, END inclusive and clamped', async () => {
      const data = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      await archive.put('ramp', data);
      const slice = async (range: string): Promise<Buffer> => {
        const res = await fetch(`${archive.url}ramp?byte_range=${range}`);
        expect(res.status).toBe(200);
        const bytes = await body(res);
        expect(res.headers.get('content-length')).toBe(String(bytes.length));
        return bytes;
      };
      expect(await slice('10-19')).toEqual(data.subarray(10, 20));
      expect(await slice('0-0')).toEqual(data.subarray(0, 1));
      expect(await slice('250-')).toEqual(data.subarray(250));
      expect(await slice('250-100000')).toEqual(data.subarray(250));
      expect(await slice('300-400')).toHaveLength(0);
      const bad = await fetch(`${archive.url}ramp?byte_range=ten-twenty`);
      expect(bad.status).toBe(500);
      expect(await bad.json()).toMatchObject({ message: expect.stringContaining('Invalid byte range') });
      expect(archive.requests.map((r) => r.byteRange)).toEqual(['10-19', '0-0', '250-', '250-100000', '300-400', 'ten-twenty']);
    });

    it('can read END as exclusive, the way the reference server does', async () => {
      const exclusive = await startArchiveServer({ byteRangeEnd: 'exclusive' });
      try {
        await exclusive.put('ramp', Buffer.from('0123456789'));
        expect((await body(await fetch(`${exclusive.url}ramp?byte_range=2-5`))).toString()).toBe('234');
        expect((await fetch(`${exclusive.url}ramp?byte_range=2-`)).status).toBe(500);
      } finally {
        await exclusive.close();
      }
    });
  });

  describe('tape', () => {
    it('refuses GET until a recall has had time to bring the file to disk', async () => {
      const data = randomBytes(1000);
      await archive.put('cold', data, { media: 'tape' });
      const head = async (): Promise<Response> => fetch(`${archive.url}cold`, { method: 'HEAD' });

      const first = await head();
      expect(first.status).toBe(204);
      expect(first.headers.get('x-pacifica-file-storage-media')).toBe('tape');
      expect(first.headers.get('x-pacifica-bytes-per-level')).toBe('(0, 1000)');

      const refused = await fetch(`${archive.url}cold`);
      expect(refused.status).toBe(500);
      expect(await refused.json()).toMatchObject({ message: expect.stringContaining('tape') });

      // HEAD alone never recalls, however long one waits.
      await sleep(400);
      expect((await head()).headers.get('x-pacifica-file-storage-media')).toBe('tape');

      const post = await fetch(`${archive.url}cold`, { method: 'POST' });
      expect(post.status).toBe(200);
      expect(await post.json()).toEqual({ message: 'File was staged', file: 'cold' });
      expect((await head()).headers.get('x-pacifica-file-storage-media')).toBe('tape');

      await sleep(350);
      const after = await head();
      expect(after.headers.get('x-pacifica-file-storage-media')).toBe('disk');
      expect(after.headers.get('x-pacifica-bytes-per-level')).toBe('(1000, 0)');
      expect((await body(await fetch(`${archive.url}cold`))).equals(data)).toBe(true);
      expect(archive.stats('cold')).toEqual({ head: 4, post: 1, get: 2, put: 0, delete: 0 });
    });

    it('counts the delay from the first recall, with a per-file delay', async () => {
      await archive.put('slowtape', 'x');
      archive.setMedia('slowtape', 'tape', 150);
      await fetch(`${archive.url}slowtape`, { method: 'POST' });
      await sleep(100);
      await fetch(`${archive.url}slowtape`, { method: 'POST' });
      await sleep(80);
      expect((await archive.info('slowtape'))?.media).toBe('disk');
    });

    it('answers POST of a missing file with 404 JSON', async () => {
      const res = await fetch(`${archive.url}ghost`, { method: 'POST' });
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ message: expect.stringContaining('File Not Found') });
    });

    it('takes PUTs to tape when asked', async () => {
      await fetch(`${archive.url}puttape`, { method: 'PUT', body: 'x', headers: { 'X-Pacifica-File-Storage-Media': 'tape' } });
      expect((await archive.info('puttape'))?.media).toBe('tape');
    });
  });

  describe('faults', () => {
    const data = randomBytes(200_000);
    beforeAll(async () => {
      await archive.put('f', data);
    });

    it('500 answers 500 JSON, on GET by default and on HEAD or POST when asked', async () => {
      archive.fault('f', '500');
      archive.fault('f', '500', { on: 'HEAD' });
      archive.fault('f', '500', { on: 'POST' });
      const get = await fetch(`${archive.url}f`);
      expect(get.status).toBe(500);
      expect(await get.json()).toMatchObject({ message: expect.any(String) });
      expect((await fetch(`${archive.url}f`, { method: 'HEAD' })).status).toBe(500);
      expect((await fetch(`${archive.url}f`, { method: 'POST' })).status).toBe(500);
      expect(archive.requests.map((r) => r.fault)).toEqual(['500', '500', '500']);
    });

    it('times: 2 spoils two attempts only, and faults queue in order', async () => {
      archive.fault('f', '500', { times: 2 });
      expect((await fetch(`${archive.url}f`)).status).toBe(500);
      expect((await fetch(`${archive.url}f`)).status).toBe(500);
      expect((await body(await fetch(`${archive.url}f`))).equals(data)).toBe(true);

      archive.fault('f', '500', { times: 1 });
      archive.fault('f', 'corrupt', { times: 1 });
      expect((await fetch(`${archive.url}f`)).status).toBe(500);
      expect((await body(await fetch(`${archive.url}f`))).equals(data)).toBe(false);
      expect((await body(await fetch(`${archive.url}f`))).equals(data)).toBe(true);
    });

    it('reset breaks the transfer after the headers and part of the body', async () => {
      archive.fault('f', 'reset');
      await expect(
        (async () => {
          const res = await fetch(`${archive.url}f`);
          await res.arrayBuffer();
        })(),
      ).rejects.toThrow();
      const seen = await raw(`${archive.url}f`);
      expect(seen.status).toBe(200);
      expect(seen.broken).toBe(true);
      expect(seen.body.length).toBeLessThan(data.length);
    });

    it('truncate declares the full length and sends half', async () => {
      archive.fault('f', 'truncate', { times: 1 });
      const seen = await raw(`${archive.url}f`);
      expect(seen.status).toBe(200);
      expect(seen.headers['content-length']).toBe(String(data.length));
      expect(seen.body).toHaveLength(data.length / 2);
      expect(seen.broken).toBe(true);
      expect(seen.body.equals(data.subarray(0, data.length / 2))).toBe(true);
    });

    it('corrupt sends the right length with wrong bytes', async () => {
      archive.fault('f', 'corrupt', { times: 1 });
      const got = await body(await fetch(`${archive.url}f`));
      expect(got).toHaveLength(data.length);
      expect(got.equals(data)).toBe(false);
    });

    it('slow outlasts a client timeout, or answers late when given a short delay', async () => {
      archive.fault('f', 'slow', { times: 1 });
      await expect(fetch(`${archive.url}f`, { signal: AbortSignal.timeout(200) })).rejects.toThrow();
      expect(await archive.waitForTransfersClosed('f', 1000)).toBe(true);

      archive.fault('f', 'slow', { times: 1, delayMs: 150 });
      const started = Date.now();
      const res = await fetch(`${archive.url}f`);
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
      expect((await body(res)).equals(data)).toBe(true);
    });

    it('hang sends headers and some bytes, then nothing, until the client gives up', async () => {
      archive.fault('f', 'hang', { times: 1 });
      const { res, req, firstBytes } = await openGet(`${archive.url}f`);
      expect(res.statusCode).toBe(200);
      expect((await firstBytes).length).toBeGreaterThan(0);
      let more = 0;
      res.on('data', (chunk: Buffer) => {
        more += chunk.length;
      });
      await sleep(300);
      expect(more).toBeLessThan(data.length / 2);
      expect(archive.openTransfers('f')).toBe(1);
      req.destroy();
      expect(await archive.waitForTransfersClosed('f', 1000)).toBe(true);
    });

    it('throttle paces one file', async () => {
      archive.fault('f', 'throttle', { bytesPerSec: 400_000, times: 1 });
      const started = Date.now();
      const got = await body(await fetch(`${archive.url}f`));
      expect(got.equals(data)).toBe(true);
      expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    });

    it('keeps body faults for a GET that has bytes to spoil', async () => {
      await archive.put('coldfault', 'abcdef', { media: 'tape', tapeDelayMs: 0 });
      archive.fault('coldfault', 'corrupt', { times: 1 });
      expect((await fetch(`${archive.url}coldfault`)).status).toBe(500); // on tape
      await fetch(`${archive.url}coldfault`, { method: 'POST' });
      expect((await body(await fetch(`${archive.url}coldfault`))).toString()).not.toBe('abcdef');
      expect((await body(await fetch(`${archive.url}coldfault`))).toString()).toBe('abcdef');
    });

    it('rejects faults that make no sense', () => {
      expect(() => archive.fault('f', 'truncate', { on: 'HEAD' })).toThrow();
      expect(() => archive.fault('f', 'throttle')).toThrow();
      expect(() => archive.fault('f', '500', { times: 0 })).toThrow();
    });
  });

  describe('counters and transfers', () => {
    it('counts requests per file and in total, and logs them', async () => {
      await archive.put('c1', 'one');
      await archive.put('c2', 'two');
      const t0 = Date.now();
      await fetch(`${archive.url}c1`, { method: 'HEAD' });
      await fetch(`${archive.url}c1`, { method: 'POST' });
      await (await fetch(`${archive.url}c1?byte_range=0-1`)).arrayBuffer();
      await (await fetch(`${archive.url}c2`)).arrayBuffer();
      expect(archive.stats('c1')).toEqual({ head: 1, post: 1, get: 1, put: 0, delete: 0 });
      expect(archive.stats()).toEqual({
        total: { head: 1, post: 1, get: 2, put: 0, delete: 0 },
        byId: { c1: { head: 1, post: 1, get: 1, put: 0, delete: 0 }, c2: { head: 0, post: 0, get: 1, put: 0, delete: 0 } },
      });
      expect(archive.requests.map(({ method, id, byteRange }) => ({ method, id, byteRange }))).toEqual([
        { method: 'HEAD', id: 'c1', byteRange: undefined },
        { method: 'POST', id: 'c1', byteRange: undefined },
        { method: 'GET', id: 'c1', byteRange: '0-1' },
        { method: 'GET', id: 'c2', byteRange: undefined },
      ]);
      expect(archive.requests.every((r) => r.time >= t0 && r.time <= Date.now())).toBe(true);
      expect(archive.requests.map((r) => r.status)).toEqual([204, 200, 200, 200]);
      expect(await archive.waitForTransfersClosed(undefined, 1000)).toBe(true);
      archive.resetStats();
      expect(archive.stats().total).toEqual({ head: 0, post: 0, get: 0, put: 0, delete: 0 });
      expect(archive.requests).toHaveLength(0);
    });

    it('keeps a small log entry per request, not the response it was sent with', async () => {
      // A benchmark run sends hundreds of thousands of requests to one archive server.
      setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as () => void;
      await archive.put('logged', 'x');
      const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
      const head = (): Promise<number> =>
        new Promise((resolve, reject) => {
          const req = http.request(`${archive.url}logged`, { method: 'HEAD', agent }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          });
          req.on('error', reject);
          req.end();
        });
      const send = async (n: number): Promise<void> => {
        for (let i = 0; i < n; i += 8) expect(await Promise.all(Array.from({ length: 8 }, head))).toEqual(Array(8).fill(204));
      };
      try {
        await send(800); // warm up sockets and code
        gc();
        const before = process.memoryUsage().heapUsed;
        await send(4000);
        gc();
        const perRequest = (process.memoryUsage().heapUsed - before) / 4000;
        expect(archive.requests).toHaveLength(4800);
        expect(archive.requests.at(-1)?.status).toBe(204);
        // A response kept alive by its entry is about 8 KB; an entry alone, a few hundred bytes.
        expect(perRequest).toBeLessThan(2000);
      } finally {
        agent.destroy();
      }
    });

    it('reports GET transfers in flight and sees them close when the client goes away', async () => {
      await archive.put('long', randomBytes(1024 * 1024));
      archive.throttleBytesPerSec = 100_000;
      const a = await openGet(`${archive.url}long`);
      const b = await openGet(`${archive.url}long`);
      await a.firstBytes;
      expect(archive.openTransfers('long')).toBe(2);
      expect(archive.openTransfers()).toBe(2);
      a.req.destroy();
      b.req.destroy();
      expect(await archive.waitForTransfersClosed('long', 1000)).toBe(true);
      expect(archive.openTransfers()).toBe(0);
      // And the server is none the worse for it.
      archive.throttleBytesPerSec = 0;
      expect((await fetch(`${archive.url}long`, { method: 'HEAD' })).status).toBe(204);
    });
  });

  describe('big files', () => {
    it('serves a 9 GiB sparse file: size in HEAD, a slice near the end, a long stretch streamed', async () => {
      const size = 9 * 1024 ** 3;
      const info = await archive.putSparse('sparse', size);
      expect((await fsp.stat(info.path)).blocks).toBeLessThan(64);
      const head = await fetch(`${archive.url}sparse`, { method: 'HEAD' });
      expect(head.headers.get('x-content-length')).toBe(String(size));

      const tail = await fetch(`${archive.url}sparse?byte_range=${size - 10}-${size + 100}`);
      expect(tail.headers.get('content-length')).toBe('10');
      expect(await body(tail)).toEqual(Buffer.alloc(10));

      // 128 MiB through a plain node:http client, counted not kept.
      const stretch = 128 * 1024 * 1024;
      const counted = await new Promise<number>((resolve, reject) => {
        http
          .get(`${archive.url}sparse?byte_range=${size - stretch}-`, { agent: false }, (res) => {
            let n = 0;
            res.on('data', (chunk: Buffer) => {
              n += chunk.length;
            });
            res.on('end', () => resolve(n));
            res.on('error', reject);
          })
          .on('error', reject);
      });
      expect(counted).toBe(stretch);
    });
  });

  describe('lifecycle and CLI', () => {
    it('removes the folder it created, keeps one it was given', async () => {
      const own = await startArchiveServer({});
      await own.put('x', 'y');
      await own.close();
      expect(existsSync(own.dir)).toBe(false);

      const given = await fsp.mkdtemp(path.join(os.tmpdir(), 'archive-given-'));
      const other = await startArchiveServer({ dir: given });
      await other.put('x', 'y');
      await other.close();
      expect(await fsp.readFile(path.join(given, 'x'), 'utf8')).toBe('y');
      await fsp.rm(given, { recursive: true, force: true });
    });

    it('close() drops transfers in flight', async () => {
      const own = await startArchiveServer({});
      await own.put('x', randomBytes(100_000));
      own.fault('x', 'hang');
      const { res } = await openGet(`${own.url}x`);
      const closed = new Promise<void>((resolve) => res.on('close', () => resolve()));
      await own.close();
      await closed;
      expect(own.openTransfers()).toBe(0);
    });

    it('main() starts a server from command line arguments', async () => {
      const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'archive-cli-'));
      const lines: string[] = [];
      const sigterm = process.listenerCount('SIGTERM');
      const server = await main(['--port', '0', '--dir', dir, '--tape-delay', '50', '--media', 'tape'], { log: (l) => lines.push(l) });
      try {
        expect(lines).toEqual([`archive interface test server on ${server.url} storing in ${dir}`]);
        expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
        expect(process.listenerCount('SIGTERM')).toBe(sigterm + 1);
        expect((await fetch(`${server.url}a`, { method: 'PUT', body: 'abc' })).status).toBe(201);
        const head = await fetch(`${server.url}a`, { method: 'HEAD' });
        expect(head.headers.get('x-pacifica-file-storage-media')).toBe('tape');
        await fetch(`${server.url}a`, { method: 'POST' });
        await sleep(80);
        expect((await body(await fetch(`${server.url}a`))).toString()).toBe('abc');
      } finally {
        await server.close();
      }
      expect(process.listenerCount('SIGTERM')).toBe(sigterm);
      expect(existsSync(path.join(dir, 'a'))).toBe(true);
      await fsp.rm(dir, { recursive: true, force: true });
    });

    it('main() refuses bad arguments', async () => {
      await expect(main(['--port', 'eighty'])).rejects.toBeInstanceOf(UsageError);
      await expect(main(['--bogus'])).rejects.toBeInstanceOf(UsageError);
      await expect(main(['--media', 'floppy', '--port', '0'])).rejects.toBeInstanceOf(UsageError);
    });
  });
});
