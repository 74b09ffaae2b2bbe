/**
 * The README's configuration table is what users read: it must name every key the code
 * knows (src/config/keys.ts), in its section, with its environment variables and default,
 * and nothing the code no longer knows.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { KEYS } from '../../src/config/keys';

const root = path.resolve(__dirname, '..', '..');

interface Row {
  readonly section: string;
  readonly key: string;
  readonly env: string;
  readonly default: string;
}

/** The rows of the table under `## Configuration`, by `section.key`; throws if the section is missing. */
function configRows(readme: string): Map<string, Row[]> {
  const start = readme.search(/^## Configuration$/m);
  if (start < 0) throw new Error('README.md has no "## Configuration" section');
  const rest = readme.slice(start + 1);
  const end = rest.search(/^## /m);
  const section = end < 0 ? rest : rest.slice(0, end);
  const rows = new Map<string, Row[]>();
  for (const line of section.split('\n')) {
    // | [section] | `key` | `ENV`, `ENV2` | `default` | meaning |
    const m = /^\|\s*\[([^\]]+)\]\s*\|\s*`([^`]+)`\s*\|([^|]*)\|([^|]*)\|/.exec(line);
    if (!m) continue;
    const row: Row = { section: m[1]!, key: m[2]!, env: m[3]!.trim(), default: m[4]!.trim() };
    const id = `${row.section}.${row.key}`;
    rows.set(id, [...(rows.get(id) ?? []), row]);
  }
  return rows;
}

describe('README.md configuration table', () => {
  const rows = configRows(readFileSync(path.join(root, 'README.md'), 'utf8'));

  test('has a row with the section and `key` of every configuration key', () => {
    const missing = KEYS.filter((k) => !rows.has(`${k.section}.${k.key}`)).map((k) => `[${k.section}] ${k.key}`);
    expect(missing).toEqual([]);
  });

  test('gives each key its environment variables and default', () => {
    const wrong: string[] = [];
    for (const k of KEYS) {
      const env = k.env.map((e) => `\`${e}\``).join(', ');
      const dflt = `\`${k.default}\``;
      for (const row of rows.get(`${k.section}.${k.key}`) ?? []) {
        if (row.env !== env) wrong.push(`[${k.section}] ${k.key}: env ${row.env} should be ${env}`);
        if (row.default !== dflt) wrong.push(`[${k.section}] ${k.key}: default ${row.default} should be ${dflt}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  test('lists each key once and no key the code does not know', () => {
    const known = new Set(KEYS.map((k) => `${k.section}.${k.key}`));
    const unknown = [...rows.keys()].filter((id) => !known.has(id));
    const repeated = [...rows].filter(([, r]) => r.length > 1).map(([id]) => id);
    expect({ unknown, repeated }).toEqual({ unknown: [], repeated: [] });
  });
});
