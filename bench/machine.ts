/**
 * The machine the figures came from, and the raw limits that bound them, re-measured in
 * every run (DESIGN.md: "measured once; re-measure in the bench"): hashing speed on one
 * core, sequential write speed with fdatasync, and small-file fsyncs a second.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rm, statfs } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

export interface Machine {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryBytes: number;
  readonly node: string;
  readonly kernel: string;
  readonly diskFreeBytes: number;
  /** 1-minute load average when the run began: other work on the machine skews every figure. */
  readonly loadAvg1: number;
}

export interface RawLimits {
  /** MB (10^6 bytes) a second hashed on one core with the run's digest. */
  readonly hashMBps: number;
  /** MB a second written to the scratch disk, one file of up to 256 MiB, then fdatasync. */
  readonly syncWriteMBps: number;
  /** 16 KiB files written and fdatasync'ed one after another, a second. */
  readonly fsyncsPerSec: number;
}

export async function machine(dir: string): Promise<Machine> {
  const fs = await statfs(dir);
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryBytes: os.totalmem(),
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    diskFreeBytes: Number(fs.bavail) * Number(fs.bsize),
    loadAvg1: os.loadavg()[0] ?? 0,
  };
}

/** `scale` below 1 shortens the measurements (256 MiB and 200 files at 1), never under 16 MiB and 20 files. */
export async function rawLimits(dir: string, hashtype: string, scale = 1): Promise<RawLimits> {
  const block = randomBytes(1024 * 1024);
  const mib = Math.max(16, Math.min(256, Math.round(256 * scale)));
  const hash = createHash(hashtype);
  let t0 = performance.now();
  for (let i = 0; i < mib; i++) hash.update(block);
  hash.digest();
  const hashMBps = (mib * block.length) / 1e6 / ((performance.now() - t0) / 1000);

  const scratch = path.join(dir, 'raw-limits');
  await mkdir(scratch, { recursive: true });
  try {
    const fh = await open(path.join(scratch, 'big'), 'w');
    t0 = performance.now();
    for (let i = 0; i < mib; i++) await fh.write(block, 0, block.length, i * block.length);
    await fh.datasync();
    const syncWriteMBps = (mib * block.length) / 1e6 / ((performance.now() - t0) / 1000);
    await fh.close();

    const small = block.subarray(0, 16 * 1024);
    t0 = performance.now();
    const n = Math.max(20, Math.min(200, Math.round(200 * scale)));
    for (let i = 0; i < n; i++) {
      const f = await open(path.join(scratch, `s${i}`), 'w');
      await f.write(small);
      await f.datasync();
      await f.close();
    }
    const fsyncsPerSec = n / ((performance.now() - t0) / 1000);
    return { hashMBps, syncWriteMBps, fsyncsPerSec };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
