/**
 * Automatic expiry: a periodic job removes carts not used for `cart_ttl` seconds, the same
 * way DELETE does; carts in use (polled or being downloaded) stay.
 */
import { randomBytes } from 'node:crypto';
import { startArchiveServer, type ArchiveServer } from '../support/archive-server';
import { RUNNERS, archiveFile, cartBody, headCart, postCart, startCartd, waitForCart, type CartdHarness } from '../support/cartd-harness';
import { blobKeysOnDisk, holdDownload } from '../support/volume-usage';

describe.each(RUNNERS)('with the %s runner', (runner) => {
  let archive: ArchiveServer;
  let cartd: CartdHarness;

  beforeAll(async () => {
    archive = await startArchiveServer();
    cartd = await startCartd({ archive, runner, overrides: { 'cartd.cart_ttl': '4', 'cartd.expiry_interval': '0.2' } });
  });
  afterAll(async () => {
    await cartd?.close();
    await archive?.close();
  });

  test('a cart unused for cart_ttl is removed with its bytes; a polled cart and one being downloaded stay', async () => {
    const volume = cartd.config.cartd.volumePath;
    const [idle, polled, read] = await Promise.all(['exp-idle', 'exp-polled', 'exp-read'].map((id) => archiveFile(archive, id, `${id}.bin`, randomBytes(8 * 1024 * 1024))));
    for (const [uid, f] of [['idle', idle], ['polled', polled], ['read', read]] as const) {
      await postCart(cartd.url, uid, cartBody([f!]));
      expect((await waitForCart(cartd.url, uid)).status).toBe('ready');
    }
    const held = await holdDownload(new URL('read?filename=r.tar', cartd.url));
    expect(held.status).toBe(200);

    // Nothing touches `idle` or `read` from now on; `polled` is asked about every 300 ms.
    const deadline = Date.now() + 30_000;
    while (blobKeysOnDisk(volume).includes(`md5-${idle!.hashsum}`)) {
      if (Date.now() > deadline) throw new Error('the idle cart was never removed');
      expect((await headCart(cartd.url, 'polled')).status).toBe('ready');
      await new Promise((r) => setTimeout(r, 300));
    }
    expect((await headCart(cartd.url, 'idle')).code).toBe(404);
    expect((await fetch(new URL('idle', cartd.url))).status).toBe(404);
    expect((await headCart(cartd.url, 'polled')).status).toBe('ready');
    expect((await headCart(cartd.url, 'read')).status).toBe('ready');
    expect((await held.finish()).get('r/exp-read.bin')).toBe(read!.hashsum);
    expect(blobKeysOnDisk(volume)).toEqual([`md5-${polled!.hashsum}`, `md5-${read!.hashsum}`].sort());
  });
});
