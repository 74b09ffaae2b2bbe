/** The download's file name, its root folder, and the Content-Disposition that carries it. */

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** The reference's default, `data_YYYY_MM_DD_HH_MM_SS.tar`, in local time as its strftime does. */
export function defaultTarName(now: Date): string {
  const date = [now.getFullYear(), pad2(now.getMonth() + 1), pad2(now.getDate())].join('_');
  const time = [pad2(now.getHours()), pad2(now.getMinutes()), pad2(now.getSeconds())].join('_');
  return `data_${date}_${time}.tar`;
}

/**
 * The folder every member sits in: the file name without `.tar` (or `.zip`), as the
 * reference does (`?filename=38` gives `38/...`). The name comes from the query string, so
 * anything that would make it a path (`/`, `\`, NUL, `.`, `..`) is neutralised: members
 * must never land outside the folder a user extracts into.
 */
export function bundleRootName(filename: string): string {
  const root = filename.replace(/\.(tar|zip)$/i, '').replace(/[/\\\0]/g, '_');
  return root === '' || root === '.' || root === '..' ? 'data' : root;
}

/** RFC 5987 attr-char: everything else is percent-encoded from UTF-8. */
const ATTR_CHAR = /[A-Za-z0-9!#$&+\-.^_`|~]/;

function percentEncode(value: string): string {
  let out = '';
  for (const ch of value) {
    if (ATTR_CHAR.test(ch)) out += ch;
    else for (const byte of Buffer.from(ch, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * `attachment; filename=NAME.tar` exactly as the reference sends it for plain names.
 * Otherwise (RFC 6266) a quoted ASCII fallback plus `filename*=UTF-8''...` carrying the real
 * name. Following RFC 6266 appendix D the fallback replaces, rather than escapes, `"`, `\`
 * and `%` (user agents disagree on unescaping) as well as non-ASCII and control characters.
 * The result is pure ASCII: Node throws on a header value holding anything else.
 */
export function contentDisposition(filename: string): string {
  if (/^[A-Za-z0-9._-]+$/.test(filename)) return `attachment; filename=${filename}`;
  const fallback = filename.replace(/[^\x20-\x7e]|["\\%]/gu, '_');
  const header = `attachment; filename="${fallback}"`;
  return fallback === filename ? header : `${header}; filename*=UTF-8''${percentEncode(filename)}`;
}
