/**
 * The read buffers of one download: a buffer comes back for reuse only through the piece
 * sent from it, never while it is out, and is never a slice of memory other code shares.
 */
import { ReadBuffers } from '../../src/bundle/read-buffers';

test('a buffer handed back through its piece is read into again; one still out never is', () => {
  const buffers = new ReadBuffers(1024);
  const a = buffers.take(1024);
  const b = buffers.take(1024);
  expect(a.buffer).not.toBe(b.buffer);
  // `a` is out (queued for the socket): the next take is new memory.
  expect(buffers.take(1024).buffer).not.toBe(a.buffer);
  // A slice of `a` (a short read, a range's tail) is what goes out and comes back.
  buffers.giveBack(a.subarray(0, 100));
  expect(buffers.take(1024).buffer).toBe(a.buffer);
});

test('a short read gets part of a whole buffer; a read longer than the buffers gets a fresh one', () => {
  const buffers = new ReadBuffers(1024);
  const short = buffers.take(10);
  expect(short.byteLength).toBe(10);
  expect(short.buffer.byteLength).toBe(1024);
  const long = buffers.take(4096);
  expect(long.byteLength).toBe(4096);
  buffers.giveBack(long);
  expect(buffers.take(1024).buffer).not.toBe(long.buffer);
});

test('pieces that are copies, or from elsewhere, and a second hand-back change nothing', () => {
  const buffers = new ReadBuffers(1024);
  const a = buffers.take(1024);
  buffers.giveBack(Buffer.from(a)); // a copy of its bytes, not its memory
  buffers.giveBack(Buffer.alloc(1024));
  expect(buffers.take(1024).buffer).not.toBe(a.buffer);
  buffers.giveBack(a);
  buffers.giveBack(a); // the same piece twice must not put the buffer on the list twice
  const first = buffers.take(1024);
  const second = buffers.take(1024);
  expect(first.buffer).toBe(a.buffer);
  expect(second.buffer).not.toBe(a.buffer);
});

test('small buffers are memory of their own, not slices of the pool Node shares', () => {
  const buffers = new ReadBuffers(64);
  const pieces = [buffers.take(64), buffers.take(64), Buffer.allocUnsafe(64)];
  expect(pieces[0]!.buffer.byteLength).toBe(64);
  expect(new Set(pieces.map((p) => p.buffer)).size).toBe(3);
});

test('no more than `keep` buffers wait for reuse; the rest are left to the collector', () => {
  const buffers = new ReadBuffers(16, 2);
  const out = [buffers.take(16), buffers.take(16), buffers.take(16)];
  for (const p of out) buffers.giveBack(p);
  const again = [buffers.take(16), buffers.take(16), buffers.take(16)];
  const reused = again.filter((p) => out.some((o) => o.buffer === p.buffer));
  expect(reused).toHaveLength(2);
});

test('a size that is not a positive whole number is refused', () => {
  expect(() => new ReadBuffers(0)).toThrow(RangeError);
  expect(() => new ReadBuffers(1.5)).toThrow(RangeError);
});
