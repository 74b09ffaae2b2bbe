/**
 * openCartQueue: what a short-lived process (`cartd-cmd fixit --queue`) uses to hand a cart
 * back to the running workers, with its own database connection and Redis clients.
 */
import pino from 'pino';
import { openState } from '../../src/main/open-state';
import { openCartQueue } from '../../src/queue/cart-queue';
import { startArchiveServer, type ArchiveServer } from '../support/archive-server';
import { archiveFile, cartBody, postCart, startCartd, waitForCart, type CartdHarness } from '../support/cartd-harness';
import { describeWithRedis } from '../support/redis';

const silent = pino({ level: 'silent' });

describeWithRedis('handing a cart to the workers from another process', () => {
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

  test('a failed cart sent back to staging and queued becomes ready through the running worker', async () => {
    const present = await archiveFile(archive, 'q-present', 'q/present.txt', 'here all along');
    const late = await archiveFile(archive, 'q-late', 'q/late.txt', 'arrives later');
    await archive.remove('q-late');
    await postCart(cartd.url, 'requeue-me', cartBody([present, late]));
    const failed = await waitForCart(cartd.url, 'requeue-me');
    expect([failed.status, failed.message]).toEqual(['error', 'file q-late: not found in the archive (404)']);

    await archive.put('q-late', late.data);
    const state = openState(cartd.config, { migrate: 'never' });
    try {
      const cart = state.carts.findLive('requeue-me')!;
      state.carts.restage(cart.id, Date.now());
      const queue = await openCartQueue({ url: cartd.config.redis.url, prefix: cartd.config.redis.prefix, carts: state.carts, log: silent });
      try {
        await queue.submitCart(cart.id);
      } finally {
        await queue.close();
      }
    } finally {
      state.db.close();
    }
    const final = await waitForCart(cartd.url, 'requeue-me');
    expect([final.code, final.status, final.message]).toEqual([204, 'ready', '']);
    // Only the file that had failed was fetched again.
    expect(archive.stats('q-present').get).toBe(1);
    expect(archive.stats('q-late').get).toBe(1);
  });

  test('an unreachable Redis fails within the timeout, saying where it tried (password hidden)', async () => {
    const state = openState(cartd.config, { migrate: 'never' });
    try {
      await expect(
        openCartQueue({ url: 'redis://:s3cret@127.0.0.1:1/', prefix: 'nowhere', carts: state.carts, log: silent, connectTimeoutMs: 500 }),
      ).rejects.toThrow(/^could not reach Redis \(redis:\/\/:\*\*\*@127\.0\.0\.1:1\/\) within 0\.5 s$/);
    } finally {
      state.db.close();
    }
  });
});
