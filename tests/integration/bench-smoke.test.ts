/**
 * `npm run bench` keeps working: the built runner (dist/bench/run.js, compiled by
 * globalSetup) at a tiny scale, embedded runner only, then every figure and ratio of its
 * JSON result must be a finite number and the Markdown table must be written. No figure is
 * compared with a target here: the benchmark reports targets, tests never time anything.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cpuSeconds } from '../../bench/cpu';

const ROOT = path.resolve(__dirname, '..', '..');

/** Paths (a.b.c) of every value under `obj` that is not a finite number, among the keys asked for. */
function notFinite(obj: Record<string, unknown>, keys: readonly string[], at: string): string[] {
  return keys.filter((k) => typeof obj[k] !== 'number' || !Number.isFinite(obj[k])).map((k) => `${at}.${k} = ${JSON.stringify(obj[k])}`);
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (typeof v === 'object' && v !== null ? (v as Json) : {});

let out: string;
let results: Json;
let table: string;

beforeAll(() => {
  out = mkdtempSync(path.join(os.tmpdir(), 'bench-smoke-'));
  const args = ['--workload', 'small,large,status,million', '--runner', 'embedded', '--scale', '0.001', '--status-seconds', '0.5', '--million-carts', '2000', '--out', out];
  const r = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'bench', 'run.js'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 110_000 });
  if (r.status !== 0) throw new Error(`bench exited ${r.status ?? r.signal}:\n${r.stderr.slice(-4000)}`);
  results = JSON.parse(readFileSync(path.join(out, 'latest.json'), 'utf8')) as Json;
  table = readFileSync(path.join(out, 'latest.md'), 'utf8');
}, 120_000);

afterAll(() => {
  if (out) rmSync(out, { recursive: true, force: true });
});

test('CPU time read from /proc for a process is what the process itself counts', () => {
  const before = cpuSeconds(process.pid);
  const own = process.cpuUsage();
  let spin = 0;
  for (let until = performance.now() + 400; performance.now() < until; ) spin += 1;
  const used = process.cpuUsage(own);
  expect(spin).toBeGreaterThan(0);
  expect(before).toBeDefined();
  // USER_HZ ticks: 10 ms each, rounded down on both readings.
  expect((cpuSeconds(process.pid) ?? Number.NaN) - (before ?? Number.NaN)).toBeCloseTo((used.user + used.system) / 1e6, 1);
  expect(cpuSeconds(2 ** 22 + 1)).toBeUndefined(); // no such process
});

test('the run names the machine and the raw limits it measured', () => {
  const machine = obj(results.machine);
  expect(typeof machine.cpuModel).toBe('string');
  expect(notFinite(machine, ['cores', 'memoryBytes', 'diskFreeBytes', 'loadAvg1'], 'machine')).toEqual([]);
  expect(machine.node).toBe(process.version);
  expect(notFinite(obj(results.rawLimits), ['hashMBps', 'syncWriteMBps', 'fsyncsPerSec'], 'rawLimits')).toEqual([]);
  expect(results.errors).toEqual([]);
});

test('each workload has its limits and an embedded run whose every figure and ratio is a finite number', () => {
  const workloads = obj(results.workloads);
  expect(Object.keys(workloads).sort()).toEqual(['large', 'small']);
  const bad: string[] = [];
  for (const [name, w] of Object.entries(workloads)) {
    bad.push(...notFinite(obj(obj(w).stageLimit), ['seconds', 'filesPerSec', 'MBps', 'rssBytes', 'cpuSeconds', 'archiveCpuSeconds'], `${name}.stageLimit`));
    bad.push(...notFinite(obj(obj(w).downloadLimit), ['seconds', 'MBps', 'rssBytes'], `${name}.downloadLimit`));
    const runs = obj(w).runs as Json[];
    expect(runs.map((r) => [r.runner, r.status])).toEqual([['embedded', 'ok']]);
    const run = runs[0] as Json;
    bad.push(...notFinite(run, ['acceptSeconds', 'readySeconds', 'filesPerSec', 'MBps', 'downloadSeconds', 'downloadMBps', 'tarBytes', 'peakRssBytes', 'cpuSeconds'], `${name}.embedded`));
    bad.push(...notFinite(obj(obj(run.cpu).cartd), ['api'], `${name}.embedded.cpu.cartd`));
    bad.push(...notFinite(obj(run.cpu), ['archive'], `${name}.embedded.cpu`));
    bad.push(...notFinite(obj(run.limit), ['stageSeconds', 'downloadMBps', 'cpuSeconds', 'archiveCpuSeconds'], `${name}.embedded.limit`));
    bad.push(...notFinite(obj(run.ratios), ['ready', 'filesPerSec', 'MBps', 'download', 'rss'], `${name}.embedded.ratios`));
    for (const phase of ['idle', 'stage', 'download']) bad.push(...notFinite(obj(obj(run.rss)[phase]), ['api'], `${name}.embedded.rss.${phase}`));
    // The tar holds every file byte plus headers: more than the files, checked against Content-Length by the client.
    expect(run.tarBytes as number).toBeGreaterThan(obj(w).bytes as number);
  }
  expect(bad).toEqual([]);
});

