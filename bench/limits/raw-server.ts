/**
 * The download limit: the staged files read from the volume and written to the socket
 * as they are, one after another, with no tar around them: cartd's own reader and writer
 * (same read size, the same few buffers read into again once the socket has taken them).
 * `GET /<n>` sends the n-th list of files; Content-Length is their total. `HEAD /<any>`
 * answers 204 at once: the floor under cartd's status latency.
 */
import { stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ReadBuffers } from '../../src/bundle/read-buffers';
import { readFileSlice } from '../../src/bundle/file-slice';
import { writePieces } from '../../src/http/write-pieces';
import { maxRssBytes, serveParent } from './child';

export interface RawServerRequest {
  /** The files of each download (a second message only reports the peak RSS). */
  readonly lists?: readonly (readonly string[])[];
  readonly chunkSize?: number;
}

export interface RawServerReply {
  readonly port: number;
  readonly maxRssBytes: number;
}

let server: http.Server | undefined;

async function listen(msg: RawServerRequest): Promise<RawServerReply> {
  if (server) return { port: (server.address() as AddressInfo).port, maxRssBytes: maxRssBytes() };
  const lists = msg.lists ?? [];
  const chunkSize = msg.chunkSize ?? 1024 * 1024;
  server = http.createServer((req, res) => {
    // The status limit: the least a server can do to answer a HEAD.
    if (req.method === 'HEAD') {
      res.writeHead(204, { 'X-Pacifica-Status': 'staging', 'X-Pacifica-Message': '' }).end();
      return;
    }
    void (async () => {
      const files = lists[Number((req.url ?? '/').slice(1))];
      if (files === undefined) {
        res.writeHead(404).end();
        return;
      }
      const sizes: number[] = [];
      for (const f of files) sizes.push((await stat(f)).size);
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(sizes.reduce((a, b) => a + b, 0)) });
      const buffers = new ReadBuffers(chunkSize);
      for (const [i, f] of files.entries()) {
        const size = sizes[i] ?? 0;
        if (!(await writePieces(readFileSlice(f, size, 0, size, chunkSize, buffers), res, buffers))) return;
      }
      res.end();
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, maxRssBytes: maxRssBytes() };
}

serveParent(listen);
