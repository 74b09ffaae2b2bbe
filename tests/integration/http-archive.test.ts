/**
 * The archive client as an archive sees it, over real sockets: which paths it asks for below
 * a base URL, the credentials it sends, and that a body it lets go of unread frees the
 * connection. A plain server records each request (the archive test server lives at `/`).
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpArchive } from '../../src/archive/http-archive';
import { pullResuming } from '../../src/archive/resuming-pull';
import { eventually } from '../support/download-client';

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly authorization: string | undefined;
}

let server: http.Server;
let port: number;
const seen: Seen[] = [];
/** Responses to GET still open (the body is sent slowly, a chunk at a time). */
const openBodies = new Set<http.ServerResponse>();
const BODY = 1024 * 1024;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
    if (req.method === 'HEAD') {
      res.writeHead(204, { 'X-Content-Length': String(BODY), 'Last-Modified': '1546983446.5', 'X-Pacifica-File-Storage-Media': 'disk' });
      return res.end();
    }
    // A first chunk now, the rest never: the client decides when the body ends.
    const range = /byte_range=(\d+)-(\d+)/.exec(req.url ?? '');
    res.writeHead(200, { 'Content-Length': String(range ? Number(range[2]) - Number(range[1]) : BODY) });
    res.write(Buffer.alloc(1024, 1));
    openBodies.add(res);
    res.on('close', () => openBodies.delete(res));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  server.close();
  await once(server, 'close');
});
beforeEach(() => {
  seen.length = 0;
});

test('files are asked for below the base URL path, each id one encoded path segment', async () => {
  const archive = new HttpArchive({ url: `http://127.0.0.1:${port}/archive/v1/`, timeoutMs: 5000 });
  try {
    expect(await archive.status('a b')).toEqual({ size: BODY, mtime: 1546983446.5, media: 'disk' });
    await archive.status('dir/file?x=1#y');
    (await archive.pull('100%', { start: 0, size: BODY })).destroy();
    (await archive.pull('7', { start: 10, size: BODY })).destroy();
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      'HEAD /archive/v1/a%20b',
      'HEAD /archive/v1/dir%2Ffile%3Fx%3D1%23y',
      'GET /archive/v1/100%25',
      `GET /archive/v1/7?byte_range=10-${BODY}`,
    ]);
  } finally {
    archive.close();
  }
});

test('credentials in the base URL are sent as Basic authorization', async () => {
  const archive = new HttpArchive({ url: `http://stager:p%40ss@127.0.0.1:${port}/`, timeoutMs: 5000 });
  try {
    await archive.status('1');
    expect(seen.map((s) => s.authorization)).toEqual([`Basic ${Buffer.from('stager:p@ss').toString('base64')}`]);
  } finally {
    archive.close();
  }
});

test('a body let go of before a byte of it is read frees its connection at once', async () => {
  const archive = new HttpArchive({ url: `http://127.0.0.1:${port}/`, timeoutMs: 30_000 });
  try {
    // What staging does when the temp file cannot be made: the body it asked for is never read.
    const body = await pullResuming(archive, 'unread', BODY, { delayMs: 10 });
    expect(openBodies.size).toBe(1);
    body.destroy();
    expect(await eventually(() => openBodies.size === 0, 1000)).toBe(true);
    // Read part way, then let go of: freed too.
    const partly = await pullResuming(archive, 'partly', BODY, { delayMs: 10 });
    for await (const chunk of partly) {
      expect(chunk.length).toBeGreaterThan(0);
      break;
    }
    expect(await eventually(() => openBodies.size === 0, 1000)).toBe(true);
  } finally {
    archive.close();
  }
});
