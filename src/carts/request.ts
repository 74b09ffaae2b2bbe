import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { FileRequest } from '../core/cart';
import { DIGEST_NAMES, findDigest } from '../core/digests';
import { badRequest } from '../core/errors';

/** `[A-Za-z0-9._-]{1,128}`: the uid is a key, never a path on disk. */
export const UID_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;

export function checkUid(uid: string): string {
  if (!UID_PATTERN.test(uid)) {
    throw badRequest(`uid must be 1 to 128 characters of A-Z a-z 0-9 . _ - (got ${JSON.stringify(uid.slice(0, 140))})`, 'uid');
  }
  return uid;
}

const MAX_PATH_BYTES = 4096;

const fileSchema = z.object({
  id: z.union([z.string().min(1, 'must not be empty').max(1024), z.number().int('must be an integer').nonnegative()], {
    error: 'must be a string or an integer',
  }),
  path: z.string({ error: 'must be a string' }),
  hashtype: z.string({ error: 'must be a string' }),
  hashsum: z.string({ error: 'must be a string' }),
});

const bodySchema = z.object({
  fileids: z.array(z.unknown(), { error: 'must be a list of files' }).min(1, 'must list at least one file'),
  bundle: z.unknown().optional(),
});

/** Strip the leading `/` (reference), drop empty and `.` segments, refuse what could escape or confuse readers. */
export function normalisePath(raw: string, field: string): string {
  if (raw.includes('\0')) throw badRequest(`${field} must not contain NUL`, field);
  if (raw.includes('\\')) throw badRequest(`${field} must not contain a backslash`, field);
  // eslint-disable-next-line no-control-regex
  if (/[\x01-\x1f\x7f]/.test(raw)) throw badRequest(`${field} must not contain control characters`, field);
  const segments = raw.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) throw badRequest(`${field} must not contain '..' segments`, field);
  if (segments.length === 0) throw badRequest(`${field} must name a file`, field);
  const path = segments.join('/');
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) throw badRequest(`${field} is longer than ${MAX_PATH_BYTES} bytes`, field);
  return path;
}

function fieldName(issuePath: readonly PropertyKey[]): string {
  return issuePath.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)), '');
}

/** The value at `at` inside `input`, to tell a missing field from a wrongly typed one. */
function valueAt(input: unknown, at: readonly PropertyKey[]): unknown {
  let v = input;
  for (const key of at) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

function zodFail(error: z.ZodError, input: unknown, prefix: readonly PropertyKey[]): never {
  const issue = error.issues[0]!;
  const field = fieldName([...prefix, ...issue.path]) || 'body';
  const missing = issue.path.length > 0 && valueAt(input, issue.path) === undefined;
  throw badRequest(`${field} ${missing ? 'is required' : issue.message}`, field);
}

function parseFile(raw: unknown, i: number): FileRequest {
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw badRequest(`fileids[${i}] must be an object with id, path, hashtype and hashsum`, `fileids[${i}]`);
    zodFail(parsed.error, raw, ['fileids', i]);
  }
  const f = parsed.data;
  const digest = findDigest(f.hashtype);
  if (!digest) throw badRequest(`fileids[${i}].hashtype ${JSON.stringify(f.hashtype)} is not known; use one of ${DIGEST_NAMES.join(', ')}`, `fileids[${i}].hashtype`);
  const hashsum = f.hashsum.toLowerCase();
  if (!/^[0-9a-f]*$/.test(hashsum) || hashsum.length !== digest.hexLength) {
    throw badRequest(`fileids[${i}].hashsum must be ${digest.hexLength} hex digits for ${digest.name}`, `fileids[${i}].hashsum`);
  }
  return { archiveId: String(f.id), path: normalisePath(f.path, `fileids[${i}].path`), hashtype: digest.name, hashsum };
}

/** A path may not appear twice, nor be both a file and a folder of another entry. */
function checkTree(files: readonly FileRequest[]): void {
  const seen = new Map<string, number>();
  for (const [i, f] of files.entries()) {
    const before = seen.get(f.path);
    if (before !== undefined) throw badRequest(`fileids[${i}].path ${JSON.stringify(f.path)} repeats fileids[${before}].path`, `fileids[${i}].path`);
    seen.set(f.path, i);
  }
  for (const [i, f] of files.entries()) {
    for (let cut = f.path.indexOf('/'); cut !== -1; cut = f.path.indexOf('/', cut + 1)) {
      const j = seen.get(f.path.slice(0, cut));
      if (j !== undefined) {
        throw badRequest(`fileids[${j}].path ${JSON.stringify(files[j]!.path)} is a file but fileids[${i}].path puts a file inside it`, `fileids[${j}].path`);
      }
    }
  }
}

export interface CartRequest {
  readonly files: readonly FileRequest[];
  /** Same files in the same order, same digest: an identical re-POST. */
  readonly digest: string;
}

/** Validate a POST body (already JSON-parsed); every error names the field at fault. */
export function parseCartRequest(body: unknown, maxFiles: number): CartRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('body must be a JSON object with a "fileids" list', 'body');
  const parsed = bodySchema.safeParse(body);
  if (!parsed.success) zodFail(parsed.error, body, []);
  const list = parsed.data.fileids;
  if (list.length > maxFiles) throw badRequest(`fileids lists ${list.length} files; at most ${maxFiles} are allowed`, 'fileids');
  const files = list.map(parseFile);
  checkTree(files);
  const digest = createHash('sha256');
  for (const f of files) digest.update(JSON.stringify([f.archiveId, f.path, f.hashtype, f.hashsum]));
  return { files, digest: digest.digest('hex') };
}
