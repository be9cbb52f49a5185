#!/usr/bin/env node
// Every test layer, one after another: build, typecheck, lint, unit, server, fuzz, integration (mocha in
// code-server's extension host), end-to-end (Playwright UI; dev extension, then the packaged VSIX).
// The code-server/chromium setup runs first (cached outside the clone; apt when root on Debian).
// A step whose npm script is missing, or that runs no test, fails; a failing step does not stop the others;
// exit code 1 if any failed.
// Usage: node scripts/test-all.mjs [--only unit,integration,...]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const scripts = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts ?? {};
const onlyArg = process.argv.indexOf('--only');
const only = onlyArg > 0 ? process.argv[onlyArg + 1]?.split(',') : null;

const STEPS = [
  { name: 'setup', run: ['bash', 'scripts/install-code-server.sh'], quietStdout: true },
  { name: 'build', npm: 'build' },
  { name: 'typecheck', npm: 'typecheck' },
  { name: 'lint', npm: 'lint' },
  { name: 'unit', npm: 'test:unit', counts: 'node' },
  { name: 'server', npm: 'test:server', counts: 'node' },
  { name: 'fuzz', npm: 'test:fuzz', counts: 'node' },
  // A deterministic sample of the ONNX backend test models through the quantizer (npm run sweep: all).
  { name: 'sweep', npm: 'test:sweep', counts: 'node' },
  // Third-party models (npm pack, pinned, cached outside the clone) on realistic inputs: the fast subset.
  // Without the cache and the npm registry its tests skip, with the reason printed (skipOk).
  { name: 'real', npm: 'test:real:fast', counts: 'node', skipOk: true },
  { name: 'integration', npm: 'test:integration', counts: 'test/.tmp/integration-results.json' },
  { name: 'e2e', npm: 'test:e2e', counts: 'test/.tmp/e2e-results.json' },
  // The packaged VSIX installed into code-server: catches what packaging leaves out.
  { name: 'e2e-vsix', npm: 'test:e2e:vsix', counts: 'test/.tmp/e2e-results.json' },
];

const env = { ...process.env, E2E_NO_BUILD: '1' };
const countsFile = path.join(ROOT, 'test', '.tmp', 'unit-counts.json');
fs.mkdirSync(path.dirname(countsFile), { recursive: true });
/** Tests counted by a step: node:test steps through the count reporter, code-server runs from their result files. */
function readCounts(step) {
  const file = step.counts === 'node' ? countsFile : path.join(ROOT, step.counts);
  try {
    const c = JSON.parse(fs.readFileSync(file, 'utf8'));
    return { passed: c.passed ?? 0, failed: c.failed ?? 0, skipped: (c.skipped ?? 0) + (c.pending ?? 0), flaky: (c.flaky ?? []).map((f) => f.file) };
  } catch {
    return undefined;
  }
}
const results = [];
for (const step of STEPS) {
  if (only && !only.includes(step.name) && !['setup', 'build'].includes(step.name)) continue;
  if (step.npm && !scripts[step.npm]) { results.push({ name: step.name, state: 'FAILED (no npm script)' }); continue; }
  const cmd = step.npm ? ['npm', 'run', '--silent', step.npm] : step.run;
  console.log(`\n=== ${step.name}: ${cmd.join(' ')}`);
  const t = Date.now();
  if (step.counts) fs.rmSync(step.counts === 'node' ? countsFile : path.join(ROOT, step.counts), { force: true });
  const stepEnv = step.counts === 'node' ? { ...env, TEST_COUNTS_FILE: countsFile } : env;
  const r = spawnSync(cmd[0], cmd.slice(1), { cwd: ROOT, env: stepEnv, stdio: ['ignore', step.quietStdout ? 'ignore' : 'inherit', 'inherit'] });
  const counts = step.counts ? readCounts(step) : undefined;
  let state = r.status === 0 ? 'passed' : `FAILED (exit ${r.status ?? r.signal})`;
  // A test step that exits 0 without having run a test has not shown anything.
  if (r.status === 0 && step.counts && !(counts && counts.passed > 0)) {
    state = step.skipOk && counts && counts.skipped > 0 ? 'skipped' : 'FAILED (no test ran)';
  }
  results.push({ name: step.name, state, s: (Date.now() - t) / 1000, counts });
  // Nothing later can run without a build or the code-server setup.
  if (r.status !== 0 && (step.name === 'build' || step.name === 'setup')) break;
}

console.log('\n=== summary');
const total = { passed: 0, failed: 0, skipped: 0 };
for (const r of results) {
  const flaky = r.counts?.flaky?.length ? `; flaky, passed when run again: ${r.counts.flaky.join(', ')}` : '';
  const c = r.counts ? `  (${r.counts.passed} passed, ${r.counts.failed} failed, ${r.counts.skipped} skipped${flaky})` : '';
  console.log(`${r.name.padEnd(12)} ${r.state}${r.s !== undefined ? `  ${r.s.toFixed(1)} s` : ''}${c}`);
  for (const k of Object.keys(total)) total[k] += r.counts?.[k] ?? 0;
}
const failedSteps = results.filter((r) => r.state.startsWith('FAILED')).length;
// A failed step counts as a failure even when its runner could not report test counts.
const failed = Math.max(total.failed, failedSteps > 0 ? failedSteps : 0);
console.log(`\ntests: ${total.passed} passed, ${failed} failed, ${total.skipped} skipped`);
process.exitCode = failedSteps > 0 ? 1 : 0;
