/**
 * Issue 5, acceptance 6 and the failure rules around it: 50 downloads dropped mid-stream
 * leave no descriptor open and release the cart's download pin; a staged file gone or
 * changed on disk aborts the connection mid-stream (never a clean end) or, found before
 * the first byte, sends the cart back to staging so the client waits and then gets it whole.
 */
import { rmSync, truncateSync } from 'node:fs';
import { startArchiveServer, type ArchiveServer } from '../support/archive-server';
import { archiveFile, waitForCart, startCartd, type CartdHarness, type TestFile } from '../support/cartd-harness';
import { eventually, finish, get, head, openFds, patterned, pythonMembers, readersOf, sha256, stageCart, startAndHold } from '../support/download-client';

const MiB = 1024 * 1024;
let archive: ArchiveServer;
let cartd: CartdHarness;

beforeAll(async () => {
  archive = await startArchiveServer();
  cartd = await startCartd({ archive });
});
afterAll(async () => {
  await cartd?.close();
  await archive?.close();
});

const volumeDir = (): string => cartd.running.cartd.volume.options.root;
const blobOf = (f: TestFile): string => cartd.running.cartd.volume.blobPath(`${f.hashtype}-${f.hashsum}`);

test('50 downloads dropped mid-stream: no more descriptors than before, the pin released, the cart still whole', async () => {
  const files = await Promise.all([0, 1, 2].map((i) => archiveFile(archive, `drop-${i}`, `d/${i}.bin`, patterned(4 * MiB, i))));
  await stageCart(cartd, 'drop', files);
  // One whole download of each kind first, so whatever loads lazily is loaded.
  const whole = await get(cartd, 'drop?filename=d.tar');
  expect(whole.code).toBe(200);
  expect((await get(cartd, 'drop?filename=d.zip&format=zip')).code).toBe(200);
  expect(await eventually(() => readersOf(cartd, 'drop') === 0)).toBe(true);
  const before = openFds();

  // Every third a zip, every third a ranged tar (a resume), the rest whole tarballs.
  const queries = Array.from({ length: 50 }, (_, i): [string, Record<string, string>] =>
    i % 3 === 2 ? ['drop?filename=d.zip&format=zip', {}] : ['drop?filename=d.tar', i % 3 === 1 ? { Range: `bytes=${i * 1000}-` } : {}],
  );
  const held = await Promise.all(queries.map(([q, h]) => startAndHold(cartd, q, h)));
  expect(held.every((h) => h.res.statusCode === 200 || h.res.statusCode === 206)).toBe(true);
  expect(readersOf(cartd, 'drop')).toBe(50);
  // Mid-stream for real: the server holds staged files open for these downloads.
  expect(openFds(volumeDir())).toBeGreaterThan(0);

  for (const h of held) h.req.destroy();
  expect(await eventually(() => readersOf(cartd, 'drop') === 0)).toBe(true);
  expect(await eventually(() => openFds(volumeDir()) === 0)).toBe(true);
  expect(await eventually(() => openFds() <= before)).toBe(true);
  expect(openFds()).toBeLessThanOrEqual(before);

  const again = await get(cartd, 'drop?filename=d.tar');
  expect(sha256(again.body)).toBe(sha256(whole.body));
});

test('a staged file deleted mid-stream: the connection is cut off short, and the cart is staged again', async () => {
  const files = await Promise.all([0, 1].map((i) => archiveFile(archive, `mid-${i}`, `m/${i}.bin`, patterned(4 * MiB, 10 + i))));
  await stageCart(cartd, 'midway', files);
  const { res } = await startAndHold(cartd, 'midway?filename=m.tar');
  const length = Number(res.headers['content-length']);
  rmSync(blobOf(files[1]!)); // the second file, not yet reached
  // Its pull again takes about half a second, so the status calls below see it staging.
  archive.fault(files[1]!.id, 'throttle', { bytesPerSec: 8 * MiB, times: 1 });
  const end = await finish(res);
  expect(end.clean).toBe(false);
  expect(end.received).toBeLessThan(length);

  const seen: string[] = [];
  const final = await waitForCart(cartd.url, 'midway', 20_000, seen);
  expect([final.code, final.status]).toEqual([204, 'ready']);
  expect(seen[0]).toBe('204 staging');
  // Only the missing file was pulled again.
  expect(files.map((f) => archive.stats(f.id).get)).toEqual([1, 2]);
  const got = await get(cartd, 'midway?filename=m.tar');
  expect(got.code).toBe(200);
  expect(pythonMembers(got.body)).toEqual(new Map(files.map((f) => [`m/${f.path}`, sha256(f.data)])));
  expect(readersOf(cartd, 'midway')).toBe(0);
});

test('a staged file missing or resized before the GET: 202 and staging (never a 200 that dies), then ready and whole', async () => {
  const files = await Promise.all([0, 1, 2].map((i) => archiveFile(archive, `gone-${i}`, `g/${i}.bin`, patterned(100_000 + i, 20 + i))));
  await stageCart(cartd, 'gone', files);
  rmSync(blobOf(files[0]!));
  truncateSync(blobOf(files[2]!), 10);
  // Their pulls again take about half a second, so the status call below sees the cart staging.
  for (const f of [files[0]!, files[2]!]) archive.fault(f.id, 'throttle', { bytesPerSec: 200_000, times: 1 });

  const first = await get(cartd, 'gone?filename=g.tar');
  expect(first.code).toBe(202);
  expect(first.body.toString()).toBe('The cart is not ready for download.');
  expect((await head(cartd, 'gone')).status).toBe('staging');
  const final = await waitForCart(cartd.url, 'gone', 20_000);
  expect([final.code, final.status]).toEqual([204, 'ready']);
  const got = await get(cartd, 'gone?filename=g.tar');
  expect(got.code).toBe(200);
  expect(Number(got.headers.get('content-length'))).toBe(got.body.length);
  expect(pythonMembers(got.body)).toEqual(new Map(files.map((f) => [`g/${f.path}`, sha256(f.data)])));
  expect(archive.stats('gone-1').get).toBe(1); // only the damaged ones were fetched again
  expect(archive.stats('gone-0').get).toBe(2);
  expect(archive.stats('gone-2').get).toBe(2);
});
