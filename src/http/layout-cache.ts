/**
 * Tar layouts of recent downloads, so a resumed download (one Range request after another)
 * or the GET after a `HEAD ?filename=` reuses the layout instead of working it out again:
 * for a 100,000-file cart that is about a second of CPU each time.
 */
import type { TarLayout } from '../bundle/layout';

/** What a layout is a pure function of; the generation changes whenever the cart is staged again. */
export interface LayoutKey {
  readonly cartId: number;
  readonly generation: number;
  readonly root: string;
  readonly manifest: boolean;
}

export interface LayoutCacheOptions {
  /** Most layouts kept. Default 64. */
  readonly maxLayouts?: number;
  /** Most tar entries kept across all layouts (about 250 bytes each). Default 400,000 (~100 MB). */
  readonly maxEntries?: number;
}

/** Least-recently-used, bounded by count and by total entries; a layout bigger than the bound is built but not kept. */
export class LayoutCache {
  private readonly map = new Map<string, TarLayout>();
  private entries = 0;
  readonly maxLayouts: number;
  readonly maxEntries: number;

  constructor(options: LayoutCacheOptions = {}) {
    this.maxLayouts = options.maxLayouts ?? 64;
    this.maxEntries = options.maxEntries ?? 400_000;
    if (!(Number.isSafeInteger(this.maxLayouts) && this.maxLayouts >= 0)) throw new RangeError(`maxLayouts must be an integer >= 0 (got ${this.maxLayouts})`);
    if (!(Number.isSafeInteger(this.maxEntries) && this.maxEntries >= 0)) throw new RangeError(`maxEntries must be an integer >= 0 (got ${this.maxEntries})`);
  }

  get size(): number {
    return this.map.size;
  }

  /** The cached layout for `key`, or `build()`'s, kept for next time when it fits. */
  get(key: LayoutKey, build: () => TarLayout): TarLayout {
    const id = `${key.cartId}/${key.generation}/${key.manifest ? 1 : 0}/${key.root}`;
    const hit = this.map.get(id);
    if (hit) {
      // Re-insert: a Map iterates in insertion order, so the first key is the least recently used.
      this.map.delete(id);
      this.map.set(id, hit);
      return hit;
    }
    const layout = build();
    const cost = layout.entries.length;
    if (cost > this.maxEntries || this.maxLayouts === 0) return layout;
    while (this.map.size >= this.maxLayouts || this.entries + cost > this.maxEntries) this.evictOldest();
    this.map.set(id, layout);
    this.entries += cost;
    return layout;
  }

  private evictOldest(): void {
    const first = this.map.entries().next();
    if (first.done === true) return;
    const [id, layout] = first.value;
    this.map.delete(id);
    this.entries -= layout.entries.length;
  }
}
