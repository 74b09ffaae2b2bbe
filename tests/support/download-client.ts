/**
 * What the download suites share: stage a cart and wait for it, GET with headers and
 * keep every byte, read a tarball's members with Python `tarfile` in stream mode, and
 * look inside the running server (open downloads, open descriptors).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readlinkSync } from 'node:fs';
import http, { type ClientRequest, type IncomingMessage } from 'node:http';
import { cartBody, postCart, waitForCart, type CartdHarness, type TestFile } from './cartd-harness';

export interface Got {
  readonly code: number;
  readonly headers: Headers;
  readonly body: Buffer;
}

/** POST the cart and wait (as the reference client polls) until it is ready. */
export async function stageCart(cartd: CartdHarness, uid: string, files: readonly TestFile[], timeoutMs = 30_000): Promise<void> {
  const posted = await postCart(cartd.url, uid, cartBody(files));
  if (posted.code !== 201) throw new Error(`POST ${uid}: ${posted.code} ${JSON.stringify(posted.json)}`);
  const final = await waitForCart(cartd.url, uid, timeoutMs);
  if (final.code !== 204 || final.status !== 'ready') throw new Error(`cart ${uid} ended ${final.code} ${final.status ?? ''} ${final.message ?? ''}`);
}

/**
 * GET on a fresh connection. Not fetch: its pooled keep-alive sockets race the server's
 * idle timeout when a spawnSync (tar, python) has held this process's event loop, which
 * the server shares in these tests, and the next request dies with ECONNRESET.
 */
export function get(cartd: CartdHarness, pathAndQuery: string, headers: Record<string, string> = {}): Promise<Got> {
  return request('GET', cartd, pathAndQuery, headers);
}

/** The status call: code, X-Pacifica-Status, every header. */
export async function head(cartd: CartdHarness, pathAndQuery: string): Promise<{ code: number; status: string | null; headers: Headers }> {
  const r = await request('HEAD', cartd, pathAndQuery);
  return { code: r.code, status: r.headers.get('x-pacifica-status'), headers: r.headers };
}

/** HEAD (the status call), OPTIONS (a preflight) or GET, on a fresh connection. */
export function request(method: string, cartd: CartdHarness, pathAndQuery: string, headers: Record<string, string> = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(pathAndQuery, cartd.url), { method, headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('error', reject);
      res.on('end', () => {
        const h = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          if (value !== undefined) h.set(name, Array.isArray(value) ? value.join(', ') : value);
        }
        resolve({ code: res.statusCode ?? 0, headers: h, body: Buffer.concat(parts) });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

export const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

let python: string | undefined;

/** The interpreter itself: `python3` may be a pyenv shim that costs a second per start. */
export function pythonBin(): string {
  python ??= execFileSync('python3', ['-c', 'import sys; print(sys.executable)']).toString().trim();
  return python;
}

/** Each regular member of a tarball -> sha256 of its bytes, as Python `tarfile` reads it in `r|` mode. */
export function pythonMembers(tar: Buffer): Map<string, string> {
  const script = [
    'import sys, tarfile, hashlib, json',
    'out = {}',
    'with tarfile.open(fileobj=sys.stdin.buffer, mode="r|") as t:',
    '    for m in t:',
    '        if m.isfile():',
    '            out[m.name] = hashlib.sha256(t.extractfile(m).read()).hexdigest()',
    'print(json.dumps(out))',
  ].join('\n');
  const r = spawnSync(pythonBin(), ['-c', script], { input: tar, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`python tarfile failed: ${r.stderr.toString()}`);
  return new Map(Object.entries(JSON.parse(r.stdout.toString('utf8')) as Record<string, string>));
}

/** Downloads of the cart counted in the database right now (-1: no live cart). */
export function readersOf(cartd: CartdHarness, uid: string): number {
  const row = cartd.running.cartd.state.db.sqlite.prepare('SELECT readers FROM carts WHERE uid = ? AND deleted_at IS NULL').get(uid) as { readers: number } | undefined;
  return row?.readers ?? -1;
}

/** Descriptors this process holds; with `under`, only those open on files below that folder. */
export function openFds(under?: string): number {
  const fds = readdirSync('/proc/self/fd');
  if (under === undefined) return fds.length;
  return fds.filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith(under);
    } catch {
      return false;
    }
  }).length;
}

/** Poll `probe` until it is true or `deadlineMs` passes; returns its last answer. */
export async function eventually(probe: () => boolean, deadlineMs = 10_000): Promise<boolean> {
  const until = Date.now() + deadlineMs;
  while (!probe()) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

/** Start a download and hold it after its first chunk: the server is then mid-stream, a file open. */
export function startAndHold(cartd: CartdHarness, pathAndQuery: string, headers: Record<string, string> = {}): Promise<{ req: ClientRequest; res: IncomingMessage }> {
  return new Promise((resolve, reject) => {
    const req = http.get(new URL(pathAndQuery, cartd.url), { agent: false, headers }, (res) => {
      res.once('data', () => {
        res.pause();
        resolve({ req, res });
      });
      res.on('error', () => undefined);
    });
    req.on('error', (err) => reject(err));
  });
}

/** Read the rest of a held response: bytes received and whether it ended cleanly or was cut off. */
export function finish(res: IncomingMessage): Promise<{ received: number; clean: boolean }> {
  return new Promise((resolve) => {
    let received = 0;
    res.on('data', (d: Buffer) => (received += d.length));
    res.on('end', () => resolve({ received, clean: res.complete }));
    res.on('aborted', () => resolve({ received, clean: false }));
    res.on('error', () => resolve({ received, clean: false }));
    res.resume();
  });
}

/** `n` bytes of a pattern that differs with `seed` (seeds 0-255 give different files, so different blobs). */
export function patterned(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 13 + seed * 101 + (i >> 10)) & 0xff;
  return b;
}
