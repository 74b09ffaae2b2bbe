import { parse as parseYaml } from 'yaml';
import { startArchiveServer, type ArchiveServer } from '../support/archive-server';
import { archiveFile, cartBody, headCart, postCart, startCartd, waitForCart, type CartdHarness } from '../support/cartd-harness';
import { cartdCmd, iniFor } from './cli-support';

let archive: ArchiveServer;
let cartd: CartdHarness;
let ini: string;

beforeAll(async () => {
  archive = await startArchiveServer();
  cartd = await startCartd({ archive });
  ini = iniFor(cartd);
});
afterAll(async () => {
  await cartd?.close();
  await archive?.close();
});

interface Dumped {
  carts: { uid: string; status: string; message: string; files_staged: number; file_count: number; files: { id: string; path: string; status: string; message: string; size: number | null }[] }[];
}

describe('cartd-cmd dump', () => {
  test('lists every live cart with each file and its status, as JSON and as the same YAML', async () => {
    const empty = await cartdCmd(['dump', '--json', '-c', ini]);
    expect(empty.code).toBe(0);
    expect(JSON.parse(empty.stdout)).toEqual({ carts: [] });
    expect(parseYaml((await cartdCmd(['dump', '-c', ini])).stdout)).toEqual({ carts: [] });

    const a = await archiveFile(archive, 'dump-a', 'docs/a.txt', 'alpha\n');
    const b = await archiveFile(archive, 'dump-b', 'b.txt', 'beta beta\n', { hashtype: 'sha1' });
    await postCart(cartd.url, 'dump-ready', cartBody([a, b]));
    expect((await waitForCart(cartd.url, 'dump-ready')).status).toBe('ready');
    const missing = { id: 'dump-missing', path: 'gone.txt', hashtype: 'md5', hashsum: 'd41d8cd98f00b204e9800998ecf8427e' };
    await postCart(cartd.url, 'dump-error', { fileids: [{ id: a.id, path: 'again.txt', hashtype: a.hashtype, hashsum: a.hashsum }, missing] });
    expect((await waitForCart(cartd.url, 'dump-error')).status).toBe('error');
    const tape = await archiveFile(archive, 'dump-tape', 'slow/tape.dat', 'from tape\n', { media: 'tape' });
    archive.setMedia('dump-tape', 'tape', 600_000);
    await postCart(cartd.url, 'dump-staging', cartBody([tape]));
    const gone = await archiveFile(archive, 'dump-gone', 'g', 'g');
    await postCart(cartd.url, 'dump-deleted', cartBody([gone]));
    await waitForCart(cartd.url, 'dump-deleted');
    expect((await fetch(new URL('dump-deleted', cartd.url), { method: 'DELETE' })).status).toBe(200);
    expect((await headCart(cartd.url, 'dump-staging')).status).toBe('staging');

    const json = await cartdCmd(['dump', '--json', '-c', ini]);
    expect(json.code).toBe(0);
    expect(json.stderr).toBe('');
    const dumped = JSON.parse(json.stdout) as Dumped;
    expect(dumped.carts.map((c) => [c.uid, c.status, c.files_staged, c.file_count])).toEqual([
      ['dump-ready', 'ready', 2, 2],
      ['dump-error', 'error', 1, 2],
      ['dump-staging', 'staging', 0, 1],
    ]);
    expect(dumped.carts[0]!.files).toEqual([
      { id: 'dump-a', path: 'docs/a.txt', hashtype: 'md5', hashsum: a.hashsum, size: 6, status: 'staged', message: '' },
      { id: 'dump-b', path: 'b.txt', hashtype: 'sha1', hashsum: b.hashsum, size: 10, status: 'staged', message: '' },
    ]);
    expect(dumped.carts[1]!.message).toContain('dump-missing');
    expect(dumped.carts[1]!.files.map((f) => [f.id, f.status])).toEqual([
      ['dump-a', 'staged'],
      ['dump-missing', 'error'],
    ]);
    expect(dumped.carts[1]!.files[1]!.message).toContain('not found in the archive');
    expect(dumped.carts[2]!.files.map((f) => [f.id, f.path, f.status])).toEqual([['dump-tape', 'slow/tape.dat', 'pending']]);

    const yaml = await cartdCmd(['dump', '-c', ini]);
    expect(yaml.code).toBe(0);
    expect(yaml.stdout.startsWith('carts:\n- uid: dump-ready\n')).toBe(true);
    expect(parseYaml(yaml.stdout)).toEqual(dumped);
  });

  test('without a database it creates none and says to run dbsync', async () => {
    const r = await cartdCmd(['dump', '-c', ini], { env: { DATABASE_URL: `${cartd.dir}/nothing-here.sqlite3` } });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`cartd-cmd dump: no database at ${cartd.dir}/nothing-here.sqlite3; run \`cartd-cmd dbsync\` to create it, or give the server's configuration with -c/--config\n`);
  });
});
