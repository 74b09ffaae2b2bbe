/** The benchmark's cart client: POST, poll HEAD until ready, GET the tar and count its bytes. */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

const pollAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });

interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

function request(url: string, method: string, body?: string, agent: http.Agent | false = pollAgent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent, headers: body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (b: Buffer) => parts.push(b));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** POST a cart; throws unless 201. */
export async function postCart(base: string, uid: string, body: string): Promise<void> {
  const res = await request(new URL(uid, base).href, 'POST', body);
  if (res.status !== 201) throw new Error(`POST ${uid}: ${res.status} ${res.body.slice(0, 500)}`);
}

export interface CartState {
  readonly code: number;
  readonly status: string;
  readonly message: string;
}

export async function headCart(base: string, uid: string): Promise<CartState> {
  const res = await request(new URL(uid, base).href, 'HEAD');
  return { code: res.status, status: String(res.headers['x-pacifica-status'] ?? ''), message: String(res.headers['x-pacifica-message'] ?? '') };
}

/**
 * Poll HEAD until every cart is ready; resolves with performance.now() of the poll that saw
 * the last one ready. An errored cart or the deadline throws. Polls come every 2% of the
 * time waited so far (20 ms to 1 s): the figure is off by at most 2%, and polling does not
 * load a server whose status call costs more the bigger the cart.
 */
export async function waitReady(base: string, uids: readonly string[], opts: { timeoutMs?: number } = {}): Promise<number> {
  const pending = new Set(uids);
  const t0 = performance.now();
  const deadline = t0 + (opts.timeoutMs ?? 3_600_000);
  for (;;) {
    const states = await Promise.all([...pending].map(async (uid) => [uid, await headCart(base, uid)] as const));
    const now = performance.now();
    for (const [uid, s] of states) {
      if (s.status === 'ready') pending.delete(uid);
      else if (s.code !== 204) throw new Error(`cart ${uid}: ${s.code} ${s.status} ${s.message}`);
    }
    if (pending.size === 0) return now;
    if (now > deadline) throw new Error(`carts not ready in time: ${[...pending].slice(0, 3).join(', ')}`);
    await sleep(Math.min(1000, Math.max(20, (now - t0) * 0.02)));
  }
}

export async function deleteCart(base: string, uid: string): Promise<void> {
  await request(new URL(uid, base).href, 'DELETE');
}

/** GET `url` on a fresh connection, counting the body's bytes; checks them against Content-Length. */
export function countDownload(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`GET ${url}: ${res.statusCode}`));
        return;
      }
      const declared = Number(res.headers['content-length']);
      let got = 0;
      res.on('data', (b: Buffer) => (got += b.length));
      res.on('end', () => {
        if (got !== declared) reject(new Error(`GET ${url}: got ${got} bytes, Content-Length said ${res.headers['content-length']}`));
        else resolve(got);
      });
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/** GET all `urls` at once; the seconds until the last byte of the last one, and the bytes. */
export async function downloadAll(urls: readonly string[]): Promise<{ seconds: number; bytes: number }> {
  const t0 = performance.now();
  const sizes = await Promise.all(urls.map((u) => countDownload(u)));
  return { seconds: (performance.now() - t0) / 1000, bytes: sizes.reduce((s, n) => s + n, 0) };
}
