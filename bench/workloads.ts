/**
 * The benchmark's workloads (issue 7) as plain data: which carts, which files, how big.
 * `scale` multiplies file counts (at least 1 file per cart); where a workload is a few big
 * files (large, stream) it multiplies their sizes instead, so a small scale stays small.
 */

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

export interface BenchFile {
  /** The file's id in the archive (and its file name there). */
  readonly id: string;
  /** Path inside the tarball. */
  readonly path: string;
  readonly size: number;
  /** `sparse`: all zeros, stored as a hole on the archive (no disk, no page cache). */
  readonly content: 'random' | 'sparse';
}

export interface BenchCart {
  readonly uid: string;
  readonly files: readonly BenchFile[];
}

export interface Workload {
  readonly name: WorkloadName;
  /** One line for the table, with the scaled numbers. */
  readonly description: string;
  readonly carts: readonly BenchCart[];
}

export const WORKLOAD_NAMES = ['small', 'large', 'concurrent', 'mixed', 'wide', 'growth', 'stream'] as const;
export type WorkloadName = (typeof WORKLOAD_NAMES)[number];

/** What `--workload all` (the default) runs, in this order. */
export const DEFAULT_WORKLOADS: readonly WorkloadName[] = WORKLOAD_NAMES;

const count = (n: number, scale: number): number => Math.max(1, Math.round(n * scale));
const bytes = (n: number, scale: number): number => Math.max(KiB, Math.round(n * scale));

export function humanBytes(n: number): string {
  if (n >= GiB && n % GiB === 0) return `${n / GiB} GiB`;
  if (n >= MiB) return `${+(n / MiB).toFixed(1)} MiB`;
  if (n >= KiB) return `${+(n / KiB).toFixed(1)} KiB`;
  return `${n} B`;
}

function files(prefix: string, n: number, size: number, content: BenchFile['content'] = 'random'): BenchFile[] {
  const width = String(n - 1).length;
  // Two levels of folders, as a real dataset has (and the tar names exercise).
  return Array.from({ length: n }, (_, i) => {
    const num = String(i).padStart(width, '0');
    return { id: `${prefix}-${num}`, path: `d${Math.floor(i / 1000)}/${prefix}/${num}.dat`, size, content };
  });
}

/** `mixed`: 1 KiB to 64 MiB in powers of 4, fewer files the bigger they are (511 files, ~128 MiB). */
function mixedFiles(prefix: string, scale: number): BenchFile[] {
  const out: BenchFile[] = [];
  for (let k = 0; k <= 8; k++) {
    const size = KiB * 4 ** k;
    const n = count(2 ** (8 - k), scale);
    out.push(...files(`${prefix}-${humanBytes(size).replace(' ', '')}`, n, size));
  }
  return out;
}

/** A cart of `n` 1 KiB files: `wide` at 100,000, and the points of `growth`. */
export function wideCart(run: string, n: number): BenchCart {
  return { uid: `${run}-wide-${n}`, files: files(`${run}-w${n}`, n, KiB) };
}

/** The points of the growth check: 1k, 10k and (from `wide`) 100k files, scaled. */
export function growthPoints(scale: number): number[] {
  return [1_000, 10_000, 100_000].map((n) => count(n, scale));
}

/** Build a workload; `run` prefixes every id and uid so runs never share archive files or carts. */
export function workload(name: WorkloadName, scale: number, run: string): Workload {
  const p = `${run}-${name}`;
  switch (name) {
    case 'small': {
      const n = count(2000, scale);
      return { name, description: `1 cart x ${n} files x 16 KiB`, carts: [{ uid: p, files: files(p, n, 16 * KiB) }] };
    }
    case 'large': {
      const size = bytes(256 * MiB, scale);
      return { name, description: `1 cart x 4 files x ${humanBytes(size)}`, carts: [{ uid: p, files: files(p, 4, size) }] };
    }
    case 'concurrent': {
      const n = count(64, scale);
      const carts = Array.from({ length: 16 }, (_, c) => ({ uid: `${p}-${c}`, files: files(`${p}-${c}`, n, MiB) }));
      return { name, description: `16 carts x ${n} files x 1 MiB, posted at once`, carts };
    }
    case 'mixed': {
      const f = mixedFiles(p, scale);
      const total = f.reduce((s, x) => s + x.size, 0);
      return { name, description: `1 cart x ${f.length} files, 1 KiB to 64 MiB (${humanBytes(total)})`, carts: [{ uid: p, files: f }] };
    }
    case 'wide': {
      const n = count(100_000, scale);
      return { name, description: `1 cart x ${n} files x 1 KiB`, carts: [wideCart(p, n)] };
    }
    case 'growth':
      // Built point by point by the runner (growthPoints); this is only the label.
      return { name, description: `1 cart x ${growthPoints(scale).join(' / ')} files x 1 KiB`, carts: [] };
    case 'stream': {
      const size = bytes(4 * GiB, scale);
      return { name, description: `1 cart x 1 sparse file of ${humanBytes(size)}`, carts: [{ uid: p, files: files(p, 1, size, 'sparse') }] };
    }
  }
}

export function totalBytes(carts: readonly BenchCart[]): number {
  return carts.reduce((s, c) => s + c.files.reduce((t, f) => t + f.size, 0), 0);
}

export function totalFiles(carts: readonly BenchCart[]): number {
  return carts.reduce((s, c) => s + c.files.length, 0);
}
