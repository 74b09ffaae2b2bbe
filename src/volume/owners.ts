import { randomBytes } from 'node:crypto';
import os from 'node:os';

/**
 * Who holds a reservation or a temp folder on a volume that several processes (the API
 * server, BullMQ workers, possibly on other hosts) share. An owner id is
 * `<host>.<pid>.<random>`, so on the same host a dead owner is recognised at once (its
 * process is gone) and its work taken over without waiting for its lease to run out.
 */

const safeHost = (): string => os.hostname().replace(/[^A-Za-z0-9-]/g, '_') || 'host';

/** Owners (volumes) open in this process: a same-pid owner not listed here was closed or lost. */
const liveHere = new Set<string>();

export function newOwner(): string {
  const id = `${safeHost()}.${process.pid}.${randomBytes(6).toString('hex')}`;
  liveHere.add(id);
  return id;
}

export function retireOwner(owner: string): void {
  liveHere.delete(owner);
}

export function isOwnerId(name: string): boolean {
  return /^[A-Za-z0-9_-]+\.\d+\.[0-9a-f]{12}$/.test(name);
}

/** true: certainly gone; false: certainly alive; undefined: on another host (only its lease can tell). */
export function ownerIsDead(owner: string): boolean | undefined {
  const m = /^(.*)\.(\d+)\.[0-9a-f]{12}$/.exec(owner);
  if (!m || m[1] !== safeHost()) return undefined;
  const pid = Number(m[2]);
  if (pid === process.pid) return !liveHere.has(owner);
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else (possibly a reused pid): alive.
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** May another owner take over what `owner` holds until `leaseUntil`? */
export function ownerIsGone(owner: string | null, leaseUntil: number | null, now: number): boolean {
  if (owner === null) return true;
  const dead = ownerIsDead(owner);
  return dead === true || (leaseUntil ?? 0) <= now;
}
