/**
 * The download limit: the staged files read from the volume and written to the socket
 * as they are, one after another (same read size as cartd, and the same few buffers read
 * into again once the socket has taken them), with no tar around them.
 * `GET /<n>` sends the n-th list of files; Content-Length is their total. `HEAD /<any>`
 * answers 204 at once: the floor under cartd's status latency.
 */
import { open, stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ReadBuffers } from '../../src/bundle/read-buffers';
import { drainedOrClosed } from '../../src/http/drained';
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
      let total = 0;
      for (const f of files) total += (await stat(f)).size;
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(total) });
      const buffers = new ReadBuffers(chunkSize);
      for (const f of files) {
        const handle = await open(f, 'r');
        try {
          for (;;) {
            const buffer = buffers.take(chunkSize);
            const { bytesRead } = await handle.read(buffer, 0, chunkSize, null);
            if (bytesRead === 0 || res.destroyed) break;
            const piece = buffer.subarray(0, bytesRead);
            const more = res.write(piece, (err) => {
              if (err === null || err === undefined) buffers.giveBack(piece);
            });
            if (!more) await drainedOrClosed(res);
          }
        } finally {
          await handle.close();
        }
      }
      res.end();
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, maxRssBytes: maxRssBytes() };
}

serveParent(listen);
