/**
 * Shared by the inspect CLI tests: `npm run build` once (under a lock: test files run in parallel),
 * then run a private copy of dist/cli.js, so that another build rewriting dist/ meanwhile (other
 * suites, other engineers) cannot hand a half-written bundle to a test.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const ROOT = path.join(__dirname, '../../..');
const DIST_CLI = path.join(ROOT, 'dist/cli.js');

let cli: string | undefined;

export function buildCli(): void {
  if (cli) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnxq-cli-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const copy = path.join(dir, 'cli.js');
  for (let attempt = 0; attempt < 3; attempt++) {
    const r = spawnSync('flock', ['/tmp/onnx-quantizer-build.lock', 'npm', 'run', 'build', '--silent'], { cwd: ROOT, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`npm run build failed:\n${r.stdout}\n${r.stderr}`);
    fs.copyFileSync(DIST_CLI, copy);
    if (spawnSync(process.execPath, [copy, '--version'], { env: cliEnv() }).status === 0) {
      cli = copy;
      return;
    }
  }
  throw new Error('dist/cli.js does not run after three builds');
}

/** The copy lives outside the repository: let it resolve external modules from the repository's node_modules. */
function cliEnv(): NodeJS.ProcessEnv {
  return { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules') };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Signal that ended the process (e.g. SIGKILL when `timeoutMs` passed). */
  signal?: NodeJS.Signals | null;
  /** Wall time of the run. */
  ms?: number;
}

/** Run the built CLI; with `timeoutMs`, a run still going then is killed (a hang is reported, not waited for). */
export function runCli(args: string[], options: { timeoutMs?: number; cwd?: string } = {}): CliResult {
  if (!cli) throw new Error('buildCli() first');
  const started = performance.now();
  const r = spawnSync(process.execPath, [cli, ...args], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    env: cliEnv(),
    ...(options.timeoutMs ? { timeout: options.timeoutMs, killSignal: 'SIGKILL' as const } : {}),
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal, ms: performance.now() - started };
}

/** Path of the built CLI copy (for tests that spawn it themselves, e.g. to send signals). */
export function cliPath(): string {
  if (!cli) throw new Error('buildCli() first');
  return cli;
}

export { cliEnv };

/** A Python with `import onnx` (Debian's python3-onnx lives in the system interpreter, not in pyenv). */
export function findPythonWithOnnx(): string | undefined {
  for (const exe of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(exe, ['-c', 'import onnx'], { encoding: 'utf8' });
    if (r.status === 0) return exe;
  }
  return undefined;
}
