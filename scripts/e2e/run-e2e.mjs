#!/usr/bin/env node
// Playwright UI tests against code-server: sets up (cached), builds the extension once, then runs
// each test/e2e/*.e2e.mjs (node:test; each file starts its own code-server + chromium session)
// one after another (2 cores: parallel workbenches only slow each other down).
// Usage: node scripts/e2e/run-e2e.mjs [FILE...]    Env: E2E_NO_BUILD=1, E2E_KEEP=1
// Screenshots: test/e2e/screenshots/; results: test/.tmp/e2e-results.json
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, log, seconds, ensureCodeServer, buildExtension } from './lib.mjs';

const t = Date.now();
ensureCodeServer();
buildExtension();
const dir = path.join(ROOT, 'test', 'e2e');
const files = process.argv.slice(2).length
  ? process.argv.slice(2).map((f) => path.resolve(f))
  : fs.readdirSync(dir).filter((f) => f.endsWith('.e2e.mjs')).sort().map((f) => path.join(dir, f));
const resultFile = path.join(ROOT, 'test', '.tmp', 'e2e-results.json');
fs.mkdirSync(path.dirname(resultFile), { recursive: true });
const r = spawnSync(process.execPath, [
  '--test', '--test-concurrency=1',
  '--test-reporter=spec', '--test-reporter-destination=stdout',
  `--test-reporter=${path.join(ROOT, 'scripts', 'e2e', 'json-reporter.mjs')}`, `--test-reporter-destination=${resultFile}`,
  ...files,
], { cwd: ROOT, stdio: 'inherit', env: { ...process.env, E2E_NO_BUILD: '1' } });
let summary = null;
try { summary = JSON.parse(fs.readFileSync(resultFile, 'utf8')); } catch { /* reporter wrote nothing */ }
log(`e2e: ${summary ? `${summary.passed} passed, ${summary.failed} failed` : 'no results'} in ${seconds(t)} (${path.relative(ROOT, resultFile)})`);
process.exitCode = r.status === 0 && summary && summary.failed === 0 ? 0 : 1;
