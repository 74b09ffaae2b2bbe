/**
 * Faults of the test archive interface, per file id, and the way a GET body is sent
 * with (or without) one.
 *
 * Faults queue in the order they were added; each request of the fault's method uses
 * the first fault still having attempts left, and uses one attempt of it.
 * `500`, `slow`, `reset` and `hang` act on any request of their method. `truncate`,
 * `corrupt` and `throttle` need bytes to spoil: a GET answered 404 or refused (tape)
 * does not use them up.
 */
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';

export type FaultKind = '500' | 'reset' | 'slow' | 'truncate' | 'corrupt' | 'hang' | 'throttle';
export type FaultMethod = 'GET' | 'HEAD' | 'POST';

export interface FaultOptions {
  /** How many attempts the fault applies to; every attempt when omitted. */
  readonly times?: number;
  /** Which requests it spoils; GET when omitted. */
  readonly on?: FaultMethod;
  /** `slow`: wait before the first byte of the answer (default 60000). */
  readonly delayMs?: number;
  /** `throttle`: send at most this many bytes a second. */
  readonly bytesPerSec?: number;
}

export interface Fault {
  readonly kind: FaultKind;
  readonly on: FaultMethod;
  remaining: number;
  readonly delayMs: number;
  readonly bytesPerSec: number;
}

const FAULT_KINDS: readonly FaultKind[] = ['500', 'reset', 'slow', 'truncate', 'corrupt', 'hang', 'throttle'];
/** Faults that spoil the bytes of a GET answer, and so only apply when there are bytes to send. */
const BODY_FAULTS: ReadonlySet<FaultKind> = new Set<FaultKind>(['truncate', 'corrupt', 'throttle']);
/** How much of the body `reset` and `hang` send before they strike. */
const PARTIAL_BYTES = 64 * 1024;

export class FaultBook {
  private readonly faults = new Map<string, Fault[]>();

  add(id: string, kind: FaultKind, opts: FaultOptions = {}): void {
    if (!FAULT_KINDS.includes(kind)) throw new Error(`unknown fault kind ${JSON.stringify(kind)}`);
    const on = opts.on ?? 'GET';
    if (on !== 'GET' && BODY_FAULTS.has(kind)) throw new Error(`fault ${kind} only applies to GET`);
    const times = opts.times ?? Infinity;
    if (!(times > 0) || (Number.isFinite(times) && !Number.isInteger(times))) throw new Error('times must be a positive integer');
    const bytesPerSec = opts.bytesPerSec ?? 0;
    if (kind === 'throttle' && !(bytesPerSec > 0)) throw new Error('throttle needs bytesPerSec above 0');
    const list = this.faults.get(id) ?? [];
    list.push({ kind, on, remaining: times, delayMs: opts.delayMs ?? 60_000, bytesPerSec });
    this.faults.set(id, list);
  }

  /**
   * The fault for this request, using up one attempt of it. `hasBody`: the request
   * would otherwise be answered with the file's bytes.
   */
  take(id: string, method: string, hasBody: boolean): Fault | undefined {
    const list = this.faults.get(id);
    const index = list?.findIndex((f) => f.on === method) ?? -1;
    const fault = index >= 0 ? list?.[index] : undefined;
    if (list === undefined || fault === undefined) return undefined;
    if (BODY_FAULTS.has(fault.kind) && !hasBody) return undefined;
    fault.remaining -= 1;
    if (fault.remaining <= 0) list.splice(index, 1);
    if (list.length === 0) this.faults.delete(id);
    return fault;
  }

  clear(id?: string): void {
    if (id === undefined) this.faults.clear();
    else this.faults.delete(id);
  }

  pending(id: string): readonly Fault[] {
    return this.faults.get(id) ?? [];
  }
}

export interface BodyPlan {
  readonly file: string;
  readonly start: number;
  /** Bytes the answer declares (Content-Length). */
  readonly length: number;
  readonly fault: Fault | undefined;
  /** Server-wide throttle, read again for every slice (0: none). */
  readonly throttle: () => number;
  /** Aborted when the response closes before it was finished (the client went away). */
  readonly signal: AbortSignal;
}

