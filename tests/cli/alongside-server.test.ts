import { setTimeout as sleep } from 'node:timers/promises';
import { parse as parseYaml } from 'yaml';
import { startArchiveServer, type ArchiveServer } from '../support/archive-server';
import { archiveFile, cartBody, headCart, postCart, startCartd, waitForCart, type CartdHarness } from '../support/cartd-harness';
import { cartdCmd, iniFor, type RunResult } from './cli-support';

const OVERRIDES = { 'archiveinterface.retries': '2', 'archiveinterface.retry_delay': '0.02', 'archiveinterface.retry_max_delay': '0.05' };

let archive: ArchiveServer;
let cartd: CartdHarness;
let ini: string;

beforeAll(async () => {
  archive = await startArchiveServer();
  cartd = await startCartd({ archive, overrides: OVERRIDES });
  ini = iniFor(cartd);
});
afterAll(async () => {
  await cartd?.close();
  await archive?.close();
});

/** Clients of the server while the commands run: new carts and status checks, recording every answer. */
function busyClients(watch: readonly string[]): { stop(): Promise<{ posts: number[]; heads: number[]; created: string[] }> } {
  const posts: number[] = [];
  const heads: number[] = [];
  const created: string[] = [];
  let running = true;
  const loop = (async () => {
    for (let i = 0; running; i++) {
      const f = await archiveFile(archive, `side-${i}`, `side/${i}.txt`, `side cart ${i}\n`);
      const uid = `side-${i}`;
      posts.push((await postCart(cartd.url, uid, cartBody([f]))).code);
      created.push(uid);
      for (const w of watch) heads.push((await headCart(cartd.url, w)).code);
      await sleep(30);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { posts, heads, created };
    },
  };
}

const LOCKED = /database is locked|SQLITE_BUSY/i;

describe('cartd-cmd beside a serving, staging server on the same database', () => {
  test('every command succeeds without "database is locked" while carts stage and clients keep writing', async () => {
    const idle = await archiveFile(archive, 'side-idle', 'idle.txt', 'idle\n');
    await postCart(cartd.url, 'side-idle-old', cartBody([idle]));
    expect((await waitForCart(cartd.url, 'side-idle-old')).status).toBe('ready');
    // Idle for longer than the purges' window below; the carts polled meanwhile stay inside it
    // (a status call records its use at most once a second, so the window leaves 2 s to spare).
    await sleep(3200);

    const fixFiles = [await archiveFile(archive, 'side-fix-a', 'a', 'fix a\n'), await archiveFile(archive, 'side-fix-b', 'b', Buffer.alloc(2000, 'b'))];
    archive.fault('side-fix-b', '500');
    await postCart(cartd.url, 'side-fix', cartBody(fixFiles));
    expect((await waitForCart(cartd.url, 'side-fix')).status).toBe('error');
    archive.clearFaults('side-fix-b');

    // Carts that stay staging until the commands are done: the archive sends slowly until then.
    archive.throttleBytesPerSec = 16 * 1024;
    const slow: string[] = [];
    for (let c = 0; c < 3; c++) {
      const files = [];
      for (let n = 0; n < 2; n++) files.push(await archiveFile(archive, `side-slow-${c}-${n}`, `${n}.bin`, Buffer.alloc(512 * 1024, `${c}${n}`)));
      await postCart(cartd.url, `side-slow-${c}`, cartBody(files));
      slow.push(`side-slow-${c}`);
    }
    const clients = busyClients(slow);

    const [dbchk, dbsync, dumpJson, dumpYaml, dryRun, fixit] = await Promise.all([
      cartdCmd(['dbchk', '-c', ini]),
      cartdCmd(['dbsync', '-c', ini]),
      cartdCmd(['dump', '--json', '-c', ini]),
      cartdCmd(['dump', '-c', ini]),
      cartdCmd(['purge', '--dry-run', '--time-ago', '3 seconds ago', '-c', ini]),
      cartdCmd(['fixit', '--cartid', 'side-fix', '-c', ini]),
    ]);
    const stillStaging = (await headCart(cartd.url, slow[2]!)).status;
    // After fixit (a purge beside it could take its cart away): whatever is idle goes, staging or not.
    const purge = await cartdCmd(['purge', '--time-ago', '3 seconds ago', '-c', ini]);
    const answered = await clients.stop();
    archive.throttleBytesPerSec = 0;

    const all: Record<string, RunResult> = { dbchk, dbsync, dumpJson, dumpYaml, dryRun, fixit, purge };
    for (const [name, r] of Object.entries(all)) {
      // stderr shown only when it failed, so a failure says why.
      expect({ name, code: r.code, locked: LOCKED.test(r.stderr + r.stdout), stderr: r.code === 0 ? '' : r.stderr }).toEqual({ name, code: 0, locked: false, stderr: '' });
    }
    expect(dbchk.stdout).toContain('schema current');
    expect(dbsync.stdout).toContain('already current');
    const listed = (JSON.parse(dumpJson.stdout) as { carts: { uid: string; status: string }[] }).carts;
    expect(listed.filter((c) => slow.includes(c.uid)).map((c) => c.status)).toEqual(['staging', 'staging', 'staging']);
    expect((parseYaml(dumpYaml.stdout) as { carts: { uid: string }[] }).carts.map((c) => c.uid)).toEqual(expect.arrayContaining(['side-idle-old', ...slow]));
    expect(dryRun.stdout).toMatch(/^would remove cart side-idle-old /m);
    expect(fixit.stdout).toMatch(/^cart side-fix: ready \(2\/2 files staged/m);
    expect(purge.stdout).toMatch(/^removed cart side-idle-old /m);
    // The server was still staging when the commands were done.
    expect(stillStaging).toBe('staging');

    // The server's clients never saw a failure, and everything settles as it should.
    expect(answered.posts.length).toBeGreaterThan(0);
    expect(new Set(answered.posts)).toEqual(new Set([201]));
    expect(new Set(answered.heads)).toEqual(new Set([204]));
    const removed = [...purge.stdout.matchAll(/^removed cart (\S+) /gm)].map((m) => m[1]!);
    for (const uid of removed) expect((await headCart(cartd.url, uid)).code).toBe(404);
    for (const uid of [...slow, ...answered.created, 'side-fix'].filter((u) => !removed.includes(u))) {
      expect({ uid, status: (await waitForCart(cartd.url, uid, 30_000)).status }).toEqual({ uid, status: 'ready' });
    }
  });
});
