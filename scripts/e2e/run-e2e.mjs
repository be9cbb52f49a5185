#!/usr/bin/env node
// Playwright UI tests against code-server: sets up (cached), builds the extension once, then runs
// each test/e2e/*.e2e.mjs (node:test; each file starts its own code-server + chromium session)
// one after another (2 cores: parallel workbenches only slow each other down).
// Usage: node scripts/e2e/run-e2e.mjs [--vsix] [FILE...]    Env: E2E_NO_BUILD=1, E2E_KEEP=1
//   --vsix: package the extension (as `npm run package`: host platform, onnxruntime-node binaries inside) and install the
//           VSIX into each code-server instead of loading the repo as a development extension.
// Screenshots: test/e2e/screenshots/; results: test/.tmp/e2e-results.json
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { ROOT, log, seconds, ensureCodeServer, buildExtension, onInterruptCleanup, packageVsix } from './lib.mjs';

const t = Date.now();
ensureCodeServer();
buildExtension();
const args = process.argv.slice(2);
const vsixMode = args.includes('--vsix');
const fileArgs = args.filter((a) => a !== '--vsix');
const env = { ...process.env, E2E_NO_BUILD: '1' };
let vsixDir;
if (vsixMode) {
  vsixDir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnxq-vsix-'));
  env.E2E_VSIX_FILE = packageVsix(path.join(vsixDir, 'onnx-quantizer.vsix'));
  log(`packaged ${env.E2E_VSIX_FILE} (${(fs.statSync(env.E2E_VSIX_FILE).size / 1e6).toFixed(1)} MB)`);
}
const dir = path.join(ROOT, 'test', 'e2e');
const files = fileArgs.length
  ? fileArgs.map((f) => path.resolve(f))
  : fs.readdirSync(dir).filter((f) => f.endsWith('.e2e.mjs')).sort().map((f) => path.join(dir, f));
const resultFile = path.join(ROOT, 'test', '.tmp', 'e2e-results.json');
fs.mkdirSync(path.dirname(resultFile), { recursive: true });
// A hung step fails after TEST_TIMEOUT_MS instead of blocking the run (its after() still cleans up).
const TEST_TIMEOUT_MS = Number(process.env.E2E_TEST_TIMEOUT_MS || 300000);
// A file with a failed step runs once more, alone (as Playwright's CI retries do): a step that fails
// then passes is reported as flaky, by name and first error, and one that fails twice fails the run.
const RETRIES = Number(process.env.E2E_RETRIES ?? 1);

/** One node:test run of `testFiles` (one code-server session per file), its results in `results`. */
async function runFiles(testFiles, results) {
  const child = spawn(process.execPath, [
    '--test', '--test-concurrency=1', `--test-timeout=${TEST_TIMEOUT_MS}`,
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    `--test-reporter=${path.join(ROOT, 'scripts', 'e2e', 'json-reporter.mjs')}`, `--test-reporter-destination=${results}`,
    ...testFiles,
  ], { cwd: ROOT, stdio: 'inherit', env, detached: true });
  // Interrupted: SIGTERM the runner's whole group (its test-file processes stop their own code-servers).
  const stop = onInterruptCleanup(() => new Promise((resolve) => {
    try { process.kill(-child.pid, 'SIGTERM'); } catch { resolve(); return; }
    child.once('exit', resolve);
  }));
  const r = await new Promise((resolve) => child.once('exit', (status, signal) => resolve({ status, signal })));
  stop?.();
  let summary = null;
  try { summary = JSON.parse(fs.readFileSync(results, 'utf8')); } catch { /* reporter wrote nothing */ }
  return { ...r, summary };
}

let r = await runFiles(files, resultFile);
let summary = r.summary;
const failedFiles = [...new Set((summary?.tests ?? []).filter((x) => x.state === 'failed').map((x) => x.file))];
if (RETRIES > 0 && !r.signal && summary && failedFiles.length) {
  log(`e2e: ${failedFiles.length} file(s) with a failed step run once more: ${failedFiles.map((f) => path.basename(f)).join(', ')}`);
  const retryFile = resultFile.replace(/\.json$/, '-retry.json');
  const retry = await runFiles(failedFiles, retryFile);
  const firstErrors = new Map(summary.tests.filter((x) => x.state === 'failed').map((x) => [x.file, `${x.name}: ${x.error ?? 'failed'}`]));
  const retried = new Set(failedFiles);
  const tests = [...summary.tests.filter((x) => !retried.has(x.file)), ...(retry.summary?.tests ?? [])];
  const stillFailing = new Set(tests.filter((x) => x.state === 'failed').map((x) => x.file));
  const flaky = failedFiles.filter((f) => retry.summary && !stillFailing.has(f)).map((f) => ({ file: path.relative(ROOT, f), firstError: firstErrors.get(f) }));
  const count = (st) => tests.filter((x) => x.state === st).length;
  summary = { passed: count('passed'), failed: retry.summary ? count('failed') : summary.failed, skipped: count('skipped'), flaky, tests };
  fs.writeFileSync(resultFile, JSON.stringify(summary, null, 2) + '\n');
  for (const f of flaky) log(`e2e: FLAKY ${f.file}: failed first (${f.firstError.split('\n')[0]}), passed when run again`);
  r = { status: retry.summary && summary.failed === 0 ? 0 : retry.status, signal: retry.signal };
}
if (vsixDir) fs.rmSync(vsixDir, { recursive: true, force: true });
const interrupted = r.signal ? ` (interrupted by ${r.signal})` : '';
log(`e2e: ${summary ? `${summary.passed} passed, ${summary.failed} failed` : 'no results'}${interrupted} in ${seconds(t)} (${path.relative(ROOT, resultFile)})`);
process.exitCode = r.status === 0 && summary && summary.failed === 0 ? 0 : 1;
