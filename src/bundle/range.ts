/**
 * The `Range` request header (RFC 9110 section 14), for resuming big downloads. We answer one
 * range; a multi-range request is served whole (200), which the RFC allows, instead of
 * building multipart/byteranges bodies nobody resumes with.
 */

/** Inclusive byte positions, as in `Content-Range: bytes start-end/size`. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/**
 * - `undefined`: ignore the header and send everything (absent, not `bytes`, several ranges,
 *   or invalid such as `bytes=5-2`, which RFC 9110 14.1.1 says to ignore rather than refuse);
 * - `'unsatisfiable'`: answer 416 with `Content-Range: bytes *\/size` (start at or past the
 *   end, or a zero-length suffix `bytes=-0`);
 * - a range, its end clamped to the last byte.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*bytes\s*=\s*(.*)$/i.exec(header);
  if (!match) return undefined;
  const specs = (match[1] ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (specs.length !== 1) return undefined;
  const spec = /^(\d*)-(\d*)$/.exec(specs[0] ?? '');
  if (!spec) return undefined;
  const [, first = '', last = ''] = spec;
  if (first === '' && last === '') return undefined;

  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (last !== '' && Number(last) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  return { start, end };
}
