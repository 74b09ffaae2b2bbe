import type { EventEmitter } from 'node:events';

/** Resolves when a response can take more ('drain') or never will ('close'), leaving no listener behind. */
export function drainedOrClosed(res: EventEmitter): Promise<void> {
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
