import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse as parseIni } from 'ini';
import { KEYS, type KeyDef } from './keys';

/** The validated, typed, frozen configuration every other part receives. */
export interface Config {
  readonly cartd: {
    readonly volumePath: string;
    readonly lruBufferTime: number;
    readonly lruPurge: boolean;
    readonly transferSize: number;
    readonly bundleTask: boolean;
    readonly volumeMaxBytes: number;
    readonly volumeReserveBytes: number;
    readonly cartTtl: number;
    readonly expiryIntervalMs: number;
    readonly spaceWaitMs: number;
    readonly concurrency: number;
    readonly workerNice: number;
    readonly maxBodyBytes: number;
    readonly maxFiles: number;
    readonly corsOrigins: readonly string[];
  };
  readonly archive: {
    readonly url: string;
    readonly timeoutMs: number;
    readonly retries: number;
    readonly retryDelayMs: number;
    readonly retryMaxDelayMs: number;
    readonly maxRequests: number;
    readonly tapeFirstDelayMs: number;
    readonly tapeBackoffFactor: number;
    readonly tapeMaxDelayMs: number;
    readonly tapeTimeLimitMs: number;
  };
  readonly database: { readonly path: string };
  readonly redis: { readonly url: string; readonly prefix: string };
  readonly server: { readonly address: string; readonly port: number };
  readonly logging: { readonly level: string };
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface LoadOptions {
  /** INI file to read; its keys override the defaults. */
  readonly file?: string;
  /** Environment; its variables override the file. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Last word (command-line flags), as `section.key` -> text. */
  readonly overrides?: Readonly<Record<string, string | undefined>>;
  /** Folder relative paths resolve against (default: the current directory). */
  readonly cwd?: string;
}

type Raw = Record<string, Record<string, unknown>>;

function readIni(file: string): Raw {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  return parseIni(text) as Raw;
}

/** The reference names the database `peewee_url`; accept it beside `url`. */
const INI_ALIASES: Readonly<Record<string, string>> = { 'database.peewee_url': 'database.url' };

function rawValue(def: KeyDef, ini: Raw, opts: LoadOptions): { value: string; from: string } {
  const id = `${def.section}.${def.key}`;
  const override = opts.overrides?.[id];
  if (override !== undefined) return { value: override, from: `option for [${def.section}] ${def.key}` };
  for (const name of def.env) {
    const v = opts.env?.[name];
    if (v !== undefined && v !== '') return { value: v, from: `environment variable ${name}` };
  }
  const section = ini[def.section];
  let v = section?.[def.key];
  if (v === undefined) {
    for (const [alias, target] of Object.entries(INI_ALIASES)) {
      const [s, k] = alias.split('.') as [string, string];
      if (target === id && ini[s]?.[k] !== undefined) v = ini[s]?.[k];
    }
  }
  if (v !== undefined) return { value: String(v), from: `[${def.section}] ${def.key} in ${opts.file}` };
  return { value: def.default, from: `default of [${def.section}] ${def.key}` };
}

/** `sqlite:///rel`, `sqliteext:///rel`, `sqlite:////abs`, or a plain path. */
export function sqlitePathFromUrl(url: string, cwd: string): string {
  const m = /^sqlite(?:ext)?:\/\/\/(.*)$/.exec(url);
  if (url.includes('://') && !m) {
    throw new ConfigError(`[database] url: only SQLite is supported (sqlite:///path), got ${url}`);
  }
  const p = m ? m[1]! : url;
  if (p === '' || p === ':memory:') return ':memory:';
  return path.resolve(cwd, p);
}

/** Read defaults, then the INI file, then the environment, then overrides; validate all. */
export function loadConfig(opts: LoadOptions = {}): Config {
  const cwd = opts.cwd ?? process.cwd();
  const ini = opts.file ? readIni(opts.file) : {};
  const values = new Map<string, unknown>();
  const problems: string[] = [];
  for (const def of KEYS) {
    const { value, from } = rawValue(def, ini, opts);
    const parsed = def.schema.safeParse(value);
    if (parsed.success) values.set(`${def.section}.${def.key}`, parsed.data);
    else problems.push(`[${def.section}] ${def.key} = ${JSON.stringify(value)} (${from}): ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  }
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  const get = <T>(id: string): T => values.get(id) as T;
  const ms = (id: string): number => Math.round(get<number>(id) * 1000);
  const config: Config = {
    cartd: {
      volumePath: path.resolve(cwd, get<string>('cartd.volume_path')),
      lruBufferTime: get('cartd.lru_buffer_time'),
      lruPurge: get('cartd.lru_purge'),
      transferSize: get('cartd.transfer_size'),
      bundleTask: get('cartd.bundle_task'),
      volumeMaxBytes: get('cartd.volume_max_bytes'),
      volumeReserveBytes: get('cartd.volume_reserve_bytes'),
      cartTtl: get('cartd.cart_ttl'),
      expiryIntervalMs: ms('cartd.expiry_interval'),
      spaceWaitMs: ms('cartd.space_wait'),
      concurrency: get('cartd.concurrency'),
      workerNice: get('cartd.worker_nice'),
      maxBodyBytes: get('cartd.max_body_bytes'),
      maxFiles: get('cartd.max_files'),
      corsOrigins: get<string>('cartd.cors_origins')
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    },
    archive: {
      url: get<string>('archiveinterface.url').replace(/\/*$/, '/'),
      timeoutMs: ms('archiveinterface.timeout'),
      retries: get('archiveinterface.retries'),
      retryDelayMs: ms('archiveinterface.retry_delay'),
      retryMaxDelayMs: ms('archiveinterface.retry_max_delay'),
      maxRequests: get('archiveinterface.max_requests'),
      tapeFirstDelayMs: ms('archiveinterface.tape_first_delay'),
      tapeBackoffFactor: get('archiveinterface.tape_backoff_factor'),
      tapeMaxDelayMs: ms('archiveinterface.tape_max_delay'),
      tapeTimeLimitMs: ms('archiveinterface.tape_time_limit'),
    },
    database: { path: sqlitePathFromUrl(get('database.url'), cwd) },
    redis: { url: get('redis.url'), prefix: get('redis.prefix') },
    server: { address: get('server.address'), port: get('server.port') },
    logging: { level: get('logging.level') },
  };
  return deepFreeze(config);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
