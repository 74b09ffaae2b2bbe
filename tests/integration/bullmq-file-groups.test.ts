/**
 * With BullMQ, a big cart's files are staged by jobs of several files each (every job costs
 * Redis round trips and scripts however small its file): a cart of 300 files is 75 jobs of
 * 4. A file of a group that must wait for a fault's retry goes on as a job of its own, one
 * waiting for the tape keeps its job with the other files of it that wait for the tape (and
 * no other): neither holds back the rest of its group nor the cart; a DELETE stops a
 * group half-way and leaves none of the cart's jobs behind; a worker stopped half-way
 * through a group hands it back, and the next one pulls only what was not staged yet.
 */
import { openState } from '../../src/main/open-state';
import { startArchiveServer, type ArchiveServer } from '../support/archive-server';
import { archiveFile, cartBody, headCart, postCart, startCartd, waitForCart, type CartdHarness, type TestFile } from '../support/cartd-harness';
import { describeWithRedis } from '../support/redis';
import { extractWith } from '../support/tar-readers';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

jest.setTimeout(60_000);

describeWithRedis('BullMQ jobs of several files', () => {
  let archive: ArchiveServer;
  let cartd: CartdHarness;

  beforeAll(async () => {
    archive = await startArchiveServer();
    cartd = await startCartd({ archive, runner: 'bullmq' });
  });
  afterAll(async () => {
    await cartd?.close();
    await archive?.close();
  });

  async function manyFiles(tag: string, n: number): Promise<TestFile[]> {
    const files: TestFile[] = [];
    for (let i = 0; i < n; i++) files.push(await archiveFile(archive, `${tag}-${i}`, `${tag}/${i}.txt`, `${tag} file ${i}\n`));
    return files;
  }

  /** The row id of every file of a live cart, by the archive's id. */
  function rowIds(uid: string): { cartId: number; generation: number; byArchiveId: Map<string, number> } {
    const { carts } = cartd.running.cartd.state;
    const cart = carts.findLive(uid)!;
    return { cartId: cart.id, generation: cart.generation, byArchiveId: new Map(carts.files(cart.id).map((f) => [f.archiveId, f.id])) };
  }

  /**
   * Watch the stage queue's event stream (what a BullMQ dashboard shows) from now on, read
   * as it grows (it is capped near 1,000 entries, so reading it afterwards could miss the
   * start); `stop` gives the ids of the jobs added for the cart meanwhile.
   */
  async function watchJobsAdded(): Promise<{ stop(cartId: number, generation: number): Promise<string[]> }> {
    const { server, prefix } = cartd.redis!;
    const key = `${prefix}:stage:events`;
    const conn = server.client.duplicate();
    const added: string[] = [];
    let last = (await conn.xrevrange(key, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0';
    let watching = true;
    const reading = (async () => {
      while (watching) {
        const streams = await conn.xread('COUNT', 1000, 'BLOCK', 50, 'STREAMS', key, last);
        for (const [, entries] of streams ?? []) {
          for (const [id, fields] of entries) {
            last = id;
            const event = new Map<string, string>();
            for (let i = 0; i + 1 < fields.length; i += 2) event.set(fields[i]!, fields[i + 1]!);
            if (event.get('event') === 'added') added.push(event.get('jobId') ?? '');
          }
        }
      }
    })();
    return {
      async stop(cartId, generation) {
        watching = false;
        await reading;
        conn.disconnect();
        return added.filter((id) => id.startsWith(`files-${cartId}-g${generation}-`));
      },
    };
  }

  /** The cart becomes ready with every file staged. */
  async function expectReady(uid: string, files: readonly TestFile[], url = cartd.url): Promise<void> {
    const final = await waitForCart(url, uid);
    expect([final.status, final.message, final.headers.get('X-Cartd-Files-Staged')]).toEqual(['ready', '', `${files.length}/${files.length}`]);
  }

  /** The cart's tarball holds exactly its files, byte for byte. */
  async function expectTarHolds(uid: string, files: readonly TestFile[], url = cartd.url): Promise<void> {
    const res = await fetch(new URL(`${uid}?filename=${uid}.tar`, url));
    expect(res.status).toBe(200);
    const tar = extractWith('gnutar', Buffer.from(await res.arrayBuffer()));
    expect(tar.size).toBe(files.length);
    for (const f of files) expect(tar.get(`${uid}/${f.path}`)?.equals(f.data)).toBe(true);
  }

  test('a cart of 300 files is staged by 75 jobs of 4: every file pulled once, the tarball holds every file', async () => {
    const files = await manyFiles('g300', 300);
    const watch = await watchJobsAdded();
    expect((await postCart(cartd.url, 'groups-300', cartBody(files))).code).toBe(201);
    const { cartId, generation } = rowIds('groups-300');
    await expectReady('groups-300', files);

    expect(await watch.stop(cartId, generation)).toHaveLength(75);
    for (const f of files) expect(archive.stats(f.id).get).toBe(1);
    await expectTarHolds('groups-300', files);
  });

  test('files of a group that must wait do not hold back the rest: a fault goes on as a job of its own, a tape file in its job alone', async () => {
    // 130 files: jobs of 2. The second file of the first job is on tape (on disk 6 s after its
    // recall), the sixth (second of the third job) fails twice before it is served.
    const files = await manyFiles('gw', 130);
    const onTape = files[1]!;
    const faulty = files[5]!;
    archive.setMedia(onTape.id, 'tape', 6000);
    archive.fault(faulty.id, '500', { times: 2 });
    const watch = await watchJobsAdded();
    expect((await postCart(cartd.url, 'groups-wait', cartBody(files))).code).toBe(201);
    const { cartId, generation, byArchiveId } = rowIds('groups-wait');

    // Every file but the tape one is staged while the tape file is still on its way.
    let staged = '';
    for (let i = 0; i < 320 && staged !== '129/130'; i++) {
      await sleep(25);
      staged = (await headCart(cartd.url, 'groups-wait')).headers.get('X-Cartd-Files-Staged') ?? '';
    }
    expect(staged).toBe('129/130');
    expect((await archive.info(onTape.id))?.media).toBe('tape');

    await expectReady('groups-wait', files);
    expect(archive.stats(onTape.id).post).toBe(1);
    expect(archive.stats(faulty.id).get).toBe(3);
    for (const f of files) if (f !== onTape && f !== faulty) expect(archive.stats(f.id).get).toBe(1);
    const jobs = await watch.stop(cartId, generation);
    const firstJob = `files-${cartId}-g${generation}-${byArchiveId.get(String(files[0]!.id))}`;
    const thirdJob = `files-${cartId}-g${generation}-${byArchiveId.get(String(files[4]!.id))}`;
    // The faulty file's retries ran as a job of its own; the tape file waited in its first job.
    expect(jobs).toEqual(expect.arrayContaining([firstJob, thirdJob, `${thirdJob}-f${byArchiveId.get(String(faulty.id))}`]));
    expect(jobs).toHaveLength(65 + 1);
    await expectTarHolds('groups-wait', files);
  });

  test('a cart of 200 files on tape: each job waits for its own files to come off tape, no file has a job of its own', async () => {
    const files = await manyFiles('gt', 200);
    for (const f of files) archive.setMedia(f.id, 'tape', 1500);
    const watch = await watchJobsAdded();
    expect((await postCart(cartd.url, 'groups-tape', cartBody(files))).code).toBe(201);
    const { cartId, generation } = rowIds('groups-tape');
    await expectReady('groups-tape', files);
    // 200 files: jobs of 3 (67 jobs), and none added for a single file.
    expect(await watch.stop(cartId, generation)).toHaveLength(67);
    for (const f of files) expect([archive.stats(f.id).post, archive.stats(f.id).get]).toEqual([1, 1]);
    await expectTarHolds('groups-tape', files);
  });

  test('DELETE in the middle of a grouped cart: its transfers end within 1 s and none of its jobs is left in Redis', async () => {
    const files = await manyFiles('gd', 200);
    // Every file is slow and one is on tape: jobs are running, waiting and delayed when the DELETE comes.
    for (const f of files) archive.fault(f.id, 'throttle', { bytesPerSec: 4 });
    archive.setMedia(files[0]!.id, 'tape', 60_000);
    expect((await postCart(cartd.url, 'groups-delete', cartBody(files))).code).toBe(201);
    const { cartId, generation } = rowIds('groups-delete');
    for (let i = 0; i < 200 && archive.openTransfers() < 8; i++) await sleep(25);
    expect(archive.openTransfers()).toBe(8);

    const deletedAt = Date.now();
    expect((await fetch(new URL('groups-delete', cartd.url), { method: 'DELETE' })).status).toBe(200);
    expect(await archive.waitForTransfersClosed(undefined, Math.max(0, 1000 - (Date.now() - deletedAt)))).toBe(true);
    expect((await headCart(cartd.url, 'groups-delete')).code).toBe(404);
    const { server, prefix } = cartd.redis!;
    const isOfCart = (jobId: string): boolean => jobId === `cart-${cartId}-g${generation}` || jobId.startsWith(`files-${cartId}-g${generation}-`);
    expect((await server.keys(prefix)).filter((k) => k.split(':').some(isOfCart))).toEqual([]);
    // Nothing of the cart runs later: the archive hears no more about its files.
    const asked = archive.requests.length;
    await sleep(1000);
    const ids = new Set(files.map((f) => String(f.id)));
    expect(archive.requests.slice(asked).filter((r) => ids.has(r.id))).toEqual([]);
  });

  test('a worker stopped in the middle of its jobs hands them back: the next one pulls only the files not staged yet', async () => {
    const first = await startCartd({ archive, runner: 'bullmq' });
    let second: CartdHarness | undefined;
    try {
      // 256 files (jobs of 4), each about half a second on its first GET: jobs are half done when the worker stops.
      const files = await manyFiles('gk', 256);
      for (const f of files) archive.fault(f.id, 'throttle', { bytesPerSec: 24, times: 1 });
      expect((await postCart(first.url, 'groups-handback', cartBody(files))).code).toBe(201);
      const stagedCount = async (url: string): Promise<number> => Number(((await headCart(url, 'groups-handback')).headers.get('X-Cartd-Files-Staged') ?? '0/').split('/')[0]);
      for (let i = 0; i < 400 && (await stagedCount(first.url)) < 16; i++) await sleep(25);
      await first.stop();
      const state = openState(first.config, { migrate: 'never' });
      const cart = state.carts.findLive('groups-handback')!;
      const stagedBefore = new Set(state.carts.files(cart.id).filter((f) => f.status === 'staged').map((f) => f.archiveId));
      state.db.close();
      for (const f of files) archive.clearFaults(f.id); // the rest goes quickly
      expect(stagedBefore.size).toBeGreaterThanOrEqual(16);
      expect(stagedBefore.size).toBeLessThan(256);

      second = await startCartd({ archive, dir: first.dir, runner: 'bullmq', redis: first.redis!.server, prefix: first.redis!.prefix });
      await expectReady('groups-handback', files, second.url);
      // Staged before the stop: never asked for again. The others: once, or twice if their pull was cut by the stop.
      for (const f of files) expect(archive.stats(f.id).get).toBeLessThanOrEqual(stagedBefore.has(String(f.id)) ? 1 : 2);
      const again = files.filter((f) => archive.stats(f.id).get === 2);
      expect(again.length).toBeLessThanOrEqual(8);
      await expectTarHolds('groups-handback', files, second.url);
    } finally {
      await second?.close();
      await first.close();
    }
  });
});
