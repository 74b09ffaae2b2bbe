import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openState } from '../../src/main/open-state';
import { testConfig } from '../support/cartd-harness';
import { cartdCmd, cartdCmdPipedTo, writeIni } from './cli-support';

/** Never contacted: dump and purge --dry-run only read the database. */
const ARCHIVE_URL = 'http://127.0.0.1:9/';
/** Enough that every command's output is many times a pipe's buffer (64 KiB on Linux). */
const CARTS = 2000;
const DAY = 86_400_000;

let dir: string;
let ini: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'cartd-pipe-'));
  ini = writeIni(dir, ARCHIVE_URL);
  expect((await cartdCmd(['dbsync', '-c', ini])).code).toBe(0);
  const state = openState(testConfig(dir, ARCHIVE_URL), { migrate: 'never' });
  try {
    const file = (i: number, j: number) => ({ archiveId: `pipe-${i}-${j}`, path: `run-${i}/detector/frame-${j}.h5`, hashtype: 'md5', hashsum: 'd41d8cd98f00b204e9800998ecf8427e' });
    state.db.sqlite.transaction(() => {
      for (let i = 0; i < CARTS; i++) state.carts.create(`pipe-cart-${i}`, `digest-${i}`, [file(i, 0), file(i, 1)], Date.now() - DAY);
    })();
  } finally {
    state.db.close();
  }
});
afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('cartd-cmd output read by a program that stops early', () => {
  test('dump | head -1: the first line, then exit 0 with nothing on stderr', async () => {
    const r = await cartdCmdPipedTo(['dump', '-c', ini], 'head -1');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('carts:\n');
  });

  test('dump --json | head -c 40: the same', async () => {
    const r = await cartdCmdPipedTo(['dump', '--json', '-c', ini], 'head -c 40');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('{"carts": [\n{"uid":"pipe-cart-0","status');
  });

  test('purge --dry-run | head -1: any command; its summary on stderr still says what it did', async () => {
    const r = await cartdCmdPipedTo(['purge', '--time-ago', '1 hour ago', '--dry-run', '-c', ini], 'head -1');
    expect(r.stderr).toMatch(new RegExp(`^purge: dry run, nothing removed: ${CARTS} carts not changed or used since \\S+ \\(1 hour ago\\); run again without --dry-run to remove them\\n$`));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^would remove cart pipe-cart-0 \(staging, 2 files, last changed or used \S+\)\n$/);
  });
});
