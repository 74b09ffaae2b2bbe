import { z } from 'zod';

/**
 * Every configuration key: its INI section and name, the environment variables that
 * override it (the reference's names first), its default, what it means, and how it is
 * checked. config/server.ini documents the same table (a unit test keeps them in step).
 */
export interface KeyDef {
  readonly section: string;
  readonly key: string;
  readonly env: readonly string[];
  readonly default: string;
  readonly doc: string;
  readonly schema: z.ZodType;
}

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .refine((s) => ['true', 'false', 'on', 'off', 'yes', 'no', '1', '0'].includes(s), 'expected true/false, on/off, yes/no or 1/0')
  .transform((s) => ['true', 'on', 'yes', '1'].includes(s));

/**
 * A whole number from `min` (up to `max`). Every refusal (not a number, a fraction, below
 * the minimum, above the maximum) states the same full range, so the message never
 * suggests a value that would be refused too.
 */
function wholeNumber(min: number, max?: number) {
  const expected = max === undefined ? `expected a whole number, ${min} or more` : `expected a whole number from ${min} to ${max}`;
  return z
    .string()
    .trim()
    .regex(/^\d+$/, expected)
    .transform(Number)
    .refine((n) => n >= min && (max === undefined || n <= max), { message: expected, abort: true })
    .refine(Number.isSafeInteger, `${expected} (at most ${Number.MAX_SAFE_INTEGER})`);
}

/** A decimal number (seconds, a factor) of at least `min`, or above it when `above`; the message says which. */
function decimal(what: string, min: number, above = false) {
  const expected = `expected ${what}, ${above ? `more than ${min}` : `${min} or more`}`;
  return z
    .string()
    .trim()
    .regex(/^\d+(\.\d+)?$/, expected)
    .transform(Number)
    .refine((n) => Number.isFinite(n) && (above ? n > min : n >= min), expected);
}

const nonNegInt = wholeNumber(0);
const positiveInt = wholeNumber(1);
const seconds = decimal('seconds', 0);
const positiveSeconds = decimal('seconds', 0, true);

