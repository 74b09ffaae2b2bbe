/**
 * `fixit --queue` and `purge` against a cartd whose staging runs on BullMQ workers: the
 * command hands the cart to the workers through Redis, and removes through DELETE's path
 * (which takes the cart's jobs off the queue).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { startArchiveServer, type ArchiveServer } from '../support/archive-server';
import { archiveFile, cartBody, headCart, postCart, startCartd, waitForCart, type CartdHarness } from '../support/cartd-harness';
import { describeWithRedis } from '../support/redis';
import { cartdCmd, iniFor } from './cli-support';

describeWithRedis('cartd-cmd with BullMQ workers', () => {
  let archive: ArchiveServer;
  let cartd: CartdHarness;
  let ini: string;

  beforeAll(async () => {
    archive = await startArchiveServer();
    cartd = await startCartd({
      archive,
      runner: 'bullmq',
      overrides: { 'archiveinterface.retries': '2', 'archiveinterface.retry_delay': '0.02', 'archiveinterface.retry_max_delay': '0.05' },
    });
    ini = iniFor(cartd);
  });
  afterAll(async () => {
    await cartd?.close();
    await archive?.close();
  });

  test('fixit --queue hands a failed cart to the running workers: only the failed file is pulled again, the cart is ready; purge then removes it', async () => {
    const files = [await archiveFile(archive, 'q-a', 'a.txt', 'a\n'), await archiveFile(archive, 'q-b', 'b.txt', Buffer.alloc(9000, 'b'))];
    archive.fault('q-b', '500');
    await postCart(cartd.url, 'fix-q', cartBody(files));
    expect((await waitForCart(cartd.url, 'fix-q')).status).toBe('error');
    archive.clearFaults();
    archive.resetStats();

    const r = await cartdCmd(['fixit', '--queue', '--cartid', 'fix-q', '-c', ini]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      'cart fix-q: re-staging 1 file (1 of 2 already staged, left as they are)\n' +
        'cart fix-q: handed to the workers; `cartd-cmd dump` or HEAD /fix-q shows how it goes\n',
    );
    const done = await waitForCart(cartd.url, 'fix-q');
    expect([done.code, done.status]).toEqual([204, 'ready']);
    expect(Object.keys(archive.stats().byId)).toEqual(['q-b']);
    expect(archive.stats('q-b').get).toBe(1);

    await sleep(1100);
    const purge = await cartdCmd(['purge', '--time-ago', '1 seconds ago', '-c', ini]);
    expect(purge.code).toBe(0);
    expect(purge.stdout).toMatch(/^removed cart fix-q \(ready, 2 files, /);
    expect((await headCart(cartd.url, 'fix-q')).code).toBe(404);
  });

  test('with Redis unreachable, fixit --queue and purge fail, say so, and leave the cart as it was', async () => {
    const f = await archiveFile(archive, 'q-c', 'c.txt', 'c\n');
    await archive.remove('q-c');
    await postCart(cartd.url, 'fix-q-down', cartBody([f]));
    expect((await waitForCart(cartd.url, 'fix-q-down')).status).toBe('error');
    const down = { env: { REDIS_URL: 'redis://127.0.0.1:1/' } };
    const [fixit, purge] = await Promise.all([
      cartdCmd(['fixit', '--queue', '--cartid', 'fix-q-down', '-c', ini], down),
      cartdCmd(['purge', '--time-ago', '0 seconds ago', '-c', ini], down),
    ]);
    expect(fixit.code).toBe(1);
    expect(fixit.stderr).toMatch(/^cartd-cmd fixit: --queue: could not reach Redis \(redis:\/\/127\.0\.0\.1:1\/\) within 5 s; nothing was changed; /);
    expect(fixit.stdout).toBe('');
    expect(purge.code).toBe(1);
    expect(purge.stderr).toMatch(/^cartd-cmd purge: removing carts cancels their BullMQ jobs: could not reach Redis .* nothing was changed; /);
    expect(purge.stdout).toBe('');
    expect((await headCart(cartd.url, 'fix-q-down')).status).toBe('error');
  });
});
