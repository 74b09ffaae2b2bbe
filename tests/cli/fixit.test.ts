import { startArchiveServer, type ArchiveServer } from '../support/archive-server';
import { archiveFile, cartBody, headCart, postCart, startCartd, waitForCart, type CartdHarness, type TestFile } from '../support/cartd-harness';
import { extractWith, type Reader } from '../support/tar-readers';
import { cartdCmd, cartdCmdOnTerminal, iniFor } from './cli-support';

/** Few tries, short waits: a file the archive keeps answering 500 fails its cart quickly. */
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

/** A cart of three files whose middle one the archive answers 500 to, until it has failed. */
async function failedCart(uid: string): Promise<{ files: TestFile[]; broken: TestFile }> {
  const files = [
    await archiveFile(archive, `${uid}-a`, 'data/a.txt', `first file of ${uid}\n`),
    await archiveFile(archive, `${uid}-b`, 'data/b.bin', Buffer.alloc(70_000, uid)),
    await archiveFile(archive, `${uid}-c`, 'c.csv', `x,y\n1,${uid}\n`, { hashtype: 'sha256' }),
  ];
  archive.fault(`${uid}-b`, '500');
  expect((await postCart(cartd.url, uid, cartBody(files))).code).toBe(201);
  const failed = await waitForCart(cartd.url, uid);
  expect(failed.status).toBe('error');
  expect(failed.message).toContain(`${uid}-b`);
  return { files, broken: files[1]! };
}

async function expectCorrectTar(uid: string, files: readonly TestFile[]): Promise<void> {
  const res = await fetch(new URL(`${uid}?filename=${uid}.tar`, cartd.url));
  expect(res.status).toBe(200);
  const tar = Buffer.from(await res.arrayBuffer());
  for (const reader of ['gnutar', 'bsdtar', 'python'] as Reader[]) {
    const tree = extractWith(reader, tar);
    expect([...tree.keys()].sort()).toEqual(files.map((f) => `${uid}/${f.path}`).sort());
    for (const f of files) expect(tree.get(`${uid}/${f.path}`)?.equals(f.data)).toBe(true);
  }
}

describe('cartd-cmd fixit', () => {
  test('after the archive recovers, fixit pulls only the failed file again, the cart is ready and its tar is right; piped output is plain lines', async () => {
    const { files, broken } = await failedCart('fix-piped');
    archive.clearFaults(broken.id);
    archive.resetStats();

    const r = await cartdCmd(['fixit', '-c', ini, '--cartid', 'fix-piped']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('cart fix-piped: re-staging 1 file (2 of 3 already staged, left as they are)');
    expect(r.stdout).toMatch(/^cart fix-piped: ready \(3\/3 files staged, /m);
    expect(r.stdout).not.toContain('\u001b[');
    expect(r.stdout).not.toContain('█');

    const stats = archive.stats();
    expect(Object.keys(stats.byId)).toEqual([String(broken.id)]);
    expect(stats.byId[String(broken.id)]).toMatchObject({ get: 1 });
    const now = await headCart(cartd.url, 'fix-piped');
    expect([now.code, now.status]).toEqual([204, 'ready']);
    await expectCorrectTar('fix-piped', files);
  });

  test('on a terminal fixit draws a bar per cart and bars for all files and bytes', async () => {
    const one = await failedCart('fix-tty-1');
    const two = await failedCart('fix-tty-2');
    archive.clearFaults();
    const r = await cartdCmdOnTerminal(['fixit', '-c', ini, '--cartid', 'fix-tty-1', 'fix-tty-2']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/fix-tty-1 +█{24} 3\/3 files {2}ready/);
    expect(r.stdout).toMatch(/fix-tty-2 +█{24} 3\/3 files {2}ready/);
    expect(r.stdout).toMatch(/files +█{24} 6\/6/);
    expect(r.stdout).toMatch(/bytes +█{24} /);
    await expectCorrectTar('fix-tty-1', one.files);
    await expectCorrectTar('fix-tty-2', two.files);
  });

  test('a cart the archive still fails stays failed: exit 1 and what to do next', async () => {
    await failedCart('fix-still');
    const r = await cartdCmd(['fixit', '-c', ini, '--cartid', 'fix-still']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^cart fix-still: error: file fix-still-b: archive answered 500/m);
    expect(r.stderr).toMatch(/^cartd-cmd fixit: not fixed: fix-still \(file fix-still-b: .*\); see `cartd-cmd dump`.*run fixit again\n$/);
    expect((await headCart(cartd.url, 'fix-still')).status).toBe('error');
    archive.clearFaults();
  });

  test('a ready cart is left alone; an unknown uid fails before any work is done', async () => {
    const f = await archiveFile(archive, 'fix-ready-a', 'a', 'ready\n');
    await postCart(cartd.url, 'fix-ready', cartBody([f]));
    expect((await waitForCart(cartd.url, 'fix-ready')).status).toBe('ready');
    archive.resetStats();
    const ok = await cartdCmd(['fixit', '-c', ini, '--cartid', 'fix-ready']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe('cart fix-ready: ready, 1 file staged; nothing to fix\n');
    const unknown = await cartdCmd(['fixit', '-c', ini, '--cartid', 'fix-ready', 'no-such-cart']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('cartd-cmd fixit: no live cart no-such-cart; `cartd-cmd dump` lists the carts there are\n');
    expect(archive.stats().total).toMatchObject({ head: 0, get: 0 });
    const bad = await cartdCmd(['fixit', '-c', ini, '--cartid', 'not/a/uid']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--cartid: uid must be');
  });

  test('--queue without a [redis] url exits 1, says why, and leaves the cart as it was', async () => {
    const { broken } = await failedCart('fix-queue');
    archive.clearFaults(broken.id);
    const r = await cartdCmd(['fixit', '-c', ini, '--queue', '--cartid', 'fix-queue']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no [redis] url is configured');
    expect(r.stderr).toContain('run without --queue');
    expect((await headCart(cartd.url, 'fix-queue')).status).toBe('error');
  });
});
