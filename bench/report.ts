/** bench/results/latest.md: the tables the README shows, from latest.json's figures. */
import type { BenchResults } from './results';

const MB = 1e6;

function fmt(n: number, digits = 2): string {
  if (!Number.isFinite(n)) return 'n/a';
  if (Math.abs(n) >= 100) return n.toFixed(0);
  if (Math.abs(n) >= 10) return n.toFixed(Math.min(digits, 1));
  return n.toFixed(digits);
}

const x = (n: number): string => (Number.isFinite(n) ? `${fmt(n)}x` : 'n/a');

/** A ratio, and with --repeat the lowest and highest of all rounds: `1.92x (1.83-2.33)`. */
function withRounds(n: number, rounds: readonly number[] | undefined): string {
  const seen = (rounds ?? []).filter(Number.isFinite);
  if (seen.length < 2) return x(n);
  return `${x(n)} (${fmt(Math.min(...seen))}-${fmt(Math.max(...seen))})`;
}

function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => ' --- ').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export function markdown(r: BenchResults): string {
  const m = r.machine;
  const out: string[] = [];
  // The command line that reproduces the run: per-phase scales and runners after the default.
  const each = (m: Partial<Record<string, unknown>>): string => Object.entries(m).map(([k, v]) => `,${k}=${Array.isArray(v) ? v.join('+') : String(v)}`).join('');
  const runners = Object.keys(r.options.runnersFor).length > 0 ? ` --runner ${r.options.runners.join(',')}${each(r.options.runnersFor)}` : '';
  const limitHead = r.options.limitHead ? ' --limit-head' : '';
  const repeat = r.options.repeat > 1 ? ` --repeat ${r.options.repeat}` : '';
  out.push(`## Benchmark (\`npm run bench -- --scale ${r.options.scale}${each(r.options.scaleFor)}${runners}${limitHead}${repeat}\`)`);
  out.push('');
  out.push(
    `Machine: ${m.cpuModel}, ${m.cores} cores, ${(m.memoryBytes / 2 ** 30).toFixed(0)} GiB RAM, Node ${m.node}, ${m.kernel}, ` +
      `${(m.diskFreeBytes / 2 ** 30).toFixed(0)} GiB disk free, load average ${m.loadAvg1.toFixed(1)} at the start. ` +
      `Run ${r.startedAt}, ${fmt(r.wallSeconds / 60, 1)} min. Digest ${r.options.hashtype}; ${r.options.concurrency} files staged at once per cartd process.`,
  );
  out.push(
    `Raw limits measured in the run: ${r.options.hashtype} ${fmt(r.rawLimits.hashMBps, 0)} MB/s on one core; ` +
      `${fmt(r.rawLimits.syncWriteMBps, 0)} MB/s written with fdatasync; ${fmt(r.rawLimits.fsyncsPerSec, 0)} small-file fsyncs/s in series.`,
  );
  out.push('');
  out.push(
    'Every ratio is to a limit measured in the same run on the same files and archive server: the **staging limit** is a bare ' +
      `pipeline that ${r.options.limitHead ? 'sends a HEAD and then GETs' : 'GETs'} each file (same concurrency), hashes it and writes it with fdatasync; the **download limit** sends the same ` +
      'staged files from the volume raw to a socket, no tar. Files are read from the page cache by both sides (read once, untimed, ' +
      'before each timed phase). Downloads GET every cart of the workload at once and check Content-Length. MB = 10^6 bytes; download MB/s counts file bytes.' +
      (r.options.repeat > 1
        ? ` Each workload ran ${r.options.repeat} rounds (its limits, then every runner); a runner's row is its round with the median ratio to that round's limit, and the lowest and highest ratio of all rounds follow in parentheses.`
        : ''),
  );
  out.push('');
  const rows: string[][] = [];
  for (const [name, w] of Object.entries(r.workloads)) {
    for (const run of w.runs) {
      if (run.status !== 'ok') {
        rows.push([name, run.runner, `${run.status}: ${(run.reason ?? '').split('\n')[0]?.slice(0, 80) ?? ''}`, ...Array<string>(9).fill('')]);
        continue;
      }
      rows.push([
        name, run.runner, fmt(run.acceptSeconds), fmt(run.readySeconds), fmt(run.limit.stageSeconds), withRounds(run.ratios.ready, run.rounds?.ready),
        fmt(run.filesPerSec, 0), fmt(run.MBps, 0), fmt(run.downloadMBps, 0), fmt(run.limit.downloadMBps, 0), withRounds(run.ratios.download, run.rounds?.download),
        fmt(run.peakRssBytes / MB, 0),
      ]);
    }
  }
  out.push('### Workloads');
  out.push('');
  out.push(Object.entries(r.workloads).map(([name, w]) => `- \`${name}\`: ${w.description}`).join('\n'));
  out.push('');
  out.push(table(['workload', 'runner', 'POST s', 'ready s', 'limit s', 'vs limit', 'files/s', 'MB/s', 'download MB/s', 'limit MB/s', 'vs limit', 'peak RSS MB (all cartd)'], rows));
  out.push('');
  out.push('### CPU while staging (user + system seconds, every thread)');
  out.push('');
  out.push(
    'From POST to ready for cartd (all its processes and threads: event loop, file-system pool, transfer threads, garbage ' +
      'collector; Redis not counted), the whole run for the staging limit, and the archive server meanwhile: where the cores went. ' +
      'A ratio near the time ratio says the gap is work done, not waiting.',
  );
  out.push('');
  const cpuRows = Object.entries(r.workloads).flatMap(([name, w]) =>
    w.runs
      .filter((run) => run.status === 'ok')
      .map((run) => [
        name, run.runner, fmt(run.cpuSeconds), fmt((1000 * run.cpuSeconds) / w.files, 3), fmt(run.limit.cpuSeconds), x(run.ratios.cpu),
        fmt(run.cpu.archive), fmt(run.limit.archiveCpuSeconds),
      ]),
  );
  out.push(table(['workload', 'runner', 'cartd CPU s', 'ms per file', 'limit CPU s', 'vs limit', 'archive CPU s (cartd)', 'archive CPU s (limit)'], cpuRows));
  if (r.growth.length > 0) {
    out.push('');
    out.push('### Growth (1 KiB files, one cart)');
    out.push('');
    out.push(
      table(
        ['files', 'runner', 'ready s', 'limit s', 'vs limit', 's per 1k files', 'vs smallest', 'peak RSS MB', 'RSS bytes/file'],
        r.growth.map((g) => [String(g.files), g.runner, fmt(g.readySeconds), fmt(g.limitSeconds), x(g.ratio), fmt(g.secondsPer1k, 3), x(g.perFileVsSmallest), fmt(g.peakRssBytes / MB, 0), fmt(g.rssBytesPerFile, 0)]),
      ),
    );
  }
  if (r.status.runs.length > 0) {
    const lim = r.status.limit;
    out.push('');
    out.push(`### Status under load (HEAD at ${r.options.statusRate}/s for ${r.options.statusSeconds} s while large carts stage)`);
    out.push('');
    out.push(
      `Latency from when each request was due (open loop, keep-alive; a new connection is opened when all are busy). Limit: a bare Node server answering 204, same rate, ` +
        `while the staging limit pulls the same files: p50 ${fmt(lim?.fromDue.p50 ?? Number.NaN)} ms, p99 ${fmt(lim?.fromDue.p99 ?? Number.NaN)} ms. ` +
        `The load generator's own event-loop delay is in latest.json (clientLoopDelay): when it is small, the latency is the server's.`,
    );
    out.push('');
    out.push(
      table(
        ['carts in DB', 'runner', 'requests', 'errors', 'p50 ms', 'p99 ms', 'max ms', 'p99 vs limit', 'p99 ms from send', 'carts staged', 'start s', 'peak RSS MB'],
        r.status.runs.map((s) => [
          String(s.cartsInDb), s.runner, String(s.load.requests), String(s.load.errors), fmt(s.load.fromDue.p50), fmt(s.load.fromDue.p99), fmt(s.load.fromDue.max),
          x(s.p99Ratio), fmt(s.load.fromSend.p99), String(s.cartsStaged), fmt(s.startSeconds), fmt(s.peakRssBytes / MB, 0),
        ]),
      ),
    );
  }
  out.push('');
  out.push('### Targets (issue 7)');
  out.push('');
  out.push(table(['target', 'runner', 'goal', 'measured', 'met'], r.targets.map((t) => [t.what, t.runner, t.goal, `${fmt(t.value)} ${t.unit}`, t.met ? 'yes' : '**no**'])));
  if (r.errors.length > 0) {
    out.push('');
    out.push('### Phases that did not run');
    out.push('');
    for (const e of r.errors) out.push(`- ${e.phase}: ${e.message.split('\n')[0] ?? ''}`);
  }
  out.push('');
  return out.join('\n');
}
