/**
 * Start-up reconciliation on a volume other processes may share: only what a dead (or
 * lease-expired, on another host) owner held is reclaimed; orphans go; present rows whose
 * file is missing or damaged are reported so their carts are staged again.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { BlobsRepo } from '../../src/db/blobs-repo';
import { migrateToLatest } from '../../src/db/migrations';
import { openDb, type Db } from '../../src/db/open';
import { reconcileVolume } from '../../src/volume/reconcile';
import { Volume } from '../../src/volume/volume';

let dir: string;
let db: Db;
const volumes: Volume[] = [];

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'cartd-reconcile-'));
  db = openDb(path.join(dir, 'cartd.sqlite3'));
  migrateToLatest(db);
});
afterAll(async () => {
  for (const v of volumes) await v.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

async function volume(blobs: BlobsRepo): Promise<Volume> {
  const v = new Volume({ root: path.join(dir, 'volume'), maxBytes: 0, reserveBytes: 0 }, blobs);
  await v.init();
  volumes.push(v);
  return v;
}

const key = (c: string): string => `md5-${c.repeat(32)}`;

function put(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
}

function row(k: string, size: number, state: 'reserved' | 'present' | 'dropping', owner: string | null, leaseUntil: number | null): void {
  db.sqlite.prepare(`INSERT INTO blobs (key, size, state, created_at, owner, lease_until) VALUES (?, ?, ?, 0, ?, ?)`).run(k, size, state, owner, leaseUntil);
}

test('dead owners are reclaimed, live ones left alone, orphans removed, missing bytes reported', async () => {
  const blobs = new BlobsRepo(db);
  const now = Date.now();
  const alive = await volume(blobs); // another process still working on the volume
  const dead = await volume(blobs);
  await dead.close(); // its process is gone
  const self = await volume(blobs); // the one starting up

  // A live owner's transfer in progress: temp file and reservation stay.
  put(alive.tempPath(key('1')), 'half');
  row(key('1'), 10, 'reserved', alive.owner, now + 60_000);
  // The dead owner renamed its file into place but never marked it present; it was also removing another.
  put(dead.tempPath(key('2')), 'partial');
  put(self.blobPath(key('2')), 'complete');
  row(key('2'), 8, 'reserved', dead.owner, now + 60_000);
  put(self.blobPath(key('3')), 'going');
  row(key('3'), 5, 'dropping', dead.owner, now + 60_000);
  // Owners on another host: only the lease tells.
  const farAlive = 'otherhost.4242.aaaaaaaaaaaa';
  const farDead = 'otherhost.4243.bbbbbbbbbbbb';
  put(path.join(self.tmpDir, farAlive, `${key('4')}.part`), 'far');
  row(key('4'), 10, 'reserved', farAlive, now + 60_000);
  put(path.join(self.tmpDir, farDead, `${key('5')}.part`), 'far, gone');
  row(key('5'), 10, 'reserved', farDead, now - 1);
  // Present rows: good, damaged, missing; and files no row owns.
  put(self.blobPath(key('6')), 'good');
  row(key('6'), 4, 'present', null, null);
  put(self.blobPath(key('7')), 'wrong size');
  row(key('7'), 3, 'present', null, null);
  row(key('8'), 9, 'present', null, null);
  put(self.blobPath(key('9')), 'no row');
  put(path.join(self.tmpDir, 'old-layout.part'), 'debris');

  const report = await reconcileVolume(self, blobs, now);

  expect([...report.missing].sort()).toEqual([key('7'), key('8')]);
  expect(report.rowsReleased).toBe(3); // key 2, 3 (dead owner) and 5 (lease out on another host)
  expect(report.orphansRemoved).toBe(2); // key 7 (damaged) and 9 (no row)
  expect(readdirSync(self.tmpDir).sort()).toEqual([alive.owner, farAlive].sort());
  expect(existsSync(alive.tempPath(key('1')))).toBe(true);
  for (const gone of ['2', '3', '7', '9']) expect(existsSync(self.blobPath(key(gone)))).toBe(false);
  expect(existsSync(self.blobPath(key('6')))).toBe(true);
  const rows = blobs.all().map((r) => `${r.key.slice(4, 5)} ${r.state}`);
  expect(rows.sort()).toEqual(['1 reserved', '4 reserved', '6 present']);
});

test('a live owner whose temp folder another process removed makes it again on its next try', async () => {
  const blobs = new BlobsRepo(db);
  const v = await volume(blobs);
  const body = Buffer.from('brought back');
  const req = { key: `md5-${createHash('md5').update(body).digest('hex')}`, hashtype: 'md5', hashsum: createHash('md5').update(body).digest('hex'), size: body.length, mtime: 1_700_000_000 };
  await v.ingest(Readable.from([Buffer.from('first')]), { ...req, key: key('a'), hashsum: 'a'.repeat(32), size: 5 }).catch(() => undefined); // makes the folder
  rmSync(v.ownTmpDir, { recursive: true, force: true });
  // The try that finds the folder gone fails (retryable, like any transfer fault)...
  await expect(v.ingest(Readable.from([body]), req)).rejects.toMatchObject({ code: 'ENOENT' });
  // ...and the next one stages the file.
  await v.ingest(Readable.from([body]), req);
  expect(readFileSync(v.blobPath(req.key), 'utf8')).toBe('brought back');
  expect(blobs.get(req.key)?.state).toBe('present');
});
