import type { ServerResponse } from 'node:http';
import type { ReadBuffers } from '../bundle/read-buffers';

/** Resolves when `res` can take more ('drain') or never will ('close'), leaving no listener behind. */
function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * Write every piece of `body` to `res`, each once the socket has room. A piece read into one
 * of `buffers` is handed back only when the socket has taken it (its write callback), never
 * when write() returns: a piece still queued must not be read into again. Resolves true when
 * the body is all written (`res` is not ended), false when `res` closed first; leaving early
 * closes the body (and the file it was reading). Rejects with what the body throws.
 */
export async function writePieces(body: AsyncIterable<Buffer>, res: ServerResponse, buffers?: ReadBuffers): Promise<boolean> {
  for await (const piece of body) {
    if (res.destroyed) return false;
    const more = res.write(piece, (err) => {
      if (err === null || err === undefined) buffers?.giveBack(piece);
    });
    if (!more) await drainedOrClosed(res);
  }
  return !res.destroyed;
}
