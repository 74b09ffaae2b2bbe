/** Command line of `npm run bench -- [options]`. */
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { RUNNER_NAMES, type RunnerName } from './deployment';
import { WORKLOAD_NAMES } from './workloads';

export const PHASE_NAMES = [...WORKLOAD_NAMES, 'status', 'million'] as const;
export type PhaseName = (typeof PHASE_NAMES)[number];

export interface BenchOptions {
  readonly workloads: readonly PhaseName[];
  /** Runners of every phase without its own list in `runnersFor`. */
  readonly runners: readonly RunnerName[];
  readonly runnersFor: Partial<Record<PhaseName, readonly RunnerName[]>>;
  /** Scale of every phase without its own in `scaleFor`. */
  readonly scale: number;
  readonly scaleFor: Partial<Record<PhaseName, number>>;
  readonly out: string;
  readonly work: string;
  readonly keep: boolean;
  readonly concurrency: number;
  readonly hashtype: string;
  readonly statusRate: number;
  readonly statusSeconds: number;
  readonly millionCarts: number;
  readonly cpuProf: boolean;
  readonly limitHead: boolean;
  /** Rounds of each workload (limit, then every runner); a runner reports its median round. */
  readonly repeat: number;
}

export const USAGE = `usage: npm run bench -- [options]

  --workload LIST      comma-separated, default all: ${PHASE_NAMES.join(',')}
                       (status: HEAD latency while large carts stage; million: the same
                       with 1,000,000 carts in the database)
  --runner LIST        comma-separated, default all: ${RUNNER_NAMES.join(',')}; a phase may have
                       its own, joined with +: --runner all,wide=embedded,growth=embedded+bullmq1
  --scale X            multiply file counts (and the sizes of large/stream files), default 1;
                       a phase may have its own: --scale 0.25,wide=0.1,growth=0.1 (growth's
                       last point is wide's cart when both have the same scale)
  --out DIR            where latest.json and latest.md go, default bench/results
  --work DIR           scratch folder (archive files, volumes), default a new one in ${os.tmpdir()}
  --keep               keep the scratch folder (logs of every process are in it)
  --concurrency N      files staged at once per cartd process, and by the staging limit, default 8
  --hash NAME          digest of every file (md5, sha1, sha256, ...), default sha1
  --status-rate N      HEAD requests a second in the status phases, default 500
  --status-seconds S   length of each status phase, default 10
  --million-carts N    carts in the database for the million phase, default 1000000
  --cpu-prof           run every cartd process with --cpu-prof; profiles go to OUT/profiles
  --repeat N           measure each workload N times in rounds (its limits, then every runner),
                       and report for each runner its round with the median ratio to the limit,
                       with the lowest and highest ratio of all rounds beside it; default 1
  --limit-head         the staging limit also sends the archive protocol's HEAD before each GET
                       (what cartd must ask to learn size and media), to see what that costs
  -h, --help`;

function list<T extends string>(flag: string, text: string, allowed: readonly T[]): T[] {
  if (text === 'all') return [...allowed];
  const items = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const item of items) if (!(allowed as readonly string[]).includes(item)) throw new Error(`${flag}: unknown ${JSON.stringify(item)} (one of ${allowed.join(', ')})`);
  return items as T[];
}

/** `default,phase=value,...`: the items without `=` and the per-phase ones. */
function perPhase(flag: string, text: string): { base: string; each: Partial<Record<PhaseName, string>> } {
  const base: string[] = [];
  const each: Partial<Record<PhaseName, string>> = {};
  for (const item of text.split(',').map((s) => s.trim())) {
    const eq = item.indexOf('=');
    if (eq < 0) {
      base.push(item);
      continue;
    }
    const phase = item.slice(0, eq) as PhaseName;
    if (!PHASE_NAMES.includes(phase)) throw new Error(`${flag}: unknown phase ${JSON.stringify(phase)} (one of ${PHASE_NAMES.join(', ')})`);
    each[phase] = item.slice(eq + 1);
  }
  return { base: base.join(','), each };
}

function mapEach<T>(each: Partial<Record<PhaseName, string>>, fn: (text: string) => T): Partial<Record<PhaseName, T>> {
  const out: Partial<Record<PhaseName, T>> = {};
  for (const [phase, text] of Object.entries(each) as [PhaseName, string][]) out[phase] = fn(text);
  return out;
}

export function scaleOf(opts: Pick<BenchOptions, 'scale' | 'scaleFor'>, phase: PhaseName): number {
  return opts.scaleFor[phase] ?? opts.scale;
}

export function runnersOf(opts: Pick<BenchOptions, 'runners' | 'runnersFor'>, phase: PhaseName): readonly RunnerName[] {
  return opts.runnersFor[phase] ?? opts.runners;
}

function positive(flag: string, text: string): number {
  const n = number(flag, text, 0);
  if (n === 0) throw new Error(`${flag} must be above 0`);
  return n;
}

function number(flag: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < min) throw new Error(`${flag} must be a number >= ${min} (got ${JSON.stringify(text)})`);
  return n;
}

/** Parse argv (without node and the script); throws with a message naming the bad flag. */
export function parseOptions(argv: readonly string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      workload: { type: 'string', default: 'all' },
      runner: { type: 'string', default: 'all' },
      scale: { type: 'string', default: '1' },
      out: { type: 'string', default: path.join('bench', 'results') },
      work: { type: 'string' },
      keep: { type: 'boolean', default: false },
      concurrency: { type: 'string', default: '8' },
      hash: { type: 'string', default: 'sha1' },
      'status-rate': { type: 'string', default: '500' },
      'status-seconds': { type: 'string', default: '10' },
      'million-carts': { type: 'string', default: '1000000' },
      'cpu-prof': { type: 'boolean', default: false },
      'limit-head': { type: 'boolean', default: false },
      repeat: { type: 'string', default: '1' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return 'help';
  const scales = perPhase('--scale', values.scale);
  const runners = perPhase('--runner', values.runner);
  return {
    workloads: list('--workload', values.workload, PHASE_NAMES),
    runners: list('--runner', runners.base === '' ? 'all' : runners.base, RUNNER_NAMES),
    runnersFor: mapEach(runners.each, (t) => list('--runner', t.replaceAll('+', ','), RUNNER_NAMES)),
    scale: positive('--scale', scales.base === '' ? '1' : scales.base),
    scaleFor: mapEach(scales.each, (t) => positive('--scale', t)),
    out: path.resolve(values.out),
    work: values.work === undefined ? '' : path.resolve(values.work),
    keep: values.keep,
    concurrency: Math.round(number('--concurrency', values.concurrency, 1)),
    hashtype: values.hash,
    statusRate: number('--status-rate', values['status-rate'], 1),
    statusSeconds: number('--status-seconds', values['status-seconds'], 0.1),
    millionCarts: Math.round(number('--million-carts', values['million-carts'], 1)),
    cpuProf: values['cpu-prof'],
    limitHead: values['limit-head'],
    repeat: Math.round(number('--repeat', values.repeat, 1)),
  };
}
