import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../config/config';
import { startExpiry } from '../carts/expire-carts';
import { recoverVolume } from '../carts/recover-volume';
import { UseRecorder } from '../db/use-recorder';
import { createApp } from '../http/app';
import { buildCartd, type Cartd } from './build';
import { runnerKind, type RunnerOptions } from './runner';

export interface RunningServer {
  readonly cartd: Cartd;
  readonly server: Server;
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** Start the API server (and the in-process runner); port 0 picks a free port. */
export async function startServer(config: Config, log: Logger, opts: { runner?: RunnerOptions } = {}): Promise<RunningServer> {
  const cartd = await buildCartd(config, log, { runner: opts.runner });
  cartd.state.carts.resetReaders();
  // Before the runner starts: carts whose staged bytes vanished are back to staging and get picked up.
  await recoverVolume({ carts: cartd.state.carts, blobs: cartd.state.blobs, volume: cartd.volume, log, now: () => Date.now() });
  const app = createApp({ service: cartd.service, log, maxBodyBytes: config.cartd.maxBodyBytes, transferSize: config.cartd.transferSize, corsOrigins: config.cartd.corsOrigins });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(config.server.port, config.server.address, () => resolve(s));
    s.once('error', reject);
  });
  await cartd.runner.start();
  // Status calls and downloads record their use on a thread, which also does the checkpoints: no request waits for the disk.
  const uses = UseRecorder.attach(cartd.state.db, log);
  const stopExpiry = startExpiry({ ...cartd.staging, runner: cartd.runner }, config.cartd.cartTtl * 1000, config.cartd.expiryIntervalMs);
  const port = (server.address() as AddressInfo).port;
  const host = config.server.address.includes(':') ? `[${config.server.address}]` : config.server.address;
  const url = `http://${host}:${port}/`;
  log.info({ url, volume: config.cartd.volumePath, database: config.database.path, runner: runnerKind(config), worker: runnerKind(config) === 'embedded' || opts.runner?.worker !== false }, 'cartd serving');
  let stopping: Promise<void> | undefined;
  return {
    cartd,
    server,
    url,
    port,
    stop() {
      stopping ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await stopExpiry();
        await uses?.close();
        await cartd.close();
      })();
      return stopping;
    },
  };
}
