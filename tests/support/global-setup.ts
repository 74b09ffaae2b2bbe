import { execFileSync } from 'node:child_process';
import path from 'node:path';

/**
 * Tests that run the built binaries (bin/cartd, bin/cartd-cmd, worker processes) need dist/
 * to match the source under test, so compile once before any suite starts.
 */
export default async function globalSetup(): Promise<void> {
  const root = path.resolve(__dirname, '..', '..');
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
}
