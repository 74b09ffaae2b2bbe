import { getPriority, setPriority } from 'node:os';
import type { Logger } from 'pino';
import { ConfigError, type Config } from '../config/config';
import { removeDeadTempFolders } from '../volume/reconcile';
import { buildCartd, type Cartd } from './build';
import type { RunnerOptions } from './runner';

export interface RunningWorker {
  readonly cartd: Cartd;
  /** Stop taking jobs, let running ones finish or hand them back, close. */
  stop(): Promise<void>;
}

/** `cartd worker`: staging only, from the BullMQ queues in Redis; no HTTP. */
export async function startWorker(config: Config, log: Logger, opts: Omit<RunnerOptions, 'worker' | 'resubmit'> = {}): Promise<RunningWorker> {
  if (config.redis.url === '') {
    throw new ConfigError('cartd worker needs Redis: set [redis] url or REDIS_URL (workers take their jobs from its queues)');
  }
  lowerPriority(config.cartd.workerNice, log);
  const cartd = await buildCartd(config, log, { runner: { ...opts, worker: true, resubmit: false } });
  try {
    // What dead processes left in tmp/, a worker killed with SIGKILL included (the server
    // reconciles the rest of the volume at its own start).
    const temps = await removeDeadTempFolders(cartd.volume, cartd.state.blobs);
    if (temps.folders > 0) log.info({ foldersRemoved: temps.folders, tempsRemoved: temps.files }, 'temp folders of dead processes removed');
    await cartd.runner.start();
  } catch (err) {
    await cartd.close().catch(() => undefined);
    throw err;
  }
  log.info(
    { concurrency: config.cartd.concurrency, prefix: config.redis.prefix, volume: config.cartd.volumePath, database: config.database.path },
    'cartd worker running',
  );
  let stopping: Promise<void> | undefined;
  return {
    cartd,
    stop() {
      stopping ??= cartd.close();
      return stopping;
    },
  };
}

/** Staging is background work: let the API server (and the tar streams) have the CPU first. */
function lowerPriority(nice: number, log: Logger): void {
  if (nice === 0) return;
  try {
    setPriority(Math.min(19, getPriority() + nice));
  } catch (err) {
    log.warn({ err, nice }, 'could not lower the worker\'s scheduling priority; it runs at normal priority');
  }
}
