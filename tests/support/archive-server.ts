/**
 * A stand-in for the Pacifica Archive Interface (PROTOCOL.md section 2), for cartd's
 * tests, the README walk-through and the benchmark. Node's `http` only.
 *
 *   HEAD /{id}   204 + X-Pacifica-* headers, or 404 with the same headers saying File Not Found
 *   POST /{id}   recall from tape: 200 {"message": "File was staged", "file": id}
 *   GET  /{id}   200, the bytes; ?byte_range=START-END for a slice; 500 while on tape
 *   PUT  /{id}   store the body; 201 {"message": "File was stored", "total_bytes": N}
 *
 * Tests drive it in-process: put files, move them to tape, inject faults, read the
 * request log and the transfers still open.
 */
import { once } from 'node:events';
import { promises as fsp } from 'node:fs';
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FaultBook, sendBody, type Fault, type FaultKind, type FaultOptions } from './archive-faults';
import { ArchiveStore, BadIdError, type ArchiveFileInfo, type Media } from './archive-store';

export type { ArchiveFileInfo, Media } from './archive-store';
export type { FaultKind, FaultMethod, FaultOptions } from './archive-faults';

export interface ArchiveServerOptions {
  /** Where files are kept; a fresh temporary folder (removed on close) when omitted. */
  readonly dir?: string;
  /** 0 or omitted: any free port. */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** How long a recalled tape file takes to reach disk. Default 1000. */
  readonly tapeDelayMs?: number;
  /** Media of files PUT without saying, and of files found in `dir`. Default disk. */
  readonly defaultMedia?: Media;
  /** Server-wide pace of GET bodies; 0 (default): as fast as possible. */
  readonly throttleBytesPerSec?: number;
  /**
   * How END of `byte_range=START-END` is read. `inclusive` (default): bytes START..END,
   * END may be omitted, both clamped to the file. `exclusive`: what the reference
   * server does, END - START bytes from START, and both numbers required. `ignored`: a
   * server without range support, answering the whole file whatever byte_range says.
   */
  readonly byteRangeEnd?: 'inclusive' | 'exclusive' | 'ignored';
}

export interface PutOptions {
  /** Epoch seconds (may be fractional); now when omitted. */
  readonly mtime?: number;
  readonly media?: Media;
  /** This file's recall delay, instead of the server's. */
  readonly tapeDelayMs?: number;
}

export interface MethodCounts {
  head: number;
  post: number;
  get: number;
  put: number;
  delete: number;
}

export interface ArchiveStats {
  readonly total: MethodCounts;
  readonly byId: Readonly<Record<string, MethodCounts>>;
}

export interface ArchiveRequest {
  readonly method: string;
  readonly id: string;
  /** Date.now() when the request arrived. */
  readonly time: number;
  readonly byteRange?: string;
  /** The fault that spoiled this request, if one did. */
  fault?: FaultKind;
  /** Status sent, once the headers went out. */
  readonly status?: number;
}

type Id = string | number;

/**
 * One entry of the request log. It outlives its response (a run of the benchmark sends
 * hundreds of thousands of requests), so it keeps the status sent, never the response: a
 * class, since a getter made in the request handler would keep that handler's whole scope.
 */
class LoggedRequest implements ArchiveRequest {
  readonly time = Date.now();
  declare readonly byteRange?: string;
  declare fault?: FaultKind;
  private res: ServerResponse | undefined;
  private sent: number | undefined;

  constructor(
    readonly method: string,
    readonly id: string,
    byteRange: string | undefined,
    res: ServerResponse,
  ) {
    if (byteRange !== undefined) this.byteRange = byteRange;
    this.res = res;
    res.once('close', () => this.settle());
  }

  get status(): number | undefined {
    const res = this.res;
    if (res === undefined) return this.sent;
    return res.headersSent ? res.statusCode : undefined;
  }

  private settle(): void {
    this.sent = this.status;
    this.res = undefined;
  }
}

const JSON_TYPE = 'application/json';
const NOT_FOUND = 'File Not Found';
const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: '400 Bad Request',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  500: '500 Internal Server Error',
};

export async function startArchiveServer(opts: ArchiveServerOptions = {}): Promise<ArchiveServer> {
  const created = opts.dir === undefined;
  const dir = path.resolve(opts.dir ?? (await fsp.mkdtemp(path.join(os.tmpdir(), 'archive-'))));
  await fsp.mkdir(dir, { recursive: true });
  const server = new ArchiveServer(dir, created, opts);
  try {
    await server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1');
  } catch (err) {
    await server.close();
    throw err;
  }
  return server;
}

