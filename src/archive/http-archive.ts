import * as http from 'node:http';
import * as https from 'node:https';
import { urlToHttpOptions } from 'node:url';
import { CancelledError, TransferError } from '../core/errors';
import type { ArchiveFileStatus, ArchivePort, ByteSource, ByteSpan } from '../core/ports';
import { byteSource } from './byte-source';
import { parseStatusHeaders } from './status-headers';

export interface HttpArchiveOptions {
  /** Base URL, ending with `/`. */
  readonly url: string;
  /** Longest wait for the archive to answer, or to send more bytes, in ms. */
  readonly timeoutMs: number;
  /** Sockets kept open to the archive. */
  readonly maxSockets?: number;
}

interface Answer {
  readonly res: http.IncomingMessage;
}

/** The archive interface over HTTP (PROTOCOL.md section 2): HEAD, POST recall, GET with byte_range. */
export class HttpArchive implements ArchivePort {
  private readonly agent: http.Agent;
  private readonly lib: typeof http | typeof https;
  /** Host, port and credentials of the base URL, worked out once: a URL parsed per request cost more than the request. */
  private readonly origin: http.RequestOptions;
  /** The base URL's path up to its last `/`, where file ids go. */
  private readonly basePath: string;

  constructor(private readonly options: HttpArchiveOptions) {
    const base = new URL(options.url);
    this.lib = base.protocol === 'https:' ? https : http;
    this.agent = new this.lib.Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 64 });
    const { protocol, hostname, port, auth } = urlToHttpOptions(base);
    this.origin = { protocol, hostname, port, ...(auth === undefined ? {} : { auth }), agent: this.agent };
    this.basePath = base.pathname.slice(0, base.pathname.lastIndexOf('/') + 1);
  }

  private filePath(archiveId: string, query = ''): string {
    return this.basePath + encodeURIComponent(archiveId) + query;
  }

  async status(archiveId: string, signal?: AbortSignal): Promise<ArchiveFileStatus | null> {
    const { res } = await this.request('HEAD', this.filePath(archiveId), signal);
    res.resume();
    if (res.statusCode === 404) return null;
    if (res.statusCode !== 204 && res.statusCode !== 200) {
      throw new TransferError(`archive answered ${res.statusCode} to HEAD`, isRetryableStatus(res.statusCode));
    }
    return parseStatusHeaders(res.headers);
  }

  async recall(archiveId: string, signal?: AbortSignal): Promise<void> {
    const { res } = await this.request('POST', this.filePath(archiveId), signal);
    res.resume();
    if (res.statusCode === 404) throw new TransferError('archive has no such file (404 on recall)', false);
    if ((res.statusCode ?? 500) >= 300) {
      throw new TransferError(`archive answered ${res.statusCode} to the recall request`, isRetryableStatus(res.statusCode));
    }
  }

  /**
   * GET from `from.start` to the end. A start past 0 asks for `byte_range=START-SIZE`: the
   * reference server reads END as exclusive and needs both numbers, others read it as
   * inclusive and clamp it to the file; this form means the same rest of the file to both.
   * An answer of another length than that rest (a server that ignored the range) is refused.
   */
  async pull(archiveId: string, from: ByteSpan, signal?: AbortSignal): Promise<ByteSource> {
    const range = from.start > 0 ? `byte_range=${from.start}-${from.size}` : '';
    const { res } = await this.request('GET', this.filePath(archiveId, range === '' ? '' : `?${range}`), signal);
    if (res.statusCode !== 200 && res.statusCode !== 206) {
      res.resume();
      throw new TransferError(`archive answered ${res.statusCode} to GET${range === '' ? '' : ` ${range}`}`, isRetryableStatus(res.statusCode));
    }
    const declared = res.headers['content-length'];
    if (range !== '' && declared !== undefined && Number(declared) !== from.size - from.start) {
      res.destroy();
      throw new TransferError(`archive answered ${range} with ${declared} bytes, not the ${from.size - from.start} asked for`, true);
    }
    return byteSource(namedBodyFaults(res, signal), () => res.destroy());
  }

  close(): void {
    this.agent.destroy();
  }

  /** One request; `timeoutMs` bounds both the wait for headers and each silence in the body. */
  private request(method: string, path: string, signal?: AbortSignal): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      if (signal?.aborted) return reject(new CancelledError());
      const req = this.lib.request({ ...this.origin, method, path, signal });
      req.setTimeout(this.options.timeoutMs, () => {
        req.destroy(new TransferError(`archive did not answer within ${this.options.timeoutMs / 1000} s`, true));
      });
      req.on('error', (err: Error) => {
        if (signal?.aborted) reject(new CancelledError());
        else if (err instanceof TransferError) reject(err);
        else reject(new TransferError(`archive connection failed: ${(err as NodeJS.ErrnoException).code ?? err.message}`, true));
      });
      req.on('response', (res) => {
        // The socket timeout keeps watching the body: a stalled transfer errors the stream.
        res.on('error', () => undefined);
        req.on('error', (err) => res.destroy(err));
        resolve({ res });
      });
      req.end();
    });
  }
}

/**
 * The body's bytes; a body broken off becomes a TransferError that says how (the user
 * reads it in the cart's message), instead of Node's bare `aborted` or `read ECONNRESET`.
 */
async function* namedBodyFaults(res: http.IncomingMessage, signal?: AbortSignal): AsyncGenerator<Buffer> {
  const declared = res.headers['content-length'];
  let got = 0;
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      got += chunk.length;
      yield chunk;
    }
  } catch (err) {
    if (signal?.aborted) throw new CancelledError();
    if (err instanceof TransferError) throw err;
    const of = declared === undefined ? '' : ` of ${declared}`;
    const e = err as NodeJS.ErrnoException;
    if (e.message === 'aborted') throw new TransferError(`transfer cut short: the archive closed the connection after ${got}${of} bytes`, true);
    if (e.code === 'ECONNRESET') throw new TransferError(`connection reset by the archive after ${got}${of} bytes`, true);
    throw new TransferError(`transfer broken off after ${got}${of} bytes: ${e.code ?? e.message}`, true);
  }
}

/** 5xx and 429/408 are passing faults; other 4xx will not change on a retry. */
export function isRetryableStatus(code: number | undefined): boolean {
  return code === undefined || code >= 500 || code === 429 || code === 408;
}
