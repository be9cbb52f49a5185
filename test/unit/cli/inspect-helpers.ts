/** Shared by the inspect CLI tests: build dist/cli.js once (under a lock: test files run in parallel) and run it. */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

export const ROOT = path.join(__dirname, '../../..');
export const CLI = path.join(ROOT, 'dist/cli.js');

let built = false;
export function buildCli(): void {
  if (built) return;
  const r = spawnSync('flock', ['/tmp/onnx-quantizer-build.lock', 'npm', 'run', 'build', '--silent'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm run build failed:\n${r.stdout}\n${r.stderr}`);
  built = true;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[]): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Candidates for a Python with `import onnx` (Debian's python3-onnx lives in the system interpreter). */
export function findPythonWithOnnx(): string | undefined {
  for (const exe of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(exe, ['-c', 'import onnx'], { encoding: 'utf8' });
    if (r.status === 0) return exe;
  }
  return undefined;
}
