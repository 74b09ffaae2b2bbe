import type { ByteSource } from '../core/ports';

/**
 * A body as the generator `chunks` yields it, without a stream around it (for a small file
 * the stream's setup cost more than its bytes). `destroy` calls `release` first: a generator
 * never started runs no `finally`, so what it would have let go of is let go of there.
 */
export function byteSource(chunks: AsyncGenerator<Buffer>, release: () => void): ByteSource {
  return {
    [Symbol.asyncIterator]: () => chunks,
    destroy: () => {
      release();
      chunks.return(undefined).catch(() => undefined);
    },
  };
}
