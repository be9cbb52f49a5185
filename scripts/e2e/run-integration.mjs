#!/usr/bin/env node
// Runs the mocha integration suites INSIDE code-server's extension host (like @vscode/test-electron
// does in desktop VS Code): the workbench payload loads this repo as a development extension
// (extensionDevelopmentPath) plus out/test/integration/index.js (extensionTestsPath); the exit code
// comes from window.codeAutomationExit, mocha's output from window.codeAutomationLog.
//
// Two passes, each with its own throwaway code-server and workspace copy of test/fixtures:
//   trusted     every suite except restricted.test.js (--disable-workspace-trust)
//   restricted  restricted.test.js with workspace trust enabled and the folder untrusted
//
// Usage: node scripts/e2e/run-integration.mjs [--grep PATTERN] [--pass trusted|restricted] [--suites a.test.js,b.test.js (any built suite)]
//          [--extension-path DIR]  (load the extension from DIR instead of the repo, e.g. a modified copy)
// Env:   E2E_NO_BUILD=1 (skip npm run build), E2E_TIMEOUT_MS (per pass, default 600000),
//        E2E_KEEP=1 (keep the throwaway dirs), E2E_VERBOSE=1 (echo the workbench log)
// Writes test/.tmp/integration-results.json; exits non-zero if any test failed or a pass did not finish.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import util from 'node:util';
import { parseArgs } from 'node:util';
import {
  ROOT, log, seconds, ensureCodeServer, buildExtension, makeRunDir, startCodeServer, launchChromium,
  workbenchUrl, devExtensionPayload, withTimeout,
} from './lib.mjs';
import { buildIntegrationTests } from './build-integration.mjs';

const { values: cli } = parseArgs({ options: { grep: { type: 'string' }, pass: { type: 'string' }, suites: { type: 'string' }, 'extension-path': { type: 'string' } } });
const EXTENSION_PATH = cli['extension-path'] ? path.resolve(cli['extension-path']) : ROOT;
const TIMEOUT_MS = Number(process.env.E2E_TIMEOUT_MS || 600000);
const RESULT_FILE = path.join(ROOT, 'test', '.tmp', 'integration-results.json');
const RESTRICTED = 'restricted.test.js';

const PASSES = [
  { name: 'trusted', trusted: true, suites: (all) => all.filter((s) => s !== RESTRICTED) },
  { name: 'restricted', trusted: false, suites: (all) => all.filter((s) => s === RESTRICTED) },
];

/** The suite list from the built index.js (the single source of truth; mocha is only required by run()). */
const allSuites = (indexJs) => createRequire(import.meta.url)(indexJs).SUITES;

// Workbench log lines worth echoing: the extension host's console (mocha's spec reporter) and errors.
const NOISE = /open-vsx\.org|ENOTFOUND|Failed to load resource|\[Extension Host\] Debugger|marketplace/i;

