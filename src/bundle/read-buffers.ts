/**
 * The buffers one download reads staged files into, each handed back once the socket has
 * taken its bytes and read into again. A download read into fresh 1 MiB buffers leaves them
 * all to the garbage collector, which lets about 64 MB of them pile up before it runs (V8
 * counts them as external memory, not heap) and pays a page fault per 4 KiB of each new one:
 * reusing a few keeps a 4 GiB download at a flat footprint.
 */
export class ReadBuffers {
  private readonly idle: Buffer[] = [];
  /** Buffers out for reading or sending, by their memory (what every slice of them shares). */
  private readonly lent = new WeakMap<ArrayBufferLike, Buffer>();

  /**
   * @param size bytes in each buffer (the largest read)
   * @param keep buffers kept for reuse; more than this in flight at once are left to the collector
   */
  constructor(
    readonly size: number,
    private readonly keep = 4,
  ) {
    if (!Number.isSafeInteger(size) || size <= 0) throw new RangeError(`bad buffer size: ${size}`);
  }

  /** `length` bytes to read into: part of one of ours, or a fresh buffer when longer than `size`. */
  take(length: number): Buffer {
    if (length > this.size) return Buffer.allocUnsafe(length);
    // allocUnsafeSlow: memory of its own, never a slice of Node's shared pool that other code writes to.
    const buffer = this.idle.pop() ?? Buffer.allocUnsafeSlow(this.size);
    this.lent.set(buffer.buffer, buffer);
    return buffer.subarray(0, length);
  }

  /**
   * The bytes of `piece` have left the process (the socket's write callback ran): if they are
   * in one of ours, it may be read into again. Only the one piece sent from a buffer may hand
   * it back; pieces that are copies, or from elsewhere, are ignored.
   */
  giveBack(piece: Buffer): void {
    const buffer = this.lent.get(piece.buffer);
    if (buffer === undefined) return;
    this.lent.delete(piece.buffer);
    if (this.idle.length < this.keep) this.idle.push(buffer);
  }
}
