import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'ini';
import { ConfigError, loadConfig, sqlitePathFromUrl } from '../../src/config/config';
import { KEYS } from '../../src/config/keys';

const root = path.resolve(__dirname, '..', '..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'cartd-config-'));
const iniFile = (text: string): string => {
  const f = path.join(tmp, `c${Math.random().toString(36).slice(2)}.ini`);
  writeFileSync(f, text);
  return f;
};

describe('configuration', () => {
  test('built-in defaults serve on 127.0.0.1:8081 with state under ./var', () => {
    const c = loadConfig({ env: {}, cwd: '/srv/x' });
    expect(c.server).toEqual({ address: '127.0.0.1', port: 8081 });
    expect(c.cartd.volumePath).toBe('/srv/x/var/volume');
    expect(c.database.path).toBe('/srv/x/var/cartd.sqlite3');
    expect(c.archive.url).toBe('http://127.0.0.1:8080/');
    expect(c.redis.url).toBe('');
    expect(Object.isFrozen(c.cartd)).toBe(true);
  });

  test('config/server.ini documents every key with its default and environment variables', () => {
    const text = readFileSync(path.join(root, 'config', 'server.ini'), 'utf8');
    const ini = parse(text) as Record<string, Record<string, string>>;
    for (const k of KEYS) {
      expect([k.section, k.key, String(ini[k.section]?.[k.key])]).toEqual([k.section, k.key, k.default]);
      expect(text).toContain(`; env: ${k.env.join(', ')}\n${k.key} = `);
    }
    expect(loadConfig({ file: path.join(root, 'config', 'server.ini'), env: {}, cwd: '/a' })).toEqual(loadConfig({ env: {}, cwd: '/a' }));
  });

  test('the INI file overrides defaults, the environment overrides the file, flags override both', () => {
    const file = iniFile('[cartd]\nvolume_path = /data/vol\nlru_buffer_time = 30\n[archiveinterface]\nurl = http://archive:8080\n[server]\nport = 9000\n');
    const fromFile = loadConfig({ file, env: {} });
    expect([fromFile.cartd.volumePath, fromFile.cartd.lruBufferTime, fromFile.archive.url, fromFile.server.port]).toEqual(['/data/vol', 30, 'http://archive:8080/', 9000]);
    const fromEnv = loadConfig({ file, env: { VOLUME_PATH: '/env/vol', ARCHIVEINTERFACE_URL: 'http://a2:1/', CARTD_PORT: '9100' } });
    expect([fromEnv.cartd.volumePath, fromEnv.archive.url, fromEnv.server.port]).toEqual(['/env/vol', 'http://a2:1/', 9100]);
    const fromFlags = loadConfig({ file, env: { CARTD_PORT: '9100' }, overrides: { 'server.port': '9200' } });
    expect(fromFlags.server.port).toBe(9200);
  });

  test("the reference's names are accepted: ARCHIVE_INTERFACE_URL, PEEWEE_URL and [database] peewee_url", () => {
    expect(loadConfig({ env: { ARCHIVE_INTERFACE_URL: 'http://x:1' } }).archive.url).toBe('http://x:1/');
    expect(loadConfig({ env: { PEEWEE_URL: 'sqliteext:////tmp/p.db' } }).database.path).toBe('/tmp/p.db');
    expect(loadConfig({ file: iniFile('[database]\npeewee_url = sqliteext:////tmp/q.db\n'), env: {} }).database.path).toBe('/tmp/q.db');
  });

  test('a bad value is refused at start with a message naming the key and where it came from', () => {
    const file = iniFile('[cartd]\nlru_purge = maybe\n');
    let err: unknown;
    try {
      loadConfig({ file, env: { VOLUME_MAX_BYTES: '10MB', ARCHIVEINTERFACE_URL: 'ftp://x' } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).toContain('[cartd] volume_max_bytes = "10MB" (environment variable VOLUME_MAX_BYTES): expected a whole number');
    expect(msg).toContain(`[cartd] lru_purge = "maybe" ([cartd] lru_purge in ${file}): expected true/false`);
    expect(msg).toContain('[archiveinterface] url = "ftp://x"');
    expect(() => loadConfig({ file: path.join(tmp, 'missing.ini'), env: {} })).toThrow(/cannot read config file/);
  });

  test('a refused number says the range the key really accepts, whatever was wrong with it', () => {
    const refusal = (section: string, key: string, value: string): string => {
      try {
        loadConfig({ file: iniFile(`[${section}]\n${key} = ${value}\n`), env: {} });
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        const line = (e as Error).message.split('\n').find((l) => l.includes(`[${section}] ${key} = `));
        return line?.slice(line.indexOf('): ') + 3) ?? (e as Error).message;
      }
      throw new Error(`[${section}] ${key} = ${value} was accepted`);
    };
    const messages = (section: string, key: string, values: readonly string[]): string[] => values.map((v) => refusal(section, key, v));
    expect(() => loadConfig({ env: { STAGING_CONCURRENCY: '0' } })).toThrow(
      '[cartd] concurrency = "0" (environment variable STAGING_CONCURRENCY): expected a whole number, 1 or more',
    );
    expect(messages('cartd', 'concurrency', ['0', 'abc', '-1', '1.5', '2e3'])).toEqual(Array(5).fill('expected a whole number, 1 or more'));
    expect(refusal('cartd', 'concurrency', '99999999999999999999')).toBe(`expected a whole number, 1 or more (at most ${Number.MAX_SAFE_INTEGER})`);
    for (const key of ['transfer_size', 'max_body_bytes', 'max_files']) expect(refusal('cartd', key, 'x')).toBe('expected a whole number, 1 or more');
    expect(refusal('archiveinterface', 'retries', 'abc')).toBe('expected a whole number, 1 or more');
    expect(refusal('archiveinterface', 'max_requests', '0')).toBe('expected a whole number, 1 or more');
    expect(refusal('cartd', 'volume_max_bytes', '10MB')).toBe('expected a whole number, 0 or more');
    expect(messages('server', 'port', ['abc', '-1', '70000'])).toEqual(Array(3).fill('expected a whole number from 0 to 65535'));
    expect(messages('cartd', 'expiry_interval', ['0', 'abc'])).toEqual(Array(2).fill('expected seconds, more than 0'));
    expect(messages('archiveinterface', 'timeout', ['0', '-3'])).toEqual(Array(2).fill('expected seconds, more than 0'));
    expect(messages('archiveinterface', 'tape_backoff_factor', ['0.5', 'x'])).toEqual(Array(2).fill('expected a number, 1 or more'));
    expect(refusal('cartd', 'lru_buffer_time', 'soon')).toBe('expected seconds, 0 or more');
  });

  test('database URLs: relative, absolute, plain path; other databases are refused', () => {
    expect(sqlitePathFromUrl('sqlite:///var/c.db', '/w')).toBe('/w/var/c.db');
    expect(sqlitePathFromUrl('sqlite:////abs/c.db', '/w')).toBe('/abs/c.db');
    expect(sqlitePathFromUrl('rel/c.db', '/w')).toBe('/w/rel/c.db');
    expect(() => sqlitePathFromUrl('postgres://db/cartd', '/w')).toThrow(/only SQLite/);
  });
});