async function runPass(browser, indexJs, pass, suites) {
  const t = Date.now();
  const { dir, workspace } = makeRunDir(`it-${pass.name}`);
  const resultFile = path.join(dir, 'mocha-results.json');
  const env = { ONNX_QUANTIZER_TEST_HOOKS: '1', ONNXQ_TEST_RESULT: resultFile, ONNXQ_TEST_SUITES: suites.join(','), ONNXQ_TEST_WORKSPACE: workspace };
  if (cli.grep) env.ONNXQ_TEST_GREP = cli.grep;
  let server, context, exitCode = null, error = null;
  try {
    server = await startCodeServer({ dir, folder: workspace, trusted: pass.trusted, env });
    log(`[${pass.name}] code-server ${server.url} (pid ${server.pid}) listening after ${server.ready} ms`);
    context = await browser.newContext();
    const page = await context.newPage();
    let onExit;
    const exited = new Promise((resolve) => { onExit = resolve; });
    // Both must exist before the workbench loads: it checks `typeof window.codeAutomationExit`.
    await page.exposeFunction('codeAutomationExit', (code) => onExit(code));
    await page.exposeFunction('codeAutomationLog', (type, args) => {
      const text = util.format(...(Array.isArray(args) ? args : [args]));
      if (NOISE.test(text)) return;
      if (process.env.E2E_VERBOSE || type === 'error' || /^\s*(\[onnx|✔|✓|[0-9]+\)|passing|failing|pending)|^\s{2,}\S/.test(text)) {
        for (const line of text.split('\n')) console.log(`  ${line}`);
      }
    });
    page.on('pageerror', (e) => console.log(`  [page error] ${e.message}`));
    await page.goto(workbenchUrl(server, workspace, devExtensionPayload(server, indexJs, EXTENSION_PATH)));
    exitCode = await withTimeout(exited, TIMEOUT_MS, `codeAutomationExit from the ${pass.name} pass`);
  } catch (e) {
    error = e.message;
    log(`[${pass.name}] ${e.message}`);
  } finally {
    if (context) await context.close().catch(() => {});
    if (server) await server.stop();
  }
  let mocha = null;
  try { mocha = JSON.parse(fs.readFileSync(resultFile, 'utf8')); } catch { /* the run never got to write it */ }
  const ok = exitCode === 0 && mocha !== null && mocha.failed === 0;
  if (!ok && !error) error = mocha ? `${mocha.failed} test(s) failed` : `extension host exited with ${exitCode} before mocha reported (see ${dir})`;
  if (!ok || process.env.E2E_KEEP) log(`[${pass.name}] logs kept in ${dir} (code-server.log, user-data/logs/*/exthost*/)`);
  else fs.rmSync(dir, { recursive: true, force: true });
  log(`[${pass.name}] ${ok ? 'passed' : 'FAILED'} in ${seconds(t)}`);
  return { name: pass.name, trusted: pass.trusted, ok, exitCode, error, durationMs: Date.now() - t, mocha };
}

async function main() {
  const t = Date.now();
  ensureCodeServer();
  buildExtension();
  const indexJs = await buildIntegrationTests();
  const all = allSuites(indexJs);
  const only = cli.suites ? cli.suites.split(',') : null;
  const passes = PASSES.filter((p) => !cli.pass || p.name === cli.pass)
    // --suites may name a built file outside SUITES too (the benches' hostResponsiveness.bench.test.js).
    .map((p) => ({ ...p, list: p.suites(only ?? all) }))
    .filter((p) => p.list.length);
  const browser = await launchChromium();
  const results = [];
  try {
    for (const pass of passes) results.push(await runPass(browser, indexJs, pass, pass.list));
  } finally {
    await browser.close();
  }
  const tests = results.flatMap((r) => (r.mocha?.tests ?? []).map((x) => ({ pass: r.name, ...x })));
  const summary = {
    ok: results.length > 0 && results.every((r) => r.ok),
    passed: tests.filter((x) => x.state === 'passed').length,
    failed: tests.filter((x) => x.state === 'failed').length + results.filter((r) => !r.ok && !r.mocha?.failed).length,
    pending: tests.filter((x) => x.state === 'pending').length,
    durationMs: Date.now() - t,
    passes: results.map(({ mocha, ...r }) => r),
    tests,
  };
  fs.mkdirSync(path.dirname(RESULT_FILE), { recursive: true });
  fs.writeFileSync(RESULT_FILE, JSON.stringify(summary, null, 2));
  for (const x of tests.filter((x) => x.state === 'failed')) console.log(`FAIL [${x.pass}] ${x.title}: ${x.error?.split('\n')[0]}`);
  for (const r of results.filter((r) => !r.ok)) console.log(`FAIL pass ${r.name}: ${r.error}`);
  console.log(`integration: ${summary.passed} passed, ${summary.failed} failed, ${summary.pending} pending in ${seconds(t)} `
    + `(${path.relative(ROOT, RESULT_FILE)})`);
  process.exitCode = summary.ok ? 0 : 1;
}

main().catch((e) => { console.error(e.stack || e); process.exitCode = 1; });
