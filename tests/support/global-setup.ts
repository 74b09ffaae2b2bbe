import { spawnSync } from 'node:child_process';
import path from 'node:path';

/**
 * Tests that run the built binaries (bin/cartd, bin/cartd-cmd, worker processes) need dist/
 * to match the source under test, so compile once before any suite starts. tsc still
 * writes its output when it finds type errors; those are reported (and `npm run lint`
 * fails on them) without stopping suites that do not need the binaries.
 */
export default async function globalSetup(): Promise<void> {
  const root = path.resolve(__dirname, '..', '..');
  const r = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) process.stderr.write(`\nglobalSetup: tsc reported errors (dist/ was still written):\n${r.stdout}${r.stderr}\n`);
}
