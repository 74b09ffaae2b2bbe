import { tarLayout, type TarLayout } from '../../src/bundle/layout';
import { LayoutCache, type LayoutKey } from '../../src/http/layout-cache';

/** A real layout of `n` files (what the cache counts is its entries). */
function layoutOf(n: number, root = 'r'): TarLayout {
  return tarLayout(root, Array.from({ length: n }, (_, i) => ({ path: `f${i}`, size: i, mtime: 1, source: `/v/${i}` })));
}

const key = (cartId: number, extra: Partial<LayoutKey> = {}): LayoutKey => ({ cartId, generation: 0, root: 'r', manifest: false, ...extra });

function counting(cache: LayoutCache): { get(k: LayoutKey, n?: number): TarLayout; builds: number } {
  const state = {
    builds: 0,
    get(k: LayoutKey, n = 1): TarLayout {
      return cache.get(k, () => {
        state.builds += 1;
        return layoutOf(n, k.root);
      });
    },
  };
  return state;
}

test('the same cart, generation, root and manifest is built once; any of them changed is another layout', () => {
  const c = counting(new LayoutCache());
  const first = c.get(key(1));
  expect(c.get(key(1))).toBe(first);
  expect(c.builds).toBe(1);
  for (const k of [key(2), key(1, { generation: 1 }), key(1, { root: 'other' }), key(1, { manifest: true })]) c.get(k);
  expect(c.builds).toBe(5);
});

test('bounded by count: the least recently used layout goes first', () => {
  const c = counting(new LayoutCache({ maxLayouts: 2 }));
  c.get(key(1));
  c.get(key(2));
  c.get(key(1)); // 1 is now the most recent
  c.get(key(3)); // evicts 2
  expect(c.builds).toBe(3);
  c.get(key(1));
  expect(c.builds).toBe(3);
  c.get(key(2));
  expect(c.builds).toBe(4);
});

test('bounded by entries: big layouts push out old ones, and one over the bound is served but not kept', () => {
  const cache = new LayoutCache({ maxEntries: 100 });
  const c = counting(cache);
  c.get(key(1), 60);
  c.get(key(2), 30);
  c.get(key(3), 30); // 120 > 100: cart 1 goes
  expect(cache.size).toBe(2);
  c.get(key(2), 30);
  expect(c.builds).toBe(3);
  const huge = c.get(key(4), 101);
  expect(huge.entries).toHaveLength(101);
  expect(cache.size).toBe(2);
  c.get(key(4), 101);
  expect(c.builds).toBe(5);
});

test('bad bounds are refused at construction', () => {
  expect(() => new LayoutCache({ maxLayouts: -1 })).toThrow(/maxLayouts/);
  expect(() => new LayoutCache({ maxEntries: 1.5 })).toThrow(/maxEntries/);
});
