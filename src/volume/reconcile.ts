import { readdir, rm, stat } from 'node:fs/promises';
import * as path from 'node:path';
import type { BlobsRepo, BlobRow } from '../db/blobs-repo';
import { isOwnerId, ownerIsDead, ownerIsGone } from './owners';
import type { Volume } from './volume';

export interface ReconcileReport {
  /** Temp files (and folders) of owners that are gone. */
  readonly tempsRemoved: number;
  /** Files under blobs/ that no row owns (or a dead owner's unfinished rename). */
  readonly orphansRemoved: number;
  /** Reservations and removals of owners that are gone, forgotten. */
  readonly rowsReleased: number;
  /** Blobs the ledger says are present whose file is missing or the wrong size: their carts must stage them again. */
  readonly missing: readonly string[];
}

/**
 * Make the volume and its ledger agree again after a crash (run at server start). Safe
 * while other processes work on the same volume: only what a dead (or lease-expired) owner
 * held is reclaimed, and a file being renamed into place by a live owner is left alone.
 */
export async function reconcileVolume(volume: Volume, blobs: BlobsRepo, now = Date.now()): Promise<ReconcileReport> {
  const gone = (owner: string | null, leaseUntil: number | null): boolean => owner !== volume.owner && ownerIsGone(owner, leaseUntil, now);
  const { files: tempsRemoved } = await removeDeadTempFolders(volume, blobs, now);
  let rowsReleased = 0;
  // A gone owner's reservation may have left its file renamed into place but never marked
  // present; its removal may have stopped half-way. Claim each row first, so nobody else
  // writes those bytes meanwhile, then remove the file and forget the row.
  for (const row of blobs.all()) {
    if (row.state === 'present' || !gone(row.owner, row.leaseUntil)) continue;
    if (!blobs.claimFrom(row.key, row.owner, volume.owner, now + volume.leaseMs)) continue;
    await volume.removeBlobs([row.key]);
    rowsReleased += 1;
  }

  const rows = new Map<string, BlobRow>(blobs.all().map((r) => [r.key, r]));
  let orphansRemoved = 0;
  const seen = new Set<string>();
  for (const file of await blobFiles(volume.blobDir)) {
    const key = path.basename(file);
    const row = rows.get(key);
    const misplaced = row !== undefined && volume.blobPath(key) !== file;
    if (row && !misplaced && row.state !== 'present') continue; // a live owner's rename or removal in progress
    if (row && !misplaced) {
      const size = (await stat(file).catch(() => undefined))?.size;
      if (size === row.size) {
        seen.add(key);
        continue;
      }
    }
    await rm(file, { force: true });
    orphansRemoved += 1;
  }
  const missing: string[] = [];
  for (const row of rows.values()) {
    if (row.state === 'present' && !seen.has(row.key) && blobs.forgetPresent(row.key)) missing.push(row.key);
  }
  return { tempsRemoved, orphansRemoved, rowsReleased, missing };
}

/**
 * Remove the temp folders `tmp/<owner>/` of owners that are gone, whole: their files and
 * the folder itself (and stray files of an older layout). A killed process's folder may
 * hold a partial file, or be empty when another owner took its transfer over and removed
 * the file. Run at every start, by servers (within reconcileVolume) and by `cartd worker`,
 * which is how a worker killed with SIGKILL and started again clears its predecessor's
 * folder. Safe while others work: a live owner's folder is left alone.
 * Returns the folders (or stray files) removed and the temp files they held.
 */
export async function removeDeadTempFolders(volume: Volume, blobs: BlobsRepo, now = Date.now()): Promise<{ folders: number; files: number }> {
  let folders = 0;
  let files = 0;
  const leases = new Map(blobs.owners().map((o) => [o.owner, o.leaseUntil]));
  for (const entry of await readdir(volume.tmpDir, { withFileTypes: true }).catch(() => [])) {
    const full = path.join(volume.tmpDir, entry.name);
    if (entry.name === volume.owner) continue;
    // A folder is an owner's; anything else is debris from an older layout.
    const dead = !entry.isDirectory() || !isOwnerId(entry.name) || ownerIsDead(entry.name) === true || (ownerIsDead(entry.name) === undefined && (leases.get(entry.name) ?? 0) <= now);
    if (!dead) continue;
    files += entry.isDirectory() ? (await readdir(full).catch(() => [])).length : 1;
    await rm(full, { recursive: true, force: true });
    folders += 1;
  }
  return { folders, files };
}

async function blobFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const dir of await readdir(root, { withFileTypes: true }).catch(() => [])) {
    const full = path.join(root, dir.name);
    if (!dir.isDirectory()) {
      out.push(full);
      continue;
    }
    for (const f of await readdir(full, { withFileTypes: true })) out.push(path.join(full, f.name));
  }
  return out;
}
