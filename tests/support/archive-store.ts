/**
 * Files and storage media of the test archive interface (tests/support/archive-server.ts).
 *
 * A file `id` lives at `dir/<encodeURIComponent(id)>`: one flat folder, no id can
 * name a path outside it. Whether a file is on disk or on tape is kept in memory:
 * a tape file turns to disk `tapeDelayMs` after its first recall (POST), never before,
 * and never by itself.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export type Media = 'disk' | 'tape';

/** What HEAD reports of one file. */
export interface ArchiveFileInfo {
  readonly id: string;
  /** Absolute path of the file on disk (the `X-Pacifica-File` header). */
  readonly path: string;
  readonly size: number;
  /** Epoch milliseconds. */
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly media: Media;
}

/** The id cannot be stored (empty, `.`/`..`, too long). Answered with 400. */
export class BadIdError extends Error {}

interface TapeState {
  /** Per-file recall delay; the server's default when undefined. */
  readonly tapeDelayMs: number | undefined;
  /** Date.now() of the first recall. */
  recalledAt: number | undefined;
}

export class ArchiveStore {
  /** id -> media state; an id not here has the default media. */
  private readonly media = new Map<string, TapeState | 'disk'>();

  constructor(
    readonly dir: string,
    private readonly defaults: { tapeDelayMs: () => number; media: () => Media },
  ) {}

  /** Where `id` is stored. Throws BadIdError for an id that cannot be a file name. */
  pathOf(id: string): string {
    const name = encodeURIComponent(id);
    if (name === '' || name === '.' || name === '..' || Buffer.byteLength(name) > 255) {
      throw new BadIdError(`Invalid file id ${JSON.stringify(id)}`);
    }
    return path.join(this.dir, name);
  }

  mediaOf(id: string): Media {
    const state = this.stateOf(id);
    if (state === 'disk') return 'disk';
    if (state.recalledAt === undefined) return 'tape';
    const delay = state.tapeDelayMs ?? this.defaults.tapeDelayMs();
    return Date.now() - state.recalledAt >= delay ? 'disk' : 'tape';
  }

  /** POST: start bringing a tape file to disk; later recalls do not restart the clock. */
  recall(id: string): void {
    const state = this.stateOf(id);
    if (state !== 'disk' && state.recalledAt === undefined) {
      state.recalledAt = Date.now();
      this.media.set(id, state);
    }
  }

  setMedia(id: string, media: Media, tapeDelayMs?: number): void {
    this.media.set(id, media === 'disk' ? 'disk' : { tapeDelayMs, recalledAt: undefined });
  }

  async info(id: string): Promise<ArchiveFileInfo | undefined> {
    const file = this.pathOf(id);
    try {
      const st = await fsp.stat(file);
      if (!st.isFile()) return undefined;
      return { id, path: file, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, media: this.mediaOf(id) };
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined;
      throw err;
    }
  }

  /**
   * Store `source` as `id`: written to a temporary name, then renamed into place, so a
   * broken upload never leaves a partial file. Returns the number of bytes stored.
   */
  async write(id: string, source: Readable | Buffer, opts: { mtime?: number; media?: Media; tapeDelayMs?: number } = {}): Promise<number> {
    const file = this.pathOf(id);
    // '#' is always escaped by encodeURIComponent, so no id is ever stored under this name.
    const tmp = path.join(this.dir, `#put-${randomUUID()}`);
    try {
      let size: number;
      if (Buffer.isBuffer(source)) {
        await fsp.writeFile(tmp, source);
        size = source.length;
      } else {
        const out = createWriteStream(tmp);
        await pipeline(source, out);
        size = out.bytesWritten;
      }
      return await this.commit(id, tmp, file, size, opts);
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      throw err;
    }
  }

  /** A sparse file of `size` bytes (zeros), taking no disk space. */
  async writeSparse(id: string, size: number, opts: { mtime?: number; media?: Media; tapeDelayMs?: number } = {}): Promise<number> {
    const file = this.pathOf(id);
    const tmp = path.join(this.dir, `#put-${randomUUID()}`);
    try {
      await fsp.writeFile(tmp, '');
      await fsp.truncate(tmp, size);
      return await this.commit(id, tmp, file, size, opts);
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      throw err;
    }
  }

  async remove(id: string): Promise<boolean> {
    const file = this.pathOf(id);
    this.media.delete(id);
    try {
      await fsp.unlink(file);
      return true;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false;
      throw err;
    }
  }

  private async commit(id: string, tmp: string, file: string, size: number, opts: { mtime?: number; media?: Media; tapeDelayMs?: number }): Promise<number> {
    const mtime = opts.mtime ?? Date.now() / 1000;
    await fsp.utimes(tmp, mtime, mtime);
    await fsp.rename(tmp, file);
    this.setMedia(id, opts.media ?? this.defaults.media(), opts.tapeDelayMs);
    return size;
  }

  private stateOf(id: string): TapeState | 'disk' {
    const known = this.media.get(id);
    if (known !== undefined) return known;
    return this.defaults.media() === 'disk' ? 'disk' : { tapeDelayMs: undefined, recalledAt: undefined };
  }
}

/** Duck-typed: errors from another realm (jest's sandbox) are not `instanceof Error`. */
export function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && err.code === code;
}
