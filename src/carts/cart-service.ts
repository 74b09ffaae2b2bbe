import type { Logger } from 'pino';
import { blobKey, type Cart, type CartFile, type CartProgress } from '../core/cart';
import { AppError, notFound } from '../core/errors';
import type { StagingRunner } from '../core/ports';
import type { CartsRepo } from '../db/carts-repo';
import type { Volume } from '../volume/volume';
import { finishRemoval } from './remove-cart';
import { checkUid, parseCartRequest } from './request';

export interface CartServiceDeps {
  readonly carts: CartsRepo;
  readonly volume: Volume;
  readonly runner: StagingRunner;
  readonly log: Logger;
  readonly now: () => number;
  readonly maxFiles: number;
}

export interface CartStatusView {
  readonly cart: Cart;
  readonly progress: CartProgress;
}

/** A staged file and where its bytes are on the volume. */
export type DownloadFile = CartFile & { readonly size: number; readonly mtime: number; readonly source: string };

/** A ready cart opened for download; `release()` must be called when the response closes. */
export interface OpenDownload {
  readonly cart: Cart;
  /** Read from the database on call: a download served from a cached layout never needs them. */
  files(): readonly DownloadFile[];
  release(): void;
}

/** The cart use-cases behind the HTTP routes and the admin CLI; each reads as its story. */
export class CartService {
  constructor(private readonly deps: CartServiceDeps) {}

  private live(uid: string): Cart {
    const cart = this.deps.carts.findLive(checkUid(uid));
    if (!cart) throw notFound(`no cart ${uid}`);
    return cart;
  }

  /** POST: validate, store the cart and its files in one transaction, hand it to the runner. */
  async create(uid: string, body: unknown): Promise<{ cart: Cart; created: boolean }> {
    checkUid(uid);
    const request = parseCartRequest(body, this.deps.maxFiles);
    const result = this.deps.carts.create(uid, request.digest, request.files, this.deps.now());
    if (result.created) {
      this.deps.log.info({ cart: uid, files: request.files.length }, 'cart created');
      await this.deps.runner.submitCart(result.cart.id);
    }
    return result;
  }

  /** HEAD: where the cart stands; counts as a use for least-recently-used eviction. */
  status(uid: string): CartStatusView {
    const cart = this.live(uid);
    this.deps.carts.touch(cart.id, this.deps.now());
    return { cart, progress: this.deps.carts.progress(cart.id) };
  }

  /** GET: the staged files, pinned against eviction until released. */
  openDownload(uid: string): { state: 'not-ready' | 'error'; cart: Cart } | { state: 'ready'; download: OpenDownload } {
    const cart = this.live(uid);
    if (cart.status !== 'ready') return { state: cart.status === 'staging' ? 'not-ready' : 'error', cart };
    this.deps.carts.touch(cart.id, this.deps.now());
    // Pinned in the same statement that checks it is still there: an eviction cannot slip in between.
    if (!this.deps.carts.pinReady(cart.id)) throw notFound(`no cart ${uid}`);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.deps.carts.addReader(cart.id, -1);
      this.deps.carts.touch(cart.id, this.deps.now());
    };
    return { state: 'ready', download: { cart, files: () => this.downloadFiles(cart), release } };
  }

  /** A ready cart's files in cart order with their bytes' place (HEAD works out the download's length from them). */
  downloadFiles(cart: Cart): DownloadFile[] {
    return this.deps.carts.files(cart.id).map((f) => {
      if (f.size === null || f.mtime === null) throw new AppError('internal', `cart ${cart.uid} is ready but file ${f.archiveId} has no size`);
      return { ...f, size: f.size, mtime: f.mtime, source: this.deps.volume.blobPath(blobKey(f)) };
    });
  }

  /**
   * A download found staged bytes missing or the wrong size on the volume: forget them and
   * stage again every cart that had them, so clients see `staging` instead of a tarball that
   * would die mid-stream. Returns the uids sent back to staging.
   */
  async restageMissing(keys: readonly string[]): Promise<string[]> {
    const ids = new Set<number>();
    for (const key of keys) {
      this.deps.volume.forgetMissing(key);
      for (const id of this.deps.carts.unstageBlob(key, this.deps.now())) ids.add(id);
    }
    const uids: string[] = [];
    for (const id of ids) {
      const uid = this.deps.carts.getLive(id)?.uid ?? String(id);
      this.deps.log.warn({ cart: uid, blobs: keys }, 'staged bytes missing at download; cart staged again');
      await this.deps.runner.submitCart(id);
      uids.push(uid);
    }
    return uids;
  }

  /** DELETE: stop its work, forget it, free bytes no other live cart needs. */
  async delete(uid: string): Promise<void> {
    const cart = this.live(uid);
    if (!this.deps.carts.markDeleted(cart.id, this.deps.now())) throw notFound(`no cart ${uid}`);
    await finishRemoval(this.deps, cart, 'deleted');
  }
}
