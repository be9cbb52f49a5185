#!/usr/bin/env node
// Every test layer, one after another: build, typecheck, unit, server, integration (mocha in
// code-server's extension host), end-to-end (Playwright UI; dev extension, then the packaged VSIX).
// The code-server/chromium setup runs first (cached outside the clone; apt when root on Debian).
// Steps whose npm script does not exist are skipped; a failing step does not stop the others;
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
  { name: 'unit', npm: 'test:unit' },
  { name: 'server', npm: 'test:server' },
  { name: 'integration', npm: 'test:integration' },
  { name: 'e2e', npm: 'test:e2e' },
  // The packaged VSIX installed into code-server: catches what packaging leaves out.
  { name: 'e2e-vsix', npm: 'test:e2e:vsix' },
];

const env = { ...process.env, E2E_NO_BUILD: '1' };
const results = [];
for (const step of STEPS) {
  if (only && !only.includes(step.name) && !['setup', 'build'].includes(step.name)) continue;
  if (step.npm && !scripts[step.npm]) { results.push({ name: step.name, state: 'skipped (no npm script)' }); continue; }
  const cmd = step.npm ? ['npm', 'run', '--silent', step.npm] : step.run;
  console.log(`\n=== ${step.name}: ${cmd.join(' ')}`);
  const t = Date.now();
  const r = spawnSync(cmd[0], cmd.slice(1), { cwd: ROOT, env, stdio: ['ignore', step.quietStdout ? 'ignore' : 'inherit', 'inherit'] });
  results.push({ name: step.name, state: r.status === 0 ? 'passed' : `FAILED (exit ${r.status ?? r.signal})`, s: (Date.now() - t) / 1000 });
  // Nothing later can run without a build or the code-server setup.
  if (r.status !== 0 && (step.name === 'build' || step.name === 'setup')) break;
}

console.log('\n=== summary');
for (const r of results) console.log(`${r.name.padEnd(12)} ${r.state}${r.s !== undefined ? `  ${r.s.toFixed(1)} s` : ''}`);
process.exitCode = results.some((r) => r.state.startsWith('FAILED')) ? 1 : 0;
