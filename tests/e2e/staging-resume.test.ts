/**
 * A GET body broken off part-way is not fetched again from the start: cartd asks the archive
 * for the rest with `byte_range=START-SIZE`, which both readings of END (the reference
 * server's exclusive one, and an inclusive one clamped to the file) answer with the same
 * bytes. The file is still verified whole against its hash, and an archive that answers a
 * range with other bytes than the rest is not trusted. Small files (on the event loop) and
 * large ones (on a transfer thread), under both runners.
 */
import { randomBytes } from 'node:crypto';
import { startArchiveServer, type ArchiveServer } from '../support/archive-server';
import { RUNNERS, archiveFile, cartBody, postCart, startCartd, waitForCart, type CartdHarness, type TestFile } from '../support/cartd-harness';
import { extractWith } from '../support/tar-readers';

const KiB = 1024;
const SIZES = { small: 256 * KiB + 3, large: 3 * 1024 * KiB + 5 } as const;
const MODES = ['exclusive', 'inclusive', 'ignored'] as const;
const cases = RUNNERS.flatMap((runner) => MODES.map((mode) => [runner, mode] as const));

describe.each(cases)('with the %s runner, an archive reading byte_range END as %s', (runner, mode) => {
  let archive: ArchiveServer;
  let cartd: CartdHarness;
  let n = 0;

  beforeAll(async () => {
    archive = await startArchiveServer({ byteRangeEnd: mode });
    cartd = await startCartd({ archive, runner });
  });
  afterAll(async () => {
    await cartd?.close();
    await archive?.close();
  });

  /** One file per size, stored under ids unique to this test. */
  async function files(tag: string): Promise<TestFile[]> {
    n += 1;
    return Promise.all(Object.entries(SIZES).map(([name, size]) => archiveFile(archive, `${tag}-${n}-${name}`, `${name}.bin`, randomBytes(size))));
  }

  async function readyTar(uid: string, list: readonly TestFile[]): Promise<Map<string, Buffer>> {
    await postCart(cartd.url, uid, cartBody(list));
    const final = await waitForCart(cartd.url, uid, 30_000);
    expect([final.code, final.status, final.message]).toEqual([204, 'ready', '']);
    const res = await fetch(new URL(`${uid}?filename=${uid}.tar`, cartd.url));
    return extractWith('gnutar', Buffer.from(await res.arrayBuffer()));
  }

  test('a body cut in half: the rest is asked for from where it broke, and the file lands whole', async () => {
    const list = await files('cut');
    for (const f of list) archive.fault(String(f.id), 'truncate', { times: 1 });
    const tar = await readyTar(`cut-${n}`, list);
    for (const f of list) {
      expect(tar.get(`cut-${n}/${f.path}`)?.equals(f.data)).toBe(true);
      const half = Math.floor(f.data.length / 2); // what the truncated answer sent
      if (mode === 'ignored') {
        // The answer to the range was the whole file again: refused, and the next try starts over.
        expect(archive.rangesAsked(f.id)).toEqual([undefined, `${half}-${f.data.length}`, undefined]);
      } else {
        expect(archive.rangesAsked(f.id)).toEqual([undefined, `${half}-${f.data.length}`]);
      }
    }
  });

  test('wrong bytes in the resumed part fail the whole file\'s hash: it is fetched again from the start', async () => {
    const list = await files('bad');
    for (const f of list) {
      archive.fault(String(f.id), 'truncate', { times: 1 });
      archive.fault(String(f.id), 'corrupt', { times: 1 });
    }
    const tar = await readyTar(`bad-${n}`, list);
    for (const f of list) {
      expect(tar.get(`bad-${n}/${f.path}`)?.equals(f.data)).toBe(true);
      const half = Math.floor(f.data.length / 2);
      // ignored: the corrupt answer is the whole file, refused for its length before any hash.
      expect(archive.rangesAsked(f.id)).toEqual([undefined, `${half}-${f.data.length}`, undefined]);
    }
  });
});
