import type { Cart } from '../../core/cart';
import type { CartsRepo } from '../../db/carts-repo';
import type { Cartd } from '../../main/build';
import { EmbeddedRunner } from '../../queue/embedded-runner';
import { plural } from '../format';
import type { CartLine, ProgressView } from '../progress';

const POLL_MS = 250;
/** How long an idle runner may coexist with a cart still `staging` before we hand it the cart again. */
const IDLE_RESUBMIT_MS = 2000;

export function cartLine(carts: CartsRepo, cart: Cart): CartLine {
  const now = carts.getLive(cart.id);
  const p = carts.progress(cart.id);
  return { uid: cart.uid, status: now ? now.status : 'gone', message: now?.message ?? '', ...p };
}

/**
 * Stage the carts' pending files in this process (the embedded runner, on the server's
 * volume and database) and return once none of them is `staging` any more, or when
 * `interrupted` fires (their pending files then stay pending for the next fixit).
 */
export async function stageInline(cartd: Cartd, carts: readonly Cart[], view: ProgressView, interrupted: AbortSignal): Promise<CartLine[]> {
  const repo = cartd.state.carts;
  // Our own runner, never start()ed: start() would take every unfinished cart, the server's work too.
  const runner = new EmbeddedRunner(cartd.staging, cartd.config.cartd.concurrency);
  for (const cart of carts) await runner.submitCart(cart.id);
  let idleSince: number | undefined;
  try {
    for (;;) {
      const lines = carts.map((c) => cartLine(repo, c));
      if (lines.every((l) => l.status !== 'staging') || interrupted.aborted) return lines;
      view.update(lines);
      // A step that crashed leaves its file pending and our runner idle: give the cart to it again.
      if (runner.pending === 0) {
        idleSince ??= Date.now();
        if (Date.now() - idleSince >= IDLE_RESUBMIT_MS) {
          idleSince = undefined;
          for (const c of carts) if (repo.getLive(c.id)?.status === 'staging') await runner.submitCart(c.id);
        }
      } else idleSince = undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, POLL_MS);
        interrupted.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
      });
    }
  } finally {
    await runner.stop();
  }
}

export function describeRestage(before: CartLine): string {
  const unstaged = before.files - before.filesStaged;
  return `cart ${before.uid}: re-staging ${plural(unstaged, 'file')} (${before.filesStaged} of ${before.files} already staged, left as they are)`;
}
