import { formatBytes, plural } from './format';

/** Where one cart stands, as the progress display shows it. */
export interface CartLine {
  readonly uid: string;
  /** `gone`: deleted or purged while we worked on it. */
  readonly status: 'staging' | 'ready' | 'error' | 'gone';
  readonly message: string;
  readonly files: number;
  readonly filesStaged: number;
  /** Bytes of the files whose size is known so far (sizes arrive with the archive's answers). */
  readonly bytes: number;
  readonly bytesStaged: number;
}

export interface ProgressView {
  /** A line that stays above the bars. */
  note(text: string): void;
  update(carts: readonly CartLine[]): void;
  /** The last picture (terminal) or one outcome line per cart (plain). */
  finish(carts: readonly CartLine[]): void;
}

/**
 * Bars redrawn in place on a terminal; plain lines otherwise (logs, pipes, cron mail), where
 * escape codes would be noise. Hand-written rather than a library: four lines of ANSI
 * (cursor up, clear to end) are all it needs, and it must print nothing but plain lines
 * off a terminal, which the usual bar libraries leave to the caller anyway.
 */
export function progressView(out: NodeJS.WriteStream): ProgressView {
  return out.isTTY ? new TerminalBars(out) : new PlainLines(out);
}

const BAR_WIDTH = 24;
const MAX_CART_ROWS = 15;
const ESC = '\x1b[';

export function bar(done: number, total: number, complete = false): string {
  const ratio = total > 0 ? Math.min(1, done / total) : complete ? 1 : 0;
  const full = Math.round(ratio * BAR_WIDTH);
  return `${'█'.repeat(full)}${'░'.repeat(BAR_WIDTH - full)}`;
}

function statusWord(c: CartLine): string {
  if (c.status === 'error') return `error: ${c.message}`;
  if (c.status === 'gone') return 'removed meanwhile';
  return c.status;
}

function totals(carts: readonly CartLine[]): Omit<CartLine, 'uid' | 'status' | 'message'> & { settled: boolean } {
  const sum = (f: (c: CartLine) => number): number => carts.reduce((n, c) => n + f(c), 0);
  return {
    files: sum((c) => c.files),
    filesStaged: sum((c) => c.filesStaged),
    bytes: sum((c) => c.bytes),
    bytesStaged: sum((c) => c.bytesStaged),
    settled: carts.every((c) => c.status !== 'staging'),
  };
}

/** The rows of the picture: one per cart (up to a bound), then all files and all bytes. */
export function renderBars(carts: readonly CartLine[], columns: number): string[] {
  const label = Math.min(24, Math.max(9, ...carts.map((c) => c.uid.length)));
  const name = (s: string): string => (s.length > label ? `${s.slice(0, label - 1)}…` : s.padEnd(label));
  const rows = carts
    .slice(0, MAX_CART_ROWS)
    .map((c) => `${name(c.uid)} ${bar(c.filesStaged, c.files, c.status === 'ready')} ${c.filesStaged}/${c.files} files  ${statusWord(c)}`);
  if (carts.length > MAX_CART_ROWS) rows.push(`… and ${plural(carts.length - MAX_CART_ROWS, 'more cart')}`);
  const t = totals(carts);
  rows.push(`${name('files')} ${bar(t.filesStaged, t.files, t.settled)} ${t.filesStaged}/${t.files}`);
  rows.push(`${name('bytes')} ${bar(t.bytesStaged, t.bytes, t.settled && t.filesStaged === t.files)} ${formatBytes(t.bytesStaged)}/${formatBytes(t.bytes)}`);
  // A row wider than the terminal wraps and the cursor-up count would be wrong.
  return rows.map((r) => (r.length >= columns ? r.slice(0, Math.max(1, columns - 1)) : r));
}

class TerminalBars implements ProgressView {
  private drawn = 0;
  private last: readonly CartLine[] = [];

  constructor(private readonly out: NodeJS.WriteStream) {}

  note(text: string): void {
    this.erase();
    this.out.write(`${text}\n`);
    if (this.last.length > 0) this.draw();
  }

  update(carts: readonly CartLine[]): void {
    this.last = carts;
    this.erase();
    this.draw();
  }

  finish(carts: readonly CartLine[]): void {
    this.update(carts);
    this.drawn = 0;
  }

  private erase(): void {
    // Up to the first row of the last picture, column 0, then clear to the end of the screen.
    if (this.drawn > 0) this.out.write(`${ESC}${this.drawn}F${ESC}0J`);
    this.drawn = 0;
  }

  private draw(): void {
    const rows = renderBars(this.last, this.out.columns || 80);
    this.out.write(`${rows.join('\n')}\n`);
    this.drawn = rows.length;
  }
}

/** At most one line a second per cart while it stages, and always its outcome. */
class PlainLines implements ProgressView {
  private readonly printed = new Map<string, { staged: number; at: number }>();

  constructor(private readonly out: NodeJS.WriteStream) {}

  note(text: string): void {
    this.out.write(`${text}\n`);
  }

  update(carts: readonly CartLine[]): void {
    const now = Date.now();
    for (const c of carts) {
      if (c.status !== 'staging') continue;
      const seen = this.printed.get(c.uid);
      if (seen && (seen.staged === c.filesStaged || now - seen.at < 1000)) continue;
      this.printed.set(c.uid, { staged: c.filesStaged, at: now });
      this.out.write(`cart ${c.uid}: ${c.filesStaged}/${c.files} files staged, ${formatBytes(c.bytesStaged)} of ${formatBytes(c.bytes)} known\n`);
    }
  }

  finish(carts: readonly CartLine[]): void {
    for (const c of carts) {
      this.out.write(`cart ${c.uid}: ${statusWord(c)} (${c.filesStaged}/${c.files} files staged, ${formatBytes(c.bytesStaged)})\n`);
    }
  }
}
