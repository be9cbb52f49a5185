// extensionTestsPath module: the extension host require()s the bundle of this file and awaits
// run(). The same entry works in code-server (scripts/e2e/run-integration.mjs, via the workbench
// payload) and in desktop VS Code (@vscode/test-electron); @vscode/test-cli uses its own runner
// over the same compiled *.test.js files (.vscode-test.mjs).
//
// Environment (set by the harness, reaches the extension host through code-server's env):
//   ONNXQ_TEST_SUITES  comma-separated file names to run (default: SUITES)
//   ONNXQ_TEST_GREP    mocha grep
//   ONNXQ_TEST_RESULT  path of a JSON file receiving stats and per-test results
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Every suite, listed explicitly (each is bundled to out/test/integration/<name>.js). */
export const SUITES = [
  // First: it checks that activation alone starts no language server.
  'activation.test.js',
  'smoke.test.js',
  'explorer.test.js',
  'editor.test.js',
  'diagnostics.test.js',
  'codeaction.test.js',
  'textViewExtras.test.js',
  'quantize.test.js',
  'restricted.test.js',
];

interface TestRecord { title: string; state: 'passed' | 'failed' | 'pending'; ms?: number; error?: string }

function loadMocha(): typeof import('mocha') {
  // mocha 12 no longer exports the class as module.exports.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const m = require('mocha');
  return m.Mocha || m.default || m;
}

export function run(): Promise<void> {
  const Mocha = loadMocha();
  const mocha = new Mocha({ ui: 'tdd', color: false, timeout: 60000, reporter: 'spec' });
  if (process.env.ONNXQ_TEST_GREP) mocha.grep(process.env.ONNXQ_TEST_GREP);
  const wanted = process.env.ONNXQ_TEST_SUITES ? process.env.ONNXQ_TEST_SUITES.split(',').map((s) => s.trim()) : SUITES;
  for (const name of wanted) {
    const file = path.join(__dirname, name);
    if (!fs.existsSync(file)) return Promise.reject(new Error(`integration suite ${name} not found in ${__dirname}`));
    mocha.addFile(file);
  }
  const tests: TestRecord[] = [];
  return new Promise((resolve, reject) => {
    const runner = mocha.run((failures) => {
      const { passes = 0, pending = 0, duration = 0 } = runner.stats ?? {};
      const summary = { passed: passes, failed: failures, pending, durationMs: duration, suites: wanted, tests };
      console.log(`[onnx-quantizer integration] ${passes} passed, ${failures} failed, ${pending} pending`);
      if (process.env.ONNXQ_TEST_RESULT) fs.writeFileSync(process.env.ONNXQ_TEST_RESULT, JSON.stringify(summary, null, 2));
      if (failures) reject(new Error(`${failures} integration test(s) failed`));
      else resolve();
    });
    runner.on('pass', (t) => tests.push({ title: t.fullTitle(), state: 'passed', ms: t.duration }));
    runner.on('pending', (t) => tests.push({ title: t.fullTitle(), state: 'pending' }));
    runner.on('fail', (t, err: Error) => tests.push({ title: t.fullTitle(), state: 'failed', error: String(err?.stack ?? err) }));
  });
}