test('status under load: the limit and both phases have finite latencies and ratios', () => {
  const status = obj(results.status);
  const bad: string[] = [];
  for (const key of ['fromDue', 'fromSend']) bad.push(...notFinite(obj(obj(status.limit)[key]), ['p50', 'p99', 'max'], `status.limit.${key}`));
  const runs = status.runs as Json[];
  expect(runs.map((r) => [r.phase, r.runner, r.cartsInDb])).toEqual([
    ['staging', 'embedded', 0],
    ['million', 'embedded', 2000],
  ]);
  for (const r of runs) {
    bad.push(...notFinite(r, ['startSeconds', 'cartsStaged', 'peakRssBytes', 'p99Ratio'], `status.${r.phase}`));
    bad.push(...notFinite(obj(r.load), ['requests', 'achievedRate'], `status.${r.phase}.load`));
    for (const key of ['fromDue', 'fromSend', 'clientLoopDelay']) bad.push(...notFinite(obj(obj(r.load)[key]), ['p50', 'p99', 'max'], `status.${r.phase}.${key}`));
    expect(obj(r.load).requests).toBe(250);
  }
  expect(bad).toEqual([]);
});

test('every target has a finite measured value, and the Markdown table shows each workload and target', () => {
  const targets = results.targets as Json[];
  expect(targets.map((t) => t.what)).toEqual(
    expect.arrayContaining(['large: time to ready / staging limit', 'large: download / download limit', 'small: time to ready / staging limit']),
  );
  expect(targets.filter((t) => typeof t.value !== 'number' || !Number.isFinite(t.value))).toEqual([]);
  expect(table).toContain('| small | embedded |');
  expect(table).toContain('| large | embedded |');
  expect(table).toContain('### CPU while staging');
  expect(table).toMatch(/Machine: .*cores.*GiB RAM, Node v\d+/);
  for (const t of targets) expect(table).toContain(String(t.what));
});

test('--repeat 3: each runner reports its median round, with the ratios of all three', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-repeat-'));
  try {
    const args = ['--workload', 'small', '--runner', 'embedded', '--scale', '0.001', '--repeat', '3', '--out', dir];
    const r = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'bench', 'run.js'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 110_000 });
    if (r.status !== 0) throw new Error(`bench exited ${r.status ?? r.signal}:\n${r.stderr.slice(-4000)}`);
    expect(r.stderr.match(/small \(round \d\/3\): staging limit \d/g)).toHaveLength(3);
    const repeated = JSON.parse(readFileSync(path.join(dir, 'latest.json'), 'utf8')) as Json;
    const run = (obj(obj(repeated.workloads).small).runs as Json[])[0] as Json;
    const rounds = obj(run.rounds).ready as number[];
    expect(rounds).toHaveLength(3);
    expect(rounds.every(Number.isFinite)).toBe(true);
    const ready = obj(run.ratios).ready as number;
    expect(ready).toBe([...rounds].sort((a, b) => a - b)[1]);
    // The ratio is to the limit of the same round.
    expect(ready).toBeCloseTo((run.readySeconds as number) / (obj(run.limit).stageSeconds as number), 6);
    const md = readFileSync(path.join(dir, 'latest.md'), 'utf8');
    expect(md).toContain('--repeat 3');
    expect(md).toMatch(/\| small \| embedded \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+x \([\d.]+-[\d.]+\) \|/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
