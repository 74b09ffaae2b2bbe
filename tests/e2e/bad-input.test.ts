import { startArchiveServer, type ArchiveServer } from '../support/archive-server';
import { startCartd, type CartdHarness } from '../support/cartd-harness';

let archive: ArchiveServer;
let cartd: CartdHarness;

beforeAll(async () => {
  archive = await startArchiveServer();
  cartd = await startCartd({ archive, overrides: { 'cartd.max_body_bytes': '65536' } });
});
afterAll(async () => {
  await cartd?.close();
  await archive?.close();
});

const MD5 = 'd41d8cd98f00b204e9800998ecf8427e';
const file = (over: Record<string, unknown> = {}): Record<string, unknown> => ({ id: 'a', path: 'a.txt', hashtype: 'md5', hashsum: MD5, ...over });
const body = (...files: unknown[]): string => JSON.stringify({ fileids: files });

async function post(uid: string, payload: string): Promise<{ code: number; json: { status?: string; message?: string } }> {
  const res = await fetch(new URL(encodeURIComponent(uid).replace(/%2F/g, '/'), cartd.url), { method: 'POST', body: payload });
  return { code: res.status, json: (await res.json()) as { status?: string; message?: string } };
}

/** [what, uid, body, the words the message must contain] */
const CASES: [string, string, string, RegExp][] = [
  ['invalid JSON', 'u1', '{"fileids": [', /body is not valid JSON/],
  ['empty body', 'u1', '', /body is empty/],
  ['a list instead of an object', 'u1', '[]', /body must be a JSON object/],
  ['missing fileids', 'u1', '{"bundle": false}', /fileids is required/],
  ['fileids not a list', 'u1', '{"fileids": {}}', /fileids must be a list/],
  ['empty fileids', 'u1', '{"fileids": []}', /fileids must list at least one file/],
  ['entry not an object', 'u1', body('a.txt'), /fileids\[0\] must be an object/],
  ['missing id', 'u1', body({ path: 'a', hashtype: 'md5', hashsum: MD5 }), /fileids\[0\]\.id is required/],
  ['id of the wrong type', 'u1', body(file({ id: true })), /fileids\[0\]\.id must be a string or an integer/],
  ['missing path', 'u1', body({ id: 'a', hashtype: 'md5', hashsum: MD5 }), /fileids\[0\]\.path is required/],
  ['path of the wrong type', 'u1', body(file({ path: 7 })), /fileids\[0\]\.path must be a string/],
  ['missing hashsum', 'u1', body({ id: 'a', path: 'a', hashtype: 'md5' }), /fileids\[0\]\.hashsum is required/],
  ['.. in a path', 'u1', body(file({ path: '1/../../etc/passwd' })), /fileids\[0\]\.path must not contain '\.\.' segments/],
  ['NUL in a path', 'u1', body(file({ path: 'a\u0000b' })), /fileids\[0\]\.path must not contain NUL/],
  ['backslash in a path', 'u1', body(file({ path: 'a\\b.txt' })), /fileids\[0\]\.path must not contain a backslash/],
  ['empty path', 'u1', body(file({ path: '/' })), /fileids\[0\]\.path must name a file/],
  ['duplicate paths', 'u1', body(file(), file({ id: 'b', path: '/a.txt' })), /fileids\[1\]\.path "a\.txt" repeats fileids\[0\]\.path/],
  ['a path that is a file and a folder', 'u1', body(file({ path: 'd' }), file({ id: 'b', path: 'd/x.txt' })), /fileids\[0\]\.path "d" is a file but fileids\[1\]\.path puts a file inside it/],
  ['unknown hashtype', 'u1', body(file({ hashtype: 'crc32' })), /fileids\[0\]\.hashtype "crc32" is not known/],
  ['malformed hex', 'u1', body(file({ hashsum: 'xyz' })), /fileids\[0\]\.hashsum must be 32 hex digits for md5/],
  ['hex of the wrong length', 'u1', body(file({ hashtype: 'sha256' })), /fileids\[0\]\.hashsum must be 64 hex digits for sha256/],
  ['a uid with /', 'a/b', body(file()), /uid must be 1 to 128 characters/],
  ['a uid over 128 characters', 'x'.repeat(129), body(file()), /uid must be 1 to 128 characters/],
  ['a uid with other characters', 'caf\u00e9', body(file()), /uid must be 1 to 128 characters/],
];

describe('bad input gets a 400 JSON error that names the problem, and the server keeps serving', () => {
  test.each(CASES)('%s', async (_what, uid, payload, words) => {
    const answer = await post(uid, payload);
    expect(answer.code).toBe(400);
    expect(answer.json.status).toBe('Bad Request');
    expect(answer.json.message).toMatch(words);
    expect(answer.json.message).not.toMatch(/\n\s+at /); // no stack trace
    const health = await fetch(cartd.url);
    expect(health.status).toBe(200);
    expect((await fetch(new URL('u1', cartd.url), { method: 'HEAD' })).status).toBe(404);
  });

  test('an oversized body is 413 naming the limit', async () => {
    const many = Array.from({ length: 2000 }, (_, i) => file({ id: `f${i}`, path: `f${i}.txt` }));
    const answer = await post('big', body(...many));
    expect(answer.code).toBe(413);
    expect(answer.json.message).toMatch(/max_body_bytes/);
    expect((await fetch(cartd.url)).status).toBe(200);
  });

  test('a uid over 128 characters is refused on HEAD, GET and DELETE too', async () => {
    const long = 'x'.repeat(129);
    expect((await fetch(new URL(long, cartd.url), { method: 'HEAD' })).status).toBe(400);
    const get = await fetch(new URL(long, cartd.url));
    expect(get.status).toBe(400);
    expect(((await get.json()) as { message: string }).message).toMatch(/uid/);
    expect((await fetch(new URL(long, cartd.url), { method: 'DELETE' })).status).toBe(400);
  });

  test('a bad download filename or format is 400 naming the parameter', async () => {
    const res = await fetch(new URL('anything?format=rar', cartd.url));
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/^format must be tar or zip/);
  });

  test('nothing was stored by any refused request', async () => {
    const { cartd: c } = cartd.running;
    expect(c.state.db.sqlite.prepare('SELECT COUNT(*) AS n FROM carts').get()).toEqual({ n: 0 });
  });
});