/**
 * Send the body of a GET whose headers (with the full Content-Length) were written.
 * Resolves when done or broken on purpose; rejects when the client went away.
 */
export async function sendBody(res: ServerResponse, plan: BodyPlan): Promise<void> {
  const { fault, length } = plan;
  switch (fault?.kind) {
    case 'truncate': {
      await copy(res, plan, Math.floor(length / 2));
      await flushed(res);
      res.socket?.end();
      return;
    }
    case 'reset': {
      await copy(res, plan, Math.min(Math.floor(length / 2), PARTIAL_BYTES));
      await flushed(res);
      // Give the client time to read the headers and the first bytes, then RST.
      await sleep(20, undefined, { signal: plan.signal }).catch(() => undefined);
      res.socket?.resetAndDestroy();
      return;
    }
    case 'hang': {
      await copy(res, plan, Math.min(Math.floor(length / 2), PARTIAL_BYTES));
      await flushed(res);
      return; // and never another byte: the socket stays open until someone closes it
    }
    default: {
      await copy(res, plan, length, fault?.kind === 'corrupt');
      res.end();
    }
  }
}

/** Pipe `count` bytes of the file into `res` with backpressure, without ending it. */
async function copy(res: ServerResponse, plan: BodyPlan, count: number, corrupt = false): Promise<void> {
  if (count <= 0) return;
  const rate = plan.fault?.kind === 'throttle' ? (): number => plan.fault?.bytesPerSec ?? 0 : plan.throttle;
  if (count <= WHOLE_READ && !(rate() > 0)) return copyWhole(res, plan, count, corrupt);
  const source = createReadStream(plan.file, { start: plan.start, end: plan.start + count - 1, highWaterMark: 256 * 1024 });
  await pipeline(source, spoil(corrupt, rate, plan.signal), res, { end: false });
}

/** Up to this many bytes are read in one call and written in one (a stream costs more than such a file). */
const WHOLE_READ = 256 * 1024;

async function copyWhole(res: ServerResponse, plan: BodyPlan, count: number, corrupt: boolean): Promise<void> {
  const fh = await open(plan.file, 'r');
  let chunk: Buffer;
  try {
    const { buffer, bytesRead } = await fh.read(Buffer.allocUnsafe(count), 0, count, plan.start);
    chunk = buffer.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
  if (plan.signal.aborted || res.destroyed) throw new Error('client went away');
  if (corrupt && chunk.length > 0) chunk.writeUInt8(chunk.readUInt8(0) ^ 0xff, 0);
  if (!res.write(chunk)) await once(res, 'drain', { signal: plan.signal });
}

/** Flip the first byte of every chunk when `corrupt`; pace the bytes when `rate()` > 0. */
function spoil(corrupt: boolean, rate: () => number, signal: AbortSignal) {
  return async function* (source: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
    for await (const input of source) {
      let chunk = input;
      if (corrupt && chunk.length > 0) {
        chunk = Buffer.from(chunk);
        chunk.writeUInt8(chunk.readUInt8(0) ^ 0xff, 0);
      }
      let offset = 0;
      while (offset < chunk.length) {
        const bytesPerSec = rate();
        if (!(bytesPerSec > 0)) {
          yield offset === 0 ? chunk : chunk.subarray(offset);
          break;
        }
        // Slices of 50 ms worth of bytes.
        const slice = Math.max(1, Math.floor(bytesPerSec / 20));
        const sent = Math.min(slice, chunk.length - offset);
        yield chunk.subarray(offset, offset + sent);
        offset += sent;
        await sleep(Math.max(1, Math.round((1000 * sent) / bytesPerSec)), undefined, { signal });
      }
    }
  };
}

/** Resolves once what was written to `res` has been handed to the kernel. */
function flushed(res: ServerResponse): Promise<void> {
  if (!res.headersSent) res.flushHeaders();
  const socket = res.socket;
  if (socket === null || socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    socket.write(Buffer.alloc(0), () => resolve());
  });
}
