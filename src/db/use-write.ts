import type { Db } from './open';

/** A use moves a cart's last use forward only by more than this (at most one write a second per cart). */
export const USE_RESOLUTION_MS = 1000;

/**
 * The one statement that records a use of a cart (status call, download) for LRU eviction:
 * run here on the event loop, or by the UseRecorder's thread on its own connection.
 * Parameters: the time of the use, the cart id, the time minus USE_RESOLUTION_MS.
 */
export const USE_SQL = 'UPDATE carts SET last_used_at = ? WHERE id = ? AND last_used_at < ?';

/** Write a use of cart `id` at `at` now, on this connection. */
export function writeUse(db: Db, id: number, at: number): void {
  db.stmt(USE_SQL).run(at, id, at - USE_RESOLUTION_MS);
}
