/**
 * Before a download's first byte: are the staged files it will read still on the volume at
 * their size? A file deleted or damaged behind our back would otherwise cut the download
 * off mid-stream; found here, the cart goes back to staging and the client is told to wait.
 */
import { stat } from 'node:fs/promises';
import type { ByteRange } from '../bundle/range';
import { entryEnd, type TarLayout } from '../bundle/layout';

/** stat() calls in flight at once: enough to keep libuv's pool busy, few enough not to starve it. */
const PARALLEL = 16;

export interface SourceFile {
  readonly source: string;
  readonly size: number;
}

/** The sources among `files` that are missing or not `size` bytes long (each checked once). */
export async function missingSources(files: Iterable<SourceFile>): Promise<Set<string>> {
  const todo = new Map<string, number>();
  for (const f of files) todo.set(f.source, f.size);
  const queue = [...todo];
  const missing = new Set<string>();
  const worker = async (): Promise<void> => {
    for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
      const [source, size] = next;
      const st = await stat(source).catch(() => undefined);
      if (st?.isFile() !== true || st.size !== size) missing.add(source);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, queue.length) }, worker));
  return missing;
}

/** The staged files a tar range reads (all of them without a range), with their sizes. */
export function sourcesInRange(layout: TarLayout, range?: ByteRange): SourceFile[] {
  const start = range?.start ?? 0;
  const end = range?.end ?? layout.size - 1;
  const out: SourceFile[] = [];
  for (const e of layout.entries) {
    if (e.offset > end) break;
    if (e.body.kind === 'file' && entryEnd(e) > start) out.push({ source: e.body.source, size: e.header.size });
  }
  return out;
}
