/**
 * A download that breaks on a staged file gone bad holds its connection while the cart is
 * sent back to staging, so the client's next status call already reads `staging`; but a
 * queue that does not answer (Redis hung: the process frozen, its connections open) must
 * not leave the client hanging: the connection is cut within about 5 s all the same, and
 * once the queue answers again the cart is staged again and downloads whole.
 */
import { truncateSync } from 'node:fs';
import { startArchiveServer, type ArchiveServer } from '../support/archive-server';
import { archiveFile, startCartd, waitForCart, type CartdHarness, type TestFile } from '../support/cartd-harness';
import { finish, get, head, patterned, pythonMembers, sha256, stageCart, startAndHold } from '../support/download-client';
import { describeWithRedis } from '../support/redis';

const MiB = 1024 * 1024;

describeWithRedis('a broken download while the queue does not answer', () => {
  let archive: ArchiveServer;
  let cartd: CartdHarness;

  beforeAll(async () => {
    archive = await startArchiveServer();
    cartd = await startCartd({ archive, runner: 'bullmq' });
  });
  afterAll(async () => {
    cartd?.redis?.server.thaw();
    await cartd?.close();
    await archive?.close();
  });

  const blobOf = (f: TestFile): string => cartd.running.cartd.volume.blobPath(`${f.hashtype}-${f.hashsum}`);

  test('the connection is cut within about 5 s, the status reads staging at once, and the cart comes back whole', async () => {
    const files = await Promise.all([0, 1].map((i) => archiveFile(archive, `hold-${i}`, `h/${i}.bin`, patterned(4 * MiB, i))));
    await stageCart(cartd, 'hold', files);
    const { res } = await startAndHold(cartd, 'hold?filename=h.tar');
    const length = Number(res.headers['content-length']);
    truncateSync(blobOf(files[1]!), 1000); // the second file, not yet reached
    cartd.redis!.server.freeze();

    const t0 = Date.now();
    const cutOff = new Promise<'still open'>((resolve) => setTimeout(() => resolve('still open'), 15_000).unref());
    const end = await Promise.race([finish(res), cutOff]);
    const heldMs = Date.now() - t0;
    expect(end).not.toBe('still open');
    expect(end).toMatchObject({ clean: false });
    if (end !== 'still open') expect(end.received).toBeLessThan(length);
    expect(heldMs).toBeLessThan(10_000);
    // The cart was sent back to staging in the database before the queue was asked.
    expect((await head(cartd, 'hold')).status).toBe('staging');

    cartd.redis!.server.thaw();
    const final = await waitForCart(cartd.url, 'hold', 30_000);
    expect([final.code, final.status]).toEqual([204, 'ready']);
    const got = await get(cartd, 'hold?filename=h.tar');
    expect(got.code).toBe(200);
    expect(pythonMembers(got.body)).toEqual(new Map(files.map((f) => [`h/${f.path}`, sha256(f.data)])));
    expect(archive.stats(files[1]!.id).get).toBe(2); // only the damaged file was pulled again
  });
});