const url = z
  .string()
  .trim()
  .refine((s) => {
    try {
      const u = new URL(s);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'expected an http:// or https:// URL');

const text = z.string().trim();
const nonEmpty = text.min(1, 'must not be empty');

const def = (
  section: string,
  key: string,
  env: readonly string[],
  dflt: string,
  doc: string,
  schema: z.ZodType,
): KeyDef => ({ section, key, env, default: dflt, doc, schema });

export const KEYS = [
  def('cartd', 'volume_path', ['VOLUME_PATH'], './var/volume', 'Local directory that holds staged files.', nonEmpty),
  def('cartd', 'lru_buffer_time', ['LRU_BUFFER_TIME'], '0', 'Seconds after its last use during which a ready cart is never evicted.', seconds),
  def('cartd', 'lru_purge', ['LRU_PURGE'], 'on', 'Evict least-recently-used ready carts when space is needed (off: never evict).', bool),
  def('cartd', 'transfer_size', ['TRANSFER_SIZE'], '1048576', 'Bytes read or written at a time when pulling and serving files.', positiveInt),
  def('cartd', 'bundle_task', ['BUNDLE_TASK'], 'true', 'Accepted for compatibility; tarballs are always built on the fly.', bool),
  def('cartd', 'volume_max_bytes', ['VOLUME_MAX_BYTES'], '0', 'Cap on bytes staged on the volume (0: only the free space limits).', nonNegInt),
  def('cartd', 'volume_reserve_bytes', ['VOLUME_RESERVE_BYTES'], '268435456', 'Free space always left on the volume filesystem.', nonNegInt),
  def('cartd', 'cart_ttl', ['CART_TTL'], '2592000', 'Seconds a cart may go unused before it is removed (0: never).', seconds),
  def('cartd', 'expiry_interval', ['CART_EXPIRY_INTERVAL'], '3600', 'Seconds between the checks that remove carts unused for cart_ttl.', positiveSeconds),
  def('cartd', 'space_wait', ['SPACE_WAIT'], '300', 'Seconds a file may wait for room held by carts still staging or being downloaded before its cart fails with No Space Available (0: fail at once).', seconds),
  def('cartd', 'concurrency', ['STAGING_CONCURRENCY'], '8', 'Files staged at once by one worker.', positiveInt),
  def('cartd', 'worker_nice', ['WORKER_NICE'], '10', 'Niceness a `cartd worker` process adds to its own (0 to 19; 0: none): hashing and writing give way to the API server on a shared machine, so status calls stay fast.', wholeNumber(0, 19)),
  def('cartd', 'max_body_bytes', ['MAX_BODY_BYTES'], '104857600', 'Largest POST body accepted (bytes); larger is 413.', positiveInt),
  def('cartd', 'max_files', ['MAX_CART_FILES'], '1000000', 'Most files one cart may name.', positiveInt),
  def('cartd', 'cors_origins', ['CORS_ORIGINS'], '', 'Comma-separated origins allowed to call the API from a browser (empty: none; * : any).', text),
  def('archiveinterface', 'url', ['ARCHIVEINTERFACE_URL', 'ARCHIVE_INTERFACE_URL'], 'http://127.0.0.1:8080/', 'Base URL of the archive interface.', url),
  def('archiveinterface', 'timeout', ['ARCHIVE_TIMEOUT'], '30', 'Seconds to wait for the archive to answer or send more bytes.', positiveSeconds),
  def('archiveinterface', 'retries', ['ARCHIVE_RETRIES'], '5', 'Tries per file before a fault (5xx, reset, timeout, short or wrong bytes) fails it.', positiveInt),
  def('archiveinterface', 'retry_delay', ['ARCHIVE_RETRY_DELAY'], '1', 'Seconds before the first retry; doubles each try. Also the pause before asking for the rest of a body that broke off.', seconds),
  def('archiveinterface', 'retry_max_delay', ['ARCHIVE_RETRY_MAX_DELAY'], '60', 'Longest wait between retries, in seconds.', seconds),
  def('archiveinterface', 'max_requests', ['ARCHIVE_MAX_REQUESTS'], '16', 'Most transfers open at the archive at once, across all workers.', positiveInt),
  def('archiveinterface', 'tape_first_delay', ['TAPE_FIRST_DELAY'], '5', 'Seconds after a recall before the first check that the file reached disk.', seconds),
  def('archiveinterface', 'tape_backoff_factor', ['TAPE_BACKOFF_FACTOR'], '2', 'Each later check waits this many times longer.', decimal('a number', 1)),
  def('archiveinterface', 'tape_max_delay', ['TAPE_MAX_DELAY'], '300', 'Longest wait between tape checks, in seconds.', seconds),
  def('archiveinterface', 'tape_time_limit', ['TAPE_TIME_LIMIT'], '86400', 'Seconds a file may stay on tape after its recall before it fails.', seconds),
  def('database', 'url', ['DATABASE_URL', 'PEEWEE_URL'], 'sqlite:///var/cartd.sqlite3', 'SQLite database: sqlite:///relative/path, sqlite:////absolute/path or a plain path.', nonEmpty),
  def('redis', 'url', ['REDIS_URL'], '', 'Redis for BullMQ workers (empty: jobs run inside the server process).', text),
  def('redis', 'prefix', ['REDIS_PREFIX'], 'cartd', 'Prefix of every Redis key cartd writes.', nonEmpty.regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits and _ . : - only')),
  def('server', 'address', ['CARTD_ADDRESS'], '127.0.0.1', 'Address to listen on (-a/--address).', nonEmpty),
  def('server', 'port', ['CARTD_PORT'], '8081', 'Port to listen on (-p/--port; 0 picks a free one).', wholeNumber(0, 65535)),
  def('logging', 'level', ['LOG_LEVEL'], 'info', 'fatal, error, warn, info, debug, trace or silent.', z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])),
] as const satisfies readonly KeyDef[];