export class ArchiveServer {
  readonly dir: string;
  /** Server-wide pace of GET bodies in bytes a second (0: unthrottled); may change any time. */
  throttleBytesPerSec: number;
  /** Default delay between the first recall of a tape file and it being on disk. */
  tapeDelayMs: number;
  defaultMedia: Media;
  /** Every request with a file id, oldest first. Cleared (in place) by resetStats(). */
  readonly requests: ArchiveRequest[] = [];

  private readonly http: http.Server;
  private readonly store: ArchiveStore;
  private readonly faults = new FaultBook();
  private readonly sockets = new Set<Socket>();
  private readonly open = new Map<string, number>();
  private readonly openWaiters = new Set<() => void>();
  private counts = new Map<string, MethodCounts>();
  private readonly byteRangeEnd: 'inclusive' | 'exclusive' | 'ignored';
  /** Resolves once close() has finished. */
  readonly closed: Promise<void>;
  private markClosed: () => void = () => undefined;
  private address: { host: string; port: number } | undefined;
  private closing: Promise<void> | undefined;

  /** Use startArchiveServer(). */
  constructor(dir: string, private readonly ownsDir: boolean, opts: ArchiveServerOptions) {
    this.dir = dir;
    this.closed = new Promise<void>((resolve) => {
      this.markClosed = resolve;
    });
    this.tapeDelayMs = opts.tapeDelayMs ?? 1000;
    this.throttleBytesPerSec = opts.throttleBytesPerSec ?? 0;
    this.defaultMedia = opts.defaultMedia ?? 'disk';
    this.byteRangeEnd = opts.byteRangeEnd ?? 'inclusive';
    this.store = new ArchiveStore(dir, { tapeDelayMs: () => this.tapeDelayMs, media: () => this.defaultMedia });
    this.http = http.createServer((req, res) => {
      res.on('error', () => undefined);
      this.handle(req, res).catch((err: unknown) => answerError(res, err));
    });
    this.http.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    // A client that sends garbage or vanishes: drop the socket, never crash.
    this.http.on('clientError', (_err: Error, socket: Socket) => socket.destroy());
  }

