/**
 * A fixed-rate (open-loop) HEAD load generator on keep-alive sockets. Request i is due at
 * start + i/rate and is sent then whatever happened to earlier ones, so a slow answer
 * cannot hold back the load (no coordinated omission). Two latencies per request:
 * `fromDue` (from when it was due: what a client at that rate sees, including any
 * lateness of this process) and `fromSend` (from when it left: the server's share).
 * No dependency: a few dozen lines do what autocannon would, at a fixed rate.
 */
import http from 'node:http';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

export interface LoadOptions {
  readonly base: string;
  /** Path of request i (e.g. a cart uid). */
  readonly pathOf: (i: number) => string;
  readonly rate: number;
  readonly seconds: number;
  /** Stop early once this resolves (the requests sent so far are still counted). */
  readonly until?: Promise<unknown>;
}

export interface Percentiles {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export interface LoadResult {
  readonly requests: number;
  readonly seconds: number;
  /** Answers other than 204 (or connection errors). */
  readonly errors: number;
  /** How many of each answer: status code, or `error CODE` for a failed connection. */
  readonly answers: Record<string, number>;
  readonly achievedRate: number;
  /** Milliseconds. */
  readonly fromDue: Percentiles;
  readonly fromSend: Percentiles;
  /** Event-loop delay of this (the load generator's) process, ms: large values mean the client, not the server, was late. */
  readonly clientLoopDelay: Percentiles;
}

export function percentiles(values: Float64Array | number[]): Percentiles {
  const sorted = Float64Array.from(values).sort();
  if (sorted.length === 0) return { p50: 0, p99: 0, max: 0 };
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number;
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] as number };
}

export function fixedRateHeads(opts: LoadOptions): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const total = Math.max(1, Math.round(opts.rate * opts.seconds));
  const fromDue = new Float64Array(total);
  const fromSend = new Float64Array(total);
  const url = new URL(opts.base);
  let sent = 0;
  let done = 0;
  let errors = 0;
  const answers: Record<string, number> = {};
  const count = (key: string): void => {
    answers[key] = (answers[key] ?? 0) + 1;
  };
  let stopped = false;
  void opts.until?.then(() => (stopped = true));
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  loopDelay.enable();
  const t0 = performance.now();
  return new Promise<LoadResult>((resolve) => {
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      agent.destroy();
      loopDelay.disable();
      const n = done;
      resolve({
        requests: n,
        seconds: (performance.now() - t0) / 1000,
        errors,
        answers,
        achievedRate: n / ((performance.now() - t0) / 1000),
        fromDue: percentiles(fromDue.subarray(0, n)),
        fromSend: percentiles(fromSend.subarray(0, n)),
        clientLoopDelay: { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
      });
    };
    const settle = (): void => {
      done++;
      if (done === sent && (sent === total || stopped)) finish();
    };
    const fire = (i: number, due: number, retry = false): void => {
      const sentAt = performance.now();
      const req = http.request({ host: url.hostname, port: url.port, path: `/${opts.pathOf(i)}`, method: 'HEAD', agent }, (res) => {
        res.resume();
        res.on('end', () => {
          const now = performance.now();
          // Slot by completion order: the arrays hold every finished request's numbers.
          fromDue[done] = now - due;
          fromSend[done] = now - sentAt;
          if (res.statusCode !== 204) errors++;
          count(String(res.statusCode));
          settle();
        });
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        // A kept-alive socket the server closed as idle just as this request went out: sent
        // again once on a new socket, as Node's documentation advises (its time still counts).
        if (!retry && req.reusedSocket && err.code === 'ECONNRESET') {
          fire(i, due, true);
          return;
        }
        const now = performance.now();
        fromDue[done] = now - due;
        fromSend[done] = now - sentAt;
        errors++;
        count(`error ${err.code ?? err.message}`);
        settle();
      });
      req.end();
    };
    const tick = (): void => {
      const due = stopped ? sent : Math.min(total, Math.floor(((performance.now() - t0) * opts.rate) / 1000) + 1);
      while (sent < due) {
        fire(sent, t0 + (sent * 1000) / opts.rate);
        sent++;
      }
      if (sent < total && !stopped) setTimeout(tick, 1);
      else if (done === sent) finish();
    };
    tick();
  });
}
