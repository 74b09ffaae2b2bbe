/**
 * Read a V8 .cpuprofile (from `npm run bench -- --cpu-prof`) and print where the time went:
 * self time and total (inclusive) time per function, heaviest first.
 *
 *   node dist/bench/cpu-profile.js bench/results/profiles/<run>/CPU....cpuprofile [--top 30] [--filter TEXT]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface Row {
  readonly name: string;
  readonly selfMs: number;
  readonly totalMs: number;
}

function label(n: ProfileNode): string {
  const { functionName, url, lineNumber } = n.callFrame;
  const file = url === '' ? '' : ` ${url.replace(/^file:\/\//, '').split(`${path.sep}node_modules${path.sep}`).pop()?.replace(process.cwd() + path.sep, '')}:${lineNumber + 1}`;
  return `${functionName || '(anonymous)'}${file}`;
}

/** Self and inclusive milliseconds per function label (recursion counted once per sample). */
export function summarize(profile: Profile): { rows: Row[]; wallMs: number; sampledMs: number } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let sampledMs = 0;
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    sampledMs += ms;
    const leaf = byId.get(id);
    if (!leaf) return;
    self.set(label(leaf), (self.get(label(leaf)) ?? 0) + ms);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = byId.get(at);
      if (!node) break;
      const l = label(node);
      if (seen.has(l)) continue;
      seen.add(l);
      total.set(l, (total.get(l) ?? 0) + ms);
    }
  });
  const rows = [...total.entries()].map(([name, totalMs]) => ({ name, selfMs: self.get(name) ?? 0, totalMs }));
  return { rows, wallMs: (profile.endTime - profile.startTime) / 1000, sampledMs };
}

function main(argv: readonly string[]): void {
  const { values, positionals } = parseArgs({ args: [...argv], options: { top: { type: 'string', default: '30' }, filter: { type: 'string' } }, allowPositionals: true });
  const top = Number(values.top);
  for (const file of positionals) {
    const { rows, wallMs, sampledMs } = summarize(JSON.parse(readFileSync(file, 'utf8')) as Profile);
    const shown = values.filter === undefined ? rows : rows.filter((r) => r.name.includes(values.filter as string));
    const idle = rows.find((r) => r.name.startsWith('(idle)'))?.selfMs ?? 0;
    process.stdout.write(`${file}\n  wall ${wallMs.toFixed(0)} ms, sampled ${sampledMs.toFixed(0)} ms, idle ${idle.toFixed(0)} ms\n`);
    process.stdout.write('\n  self ms   function\n');
    for (const r of [...shown].sort((a, b) => b.selfMs - a.selfMs).slice(0, top)) process.stdout.write(`  ${r.selfMs.toFixed(0).padStart(7)}   ${r.name}\n`);
    process.stdout.write('\n  total ms  function\n');
    for (const r of [...shown].sort((a, b) => b.totalMs - a.totalMs).slice(0, top)) process.stdout.write(`  ${r.totalMs.toFixed(0).padStart(7)}   ${r.name}\n`);
  }
}

if (require.main === module) main(process.argv.slice(2));
