import { NoSpaceError } from '../core/errors';
import type { NoRoomReason } from '../db/space-plan';

/**
 * Files waiting for room that carts in progress or in use now hold (`space_wait`). Kept in
 * memory: with several workers a file's wait is bounded per process, so still bounded.
 */
export class SpaceWaits {
  /** File row id -> since when it waits (ms). */
  private readonly since = new Map<number, number>();

  constructor(private readonly waitMs: number) {}

  isWaiting(fileId: number): boolean {
    return this.since.has(fileId);
  }

  /** The file got its room (or the bytes were there): it waits no more. */
  done(fileId: number): void {
    this.since.delete(fileId);
  }

  /**
   * No room for the file now: 'wait' while it may still wait for room held by others; throws
   * NoSpaceError when it may not (the cart is too big, eviction is off, or the wait is over).
   */
  noRoom(fileId: number, size: number, why: NoRoomReason, available: number, now: number): 'wait' {
    if (why === 'later' && this.waitMs > 0) {
      for (const [id, t] of this.since) if (now - t > 2 * this.waitMs + 60_000) this.since.delete(id); // carts removed meanwhile
      const since = this.since.get(fileId) ?? now;
      this.since.set(fileId, since);
      if (now - since < this.waitMs) return 'wait';
    }
    this.since.delete(fileId);
    throw new NoSpaceError(size, available);
  }

  /** How long a waiting file sleeps before it looks again: longer the longer it has waited. */
  retryDelay(fileId: number, baseMs: number, now: number): number {
    const since = this.since.get(fileId);
    return since === undefined ? baseMs : Math.min(5_000, Math.max(baseMs, (now - since) / 4));
  }
}