  /** Base URL, ending with `/`. */
  get url(): string {
    const { host, port } = this.bound();
    return `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
  }

  get port(): number {
    return this.bound().port;
  }

  get host(): string {
    return this.bound().host;
  }

  /** @internal */
  async listen(port: number, host: string): Promise<void> {
    this.http.listen(port, host);
    await once(this.http, 'listening');
    const addr = this.http.address();
    if (addr === null || typeof addr === 'string') throw new Error('archive server has no TCP address');
    this.address = { host, port: addr.port };
  }

  /** Stop listening, drop every connection (transfers in flight included). */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const closed = this.http.listening ? new Promise<void>((resolve) => this.http.close(() => resolve())) : Promise.resolve();
      for (const socket of this.sockets) socket.destroy();
      this.http.closeAllConnections();
      await closed;
      if (this.ownsDir) await fsp.rm(this.dir, { recursive: true, force: true });
      this.markClosed();
    })();
    return this.closing;
  }

  // ---- files ----

  /** Store a file directly (no request logged). */
  async put(id: Id, data: Buffer | string, opts: PutOptions = {}): Promise<ArchiveFileInfo> {
    await this.store.write(String(id), typeof data === 'string' ? Buffer.from(data) : data, opts);
    return this.mustInfo(String(id));
  }

  /** A sparse file of `size` zero bytes that takes no disk space (e.g. 9 GiB). */
  async putSparse(id: Id, size: number, opts: PutOptions = {}): Promise<ArchiveFileInfo> {
    await this.store.writeSparse(String(id), size, opts);
    return this.mustInfo(String(id));
  }

  /** Put a file on tape (until recalled, then `tapeDelayMs` more) or on disk. */
  setMedia(id: Id, media: Media, tapeDelayMs?: number): void {
    this.store.setMedia(String(id), media, tapeDelayMs);
  }

  /** Delete a file; false when there was none. */
  remove(id: Id): Promise<boolean> {
    return this.store.remove(String(id));
  }

  /** What HEAD would say, without logging a request; undefined when missing. */
  info(id: Id): Promise<ArchiveFileInfo | undefined> {
    return this.store.info(String(id));
  }

  /** Where the file is (or would be) on disk. */
  pathOf(id: Id): string {
    return this.store.pathOf(String(id));
  }

  // ---- faults ----

  /**
   * Spoil the next `opts.times` (default: all) requests of `opts.on` (default GET) for `id`.
   * `slow` waits `opts.delayMs` (default 60000) before answering; `throttle` needs
   * `opts.bytesPerSec`. Faults queue: the first with attempts left is used.
   */
  fault(id: Id, kind: FaultKind, opts: FaultOptions = {}): void {
    this.faults.add(String(id), kind, opts);
  }

  clearFaults(id?: Id): void {
    this.faults.clear(id === undefined ? undefined : String(id));
  }

  // ---- counters ----

  /** Requests per method: all files, and per file id. */
  stats(): ArchiveStats;
  /** Requests per method for one file id (zeros when never asked for). */
  stats(id: Id): MethodCounts;
  stats(id?: Id): ArchiveStats | MethodCounts {
    if (id !== undefined) return { ...(this.counts.get(String(id)) ?? zeroCounts()) };
    const total = zeroCounts();
    const byId: Record<string, MethodCounts> = {};
    for (const [key, counts] of this.counts) {
      byId[key] = { ...counts };
      for (const m of Object.keys(total) as (keyof MethodCounts)[]) total[m] += counts[m];
    }
    return { total, byId };
  }

  /** The byte_range of every GET of `id` so far, in order (undefined: the whole file asked for). */
  rangesAsked(id: Id): (string | undefined)[] {
    return this.requests.filter((r) => r.id === String(id) && r.method === 'GET').map((r) => r.byteRange);
  }

  resetStats(): void {
    this.counts = new Map();
    this.requests.length = 0;
  }

  /** GET responses still in flight (body not finished, socket not closed), for `id` or all. */
  openTransfers(id?: Id): number {
    if (id !== undefined) return this.open.get(String(id)) ?? 0;
    let n = 0;
    for (const count of this.open.values()) n += count;
    return n;
  }

  /** Resolves true once openTransfers(id) is 0, false if that takes longer than `timeoutMs`. */
  async waitForTransfersClosed(id?: Id, timeoutMs = 1000): Promise<boolean> {
    if (this.openTransfers(id) === 0) return true;
    return new Promise<boolean>((resolve) => {
      const check = (): void => {
        if (this.openTransfers(id) !== 0) return;
        done(true);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      const done = (result: boolean): void => {
        clearTimeout(timer);
        this.openWaiters.delete(check);
        resolve(result);
      };
      this.openWaiters.add(check);
    });
  }

  // ---- HTTP ----

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    if (method !== 'PUT') req.resume();
    // Split by hand: URL() would fold `/..`, `/%2E%2E` and the like into `/`.
    const target = req.url ?? '/';
    const queryAt = target.indexOf('?');
    const rawId = (queryAt < 0 ? target : target.slice(0, queryAt)).replace(/^\//, '');
    const query = new URLSearchParams(queryAt < 0 ? '' : target.slice(queryAt + 1));
    if (rawId === '') {
      if (method === 'GET' || method === 'HEAD') return json(res, 200, { message: 'Pacifica Archive Interface Up and Running' });
      return json(res, 405, { status: STATUS_TEXT[405], message: 'No file id in the path' });
    }
    let id: string;
    try {
      id = decodeURIComponent(rawId);
      this.store.pathOf(id);
    } catch {
      return json(res, 400, { status: STATUS_TEXT[400], message: `Invalid file id ${JSON.stringify(rawId)}` });
    }
    const byteRange = query.get('byte_range') ?? undefined;
    const entry = new LoggedRequest(method, id, byteRange, res);
    this.requests.push(entry);
    this.count(id, method);
    const aborted = new AbortController();
    // Only an answer cut short has anything left to stop (an abort costs a DOMException).
    res.on('close', () => {
      if (!res.writableFinished) aborted.abort();
    });

    switch (method) {
      case 'HEAD':
        return this.head(id, res, entry, aborted.signal);
      case 'POST':
        return this.post(id, res, entry, aborted.signal);
      case 'GET':
        this.trackOpen(id, res);
        return this.get(id, byteRange, res, entry, aborted.signal);
      case 'PUT':
        return this.putRequest(id, req, res);
      case 'DELETE':
        if (await this.store.remove(id)) return json(res, 200, { message: 'File was deleted', file: id });
        return json(res, 404, { status: STATUS_TEXT[404], message: `${NOT_FOUND}: ${id}` });
      default:
        res.setHeader('Allow', 'GET, HEAD, POST, PUT, DELETE');
        return json(res, 405, { status: STATUS_TEXT[405], message: `Method ${method} not allowed` });
    }
  }

  private async head(id: string, res: ServerResponse, entry: ArchiveRequest, signal: AbortSignal): Promise<void> {
    if ((await this.preFault(id, 'HEAD', false, res, entry, signal)) === 'answered') return;
    const info = await this.store.info(id);
    if (info === undefined) {
      res.writeHead(404, {
        'X-Pacifica-Messsage': NOT_FOUND,
        'X-Pacifica-File': NOT_FOUND,
        'X-Content-Length': NOT_FOUND,
        'Last-Modified': NOT_FOUND,
        'X-Pacifica-Ctime': NOT_FOUND,
        'X-Pacifica-Bytes-Per-Level': NOT_FOUND,
        'X-Pacifica-File-Storage-Media': NOT_FOUND,
        'Content-Type': JSON_TYPE,
      });
      res.end();
      return;
    }
    res.writeHead(204, {
      'X-Pacifica-Messsage': 'File was found',
      'X-Pacifica-File': info.path,
      'X-Content-Length': String(info.size),
      'Last-Modified': epochSeconds(info.mtimeMs),
      'X-Pacifica-Ctime': epochSeconds(info.ctimeMs),
      'X-Pacifica-Bytes-Per-Level': info.media === 'disk' ? `(${info.size}, 0)` : `(0, ${info.size})`,
      'X-Pacifica-File-Storage-Media': info.media,
      'Content-Type': JSON_TYPE,
    });
    res.end();
  }

  private async post(id: string, res: ServerResponse, entry: ArchiveRequest, signal: AbortSignal): Promise<void> {
    if ((await this.preFault(id, 'POST', false, res, entry, signal)) === 'answered') return;
    if ((await this.store.info(id)) === undefined) {
      return json(res, 404, { status: STATUS_TEXT[404], message: `${NOT_FOUND}: ${id}` });
    }
    this.store.recall(id);
    json(res, 200, { message: 'File was staged', file: id });
  }

  private async get(id: string, byteRange: string | undefined, res: ServerResponse, entry: ArchiveRequest, signal: AbortSignal): Promise<void> {
    const mode = this.byteRangeEnd;
    const spec = mode === 'ignored' ? undefined : byteRange;
    let info = await this.store.info(id);
    let range = info && parseByteRange(spec, info.size, mode === 'ignored' ? undefined : mode);
    const hasBody = info?.media === 'disk' && typeof range === 'object';
    const fault = await this.preFault(id, 'GET', hasBody, res, entry, signal);
    if (fault === 'answered') return;
    if (fault === undefined) {
      // A `slow` GET waited: look again, the file may have reached disk meanwhile.
      info = await this.store.info(id);
      range = info && parseByteRange(spec, info.size, mode === 'ignored' ? undefined : mode);
    }
    if (info === undefined) return json(res, 404, { status: STATUS_TEXT[404], message: `${NOT_FOUND}: ${id}` });
    if (info.media === 'tape') {
      return json(res, 500, { status: STATUS_TEXT[500], message: `File ${id} is on tape; POST to stage it to disk first` });
    }
    if (typeof range === 'string' || range === undefined) return json(res, 500, { status: STATUS_TEXT[500], message: range ?? 'bad byte_range' });
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(range.length) });
    try {
      await sendBody(res, {
        file: info.path,
        start: range.start,
        length: range.length,
        fault: fault === 'none' ? undefined : fault,
        throttle: () => this.throttleBytesPerSec,
        signal,
      });
    } catch {
      // The client went away, or the file vanished mid-transfer: drop the connection.
      res.destroy();
    }
  }

  private async putRequest(id: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const mtime = parseMtime(req.headers['last-modified']);
    if (mtime === null) return json(res, 400, { status: STATUS_TEXT[400], message: 'Cannot parse Last-Modified' });
    const mediaHeader = req.headers['x-pacifica-file-storage-media'];
    if (mediaHeader !== undefined && mediaHeader !== 'disk' && mediaHeader !== 'tape') {
      return json(res, 400, { status: STATUS_TEXT[400], message: 'X-Pacifica-File-Storage-Media must be disk or tape' });
    }
    let total: number;
    try {
      total = await this.store.write(id, req, { ...(mtime === undefined ? {} : { mtime }), ...(mediaHeader === undefined ? {} : { media: mediaHeader }) });
    } catch (err) {
      if (req.destroyed || res.destroyed) return; // upload broken off: nothing was stored
      throw err;
    }
    json(res, 201, { message: 'File was stored', total_bytes: total });
  }

  /**
   * Use up the request's fault, if any, and act on the ones that answer by themselves.
   * 'answered': nothing more to do. A Fault: spoil the body with it. undefined: a
   * `slow` fault waited. 'none': no fault.
   */
  private async preFault(
    id: string,
    method: 'GET' | 'HEAD' | 'POST',
    hasBody: boolean,
    res: ServerResponse,
    entry: ArchiveRequest,
    signal: AbortSignal,
  ): Promise<Fault | 'answered' | 'none' | undefined> {
    const fault = this.faults.take(id, method, hasBody);
    if (fault === undefined) return 'none';
    entry.fault = fault.kind;
    switch (fault.kind) {
      case 'slow':
        try {
          await sleep(fault.delayMs, undefined, { signal });
          return undefined;
        } catch {
          return 'answered'; // the client gave up waiting
        }
      case '500':
        json(res, 500, { status: STATUS_TEXT[500], message: `Injected fault for ${id}` });
        return 'answered';
      case 'reset':
      case 'hang':
        if (hasBody) return fault;
        if (fault.kind === 'reset') res.socket?.resetAndDestroy();
        return 'answered'; // hang: no answer at all
      default:
        return fault;
    }
  }

  private count(id: string, method: string): void {
    const key = method.toLowerCase();
    if (key !== 'head' && key !== 'post' && key !== 'get' && key !== 'put' && key !== 'delete') return;
    const counts = this.counts.get(id) ?? zeroCounts();
    counts[key] += 1;
    this.counts.set(id, counts);
  }

  private trackOpen(id: string, res: ServerResponse): void {
    this.open.set(id, (this.open.get(id) ?? 0) + 1);
    res.on('close', () => {
      const left = (this.open.get(id) ?? 1) - 1;
      if (left > 0) this.open.set(id, left);
      else this.open.delete(id);
      for (const check of [...this.openWaiters]) check();
    });
  }

  private bound(): { host: string; port: number } {
    if (this.address === undefined) throw new Error('archive server is not listening');
    return this.address;
  }

  private async mustInfo(id: string): Promise<ArchiveFileInfo> {
    const info = await this.store.info(id);
    if (info === undefined) throw new Error(`file ${id} vanished right after being stored`);
    return info;
  }
}

function zeroCounts(): MethodCounts {
  return { head: 0, post: 0, get: 0, put: 0, delete: 0 };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': JSON_TYPE, 'Content-Length': String(Buffer.byteLength(text)) });
  res.end(text);
}

function answerError(res: ServerResponse, err: unknown): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const bad = err instanceof BadIdError;
  const message = typeof err === 'object' && err !== null && 'message' in err ? String(err.message) : String(err);
  json(res, bad ? 400 : 500, { status: STATUS_TEXT[bad ? 400 : 500], message });
}

/**
 * Epoch milliseconds as the reference prints them: float seconds (`1546983446.123`,
 * `1546983446.0`), to the millisecond, so an mtime PUT as 1546983446.123 reads back the same.
 */
export function epochSeconds(ms: number): string {
  const seconds = Math.round(ms) / 1000;
  return Number.isInteger(seconds) ? seconds.toFixed(1) : String(seconds);
}

/** `Last-Modified` of a PUT: float epoch seconds or an HTTP date. undefined: absent; null: unreadable. */
function parseMtime(header: string | undefined): number | undefined | null {
  if (header === undefined || header.trim() === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return seconds;
  const ms = Date.parse(header);
  return Number.isFinite(ms) ? ms / 1000 : null;
}

/** The bytes a GET sends: the whole file, or a byte_range slice; a string says what is wrong. */
export function parseByteRange(
  spec: string | undefined,
  size: number,
  mode: 'inclusive' | 'exclusive' = 'inclusive',
): { start: number; length: number } | string {
  if (spec === undefined || spec === '') return { start: 0, length: size };
  const match = (mode === 'inclusive' ? /^(\d+)-(\d*)$/ : /^(\d+)-(\d+)$/).exec(spec);
  if (match === null) return `Invalid byte range format (int-int) given ${spec}`;
  const start = Math.min(Number(match[1]), size);
  const endText = match[2] ?? '';
  // Exclusive end, clamped to the file.
  const end = Math.min(size, endText === '' ? size : Number(endText) + (mode === 'inclusive' ? 1 : 0));
  return { start, length: Math.max(0, end - start) };
}
