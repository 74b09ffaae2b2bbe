/**
 * Issue 5, acceptance 7: CORS for web portals (`cartd.cors_origins`). An allowed origin's
 * preflight passes and its HEAD and GET expose the status and download headers; an origin
 * not allowed, or any origin when none is configured (the default), gets no CORS header.
 */
import { startArchiveServer, type ArchiveServer } from '../support/archive-server';
import { archiveFile, startCartd, type CartdHarness } from '../support/cartd-harness';
import { request, stageCart, type Got } from '../support/download-client';

const PORTAL = 'https://portal.example.org';
const EXPOSED = [
  'X-Pacifica-Status',
  'X-Pacifica-Message',
  'Content-Disposition',
  'Content-Length',
  'ETag',
  'Content-Range',
  'Accept-Ranges',
  'X-Cartd-Files-Staged',
  'X-Cartd-Bytes-Staged',
  'X-Cartd-Download-Length',
  'Retry-After',
];

let archive: ArchiveServer;
let withCors: CartdHarness;
let plain: CartdHarness;
let any: CartdHarness;

beforeAll(async () => {
  archive = await startArchiveServer();
  withCors = await startCartd({ archive, overrides: { 'cartd.cors_origins': `${PORTAL}, http://localhost:3000` } });
  plain = await startCartd({ archive });
  any = await startCartd({ archive, overrides: { 'cartd.cors_origins': '*' } });
  const f = await archiveFile(archive, 'cors-1', 'a/b.txt', 'portal data\n');
  for (const c of [withCors, plain, any]) await stageCart(c, 'cors-cart', [f]);
});
afterAll(async () => {
  for (const c of [withCors, plain, any]) await c?.close();
  await archive?.close();
});

const corsHeaders = (got: Got): string[] => [...got.headers.keys()].filter((k) => k.startsWith('access-control-'));
const list = (value: string | null): string[] => (value ?? '').split(',').map((s) => s.trim().toLowerCase());

function preflight(c: CartdHarness, origin: string, method = 'GET', headers = 'range, if-range'): Promise<Got> {
  return request('OPTIONS', c, 'cors-cart?filename=x.tar', { Origin: origin, 'Access-Control-Request-Method': method, 'Access-Control-Request-Headers': headers });
}

test('a preflight from an allowed origin passes for GET with Range and for POST with Content-Type', async () => {
  const got = await preflight(withCors, PORTAL);
  expect(got.code).toBe(204);
  expect(got.headers.get('access-control-allow-origin')).toBe(PORTAL);
  expect(list(got.headers.get('access-control-allow-methods'))).toEqual(expect.arrayContaining(['get', 'head', 'post', 'delete']));
  expect(list(got.headers.get('access-control-allow-headers'))).toEqual(expect.arrayContaining(['range', 'if-range', 'content-type']));
  expect(list(got.headers.get('vary'))).toContain('origin');
  expect((await preflight(withCors, 'http://localhost:3000', 'POST', 'content-type')).headers.get('access-control-allow-origin')).toBe('http://localhost:3000');
});

test('a cross-origin HEAD can read X-Pacifica-Status and every progress and download header', async () => {
  const got = await request('HEAD', withCors, 'cors-cart?filename=x.tar', { Origin: PORTAL });
  expect(got.code).toBe(204);
  expect(got.headers.get('x-pacifica-status')).toBe('ready');
  expect(got.headers.get('access-control-allow-origin')).toBe(PORTAL);
  expect(list(got.headers.get('access-control-expose-headers'))).toEqual(expect.arrayContaining(EXPOSED.map((h) => h.toLowerCase())));
  expect(got.headers.get('x-cartd-download-length')).not.toBeNull();
});

test('a cross-origin GET of the tarball exposes Content-Disposition, ETag and Content-Range', async () => {
  const got = await request('GET', withCors, 'cors-cart?filename=x.tar', { Origin: PORTAL, Range: 'bytes=0-99' });
  expect(got.code).toBe(206);
  expect(got.headers.get('access-control-allow-origin')).toBe(PORTAL);
  expect(list(got.headers.get('access-control-expose-headers'))).toEqual(expect.arrayContaining(['content-disposition', 'etag', 'content-range']));
});

test('an origin not allowed gets no CORS header at all, on a preflight, a HEAD or a GET', async () => {
  const evil = 'https://evil.example.com';
  const pre = await preflight(withCors, evil);
  // Express still answers OPTIONS with its Allow list, but without CORS headers the browser fails the preflight.
  expect(corsHeaders(pre)).toEqual([]);
  const status = await request('HEAD', withCors, 'cors-cart', { Origin: evil });
  expect(status.code).toBe(204);
  expect(corsHeaders(status)).toEqual([]);
  expect(corsHeaders(await request('GET', withCors, 'cors-cart?filename=x.tar', { Origin: evil }))).toEqual([]);
  // Nor an allowed origin spelled differently (scheme, port, trailing path).
  for (const near of ['http://portal.example.org', 'https://portal.example.org:8443', 'https://portal.example.org.evil.com']) {
    expect(corsHeaders(await request('HEAD', withCors, 'cors-cart', { Origin: near }))).toEqual([]);
  }
});

test('by default (cors_origins empty) no origin gets CORS headers; with * every origin does', async () => {
  expect(corsHeaders(await preflight(plain, PORTAL))).toEqual([]);
  expect(corsHeaders(await request('HEAD', plain, 'cors-cart', { Origin: PORTAL }))).toEqual([]);
  const star = await request('HEAD', any, 'cors-cart', { Origin: 'https://anyone.example.net' });
  expect(star.headers.get('access-control-allow-origin')).toBe('*');
  expect(list(star.headers.get('access-control-expose-headers'))).toContain('x-pacifica-status');
  expect((await preflight(any, 'https://anyone.example.net')).code).toBe(204);
});
