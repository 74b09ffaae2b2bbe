/**
 * Every fault the archive test server can inject, on the first two GETs (the cart still
 * becomes ready, with the right bytes) and on every GET (the cart fails naming the file,
 * the cause and the number of tries). A body broken off after some bytes is asked for again
 * from where it broke (byte_range) a bounded number of times within a try. Runs under both
 * runners with the same expectations.
 */
import { MAX_RESUMES } from '../../src/archive/resuming-pull';
import { startArchiveServer, type ArchiveServer, type FaultKind } from '../support/archive-server';
import { RUNNERS, archiveFile, cartBody, postCart, startCartd, waitForCart, type CartdHarness } from '../support/cartd-harness';
import { extractWith } from '../support/tar-readers';

const RETRIES = 3;

/** What the cart's message must say the cause was. */
const CAUSES: readonly [FaultKind, string, RegExp][] = [
  ['500', 'a 500 answer', /archive answered 500 to GET/],
  ['reset', 'a connection reset', /connection reset by the archive after \d+ of \d+ bytes/],
  ['slow', 'an answer slower than the timeout', /did not answer within 1 s/],
  ['truncate', 'a truncated body', /transfer cut short: the archive closed the connection after \d+ of \d+ bytes/],
  ['corrupt', 'wrong bytes', /hash mismatch: expected md5 [0-9a-f]{32}, got [0-9a-f]{32}/],
];

describe.each(RUNNERS)('archive faults, with the %s runner', (runner) => {
  let archive: ArchiveServer;
  let cartd: CartdHarness;

  beforeAll(async () => {
    archive = await startArchiveServer();
    cartd = await startCartd({
      archive,
      runner,
      overrides: { 'archiveinterface.timeout': '1', 'archiveinterface.retries': String(RETRIES), 'archiveinterface.retry_delay': '0.05' },
    });
  });
  afterAll(async () => {
    await cartd?.close();
    await archive?.close();
  });

  test.each(CAUSES)('%s (%s): on the first two tries the cart is ready; on every try it fails naming file, cause and tries', async (kind, _what, cause) => {
    const data = Buffer.alloc(256 * 1024, kind.charCodeAt(0));
    const passing = await archiveFile(archive, `${kind}-twice`, 'x/passing.bin', data);
    // Other bytes: the volume stores equal bytes once, and would serve the passing copy.
    const failing = await archiveFile(archive, `${kind}-always`, 'x/failing.bin', Buffer.concat([data, Buffer.from('other')]));
    const opts = kind === 'slow' ? { delayMs: 3000 } : {};
    archive.fault(passing.id, kind, { ...opts, times: 2 });
    archive.fault(failing.id, kind, opts);

    await postCart(cartd.url, `ok-${kind}`, cartBody([passing]));
    await postCart(cartd.url, `bad-${kind}`, cartBody([failing]));
    const [ok, bad] = await Promise.all([waitForCart(cartd.url, `ok-${kind}`, 30_000), waitForCart(cartd.url, `bad-${kind}`, 30_000)]);

    expect([ok.code, ok.status, ok.message]).toEqual([204, 'ready', '']);
    expect(archive.stats(passing.id).get).toBe(3);
    const tar = Buffer.from(await (await fetch(new URL(`ok-${kind}?filename=ok.tar`, cartd.url))).arrayBuffer());
    expect(extractWith('gnutar', tar).get('ok/x/passing.bin')?.equals(data)).toBe(true);

    expect([bad.code, bad.status]).toEqual([500, 'error']);
    expect(bad.message).toContain(`file ${failing.id}: `);
    expect(bad.message).toMatch(cause);
    expect(bad.message).toContain(`(gave up after ${RETRIES} tries)`);
    // Bodies broken off mid-way: each try asked for the rest MAX_RESUMES times before giving up.
    const brokenOff = kind === 'reset' || kind === 'truncate';
    if (brokenOff) expect(bad.message).toContain(`; resumed ${MAX_RESUMES} times`);
    expect(archive.stats(failing.id).get).toBe(brokenOff ? RETRIES * (1 + MAX_RESUMES) : RETRIES);
    const resumedGets = archive.rangesAsked(passing.id).filter((range) => range !== undefined);
    expect(resumedGets).toHaveLength(brokenOff ? 2 : 0);
  });

  test('a file the archive does not have fails at once: one try, no retries', async () => {
    await postCart(cartd.url, 'missing', cartBody([{ id: 'no-such-file', path: 'm.bin', hashtype: 'md5', hashsum: 'd41d8cd98f00b204e9800998ecf8427e', data: Buffer.alloc(0) }]));
    const final = await waitForCart(cartd.url, 'missing', 10_000);
    expect([final.code, final.status, final.message]).toEqual([500, 'error', 'file no-such-file: not found in the archive (404)']);
    expect(archive.stats('no-such-file')).toMatchObject({ head: 1, get: 0 });
  });
});
