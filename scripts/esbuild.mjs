// Bundles the four Node entry points (CommonJS) and the webview entry points (browser ESM).
// onnxruntime-node stays external: esbuild cannot bundle its .node binary.
import * as esbuild from 'esbuild';
import { existsSync, readdirSync, statSync } from 'node:fs';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

const nodeEntries = {
  extension: 'src/extension/extension.ts',
  // Loaded by the extension on first need (src/extension/languageServer.ts), not at activation.
  languageClient: 'src/extension/languageClient.ts',
  server: 'src/server/server.ts',
  worker: 'src/worker/worker.ts',
  cli: 'src/cli/main.ts',
  // The checks after quantizing a large model run in a child process (src/core/quantize/check.ts).
  check: 'src/core/quantize/checkProcess.ts',
  // Recipe reads and edits in the extension host, loaded on first need (src/extension/explorer/exclusions.ts).
  recipeFiles: 'src/extension/explorer/recipeFiles.ts',
  // The comparison dashboards with their report export, loaded the first time one is shown or restored
  // (src/extension/dashboard/dashboardGate.ts).
  dashboard: 'src/extension/dashboard/dashboard.ts',
};
const present = Object.fromEntries(Object.entries(nodeEntries).filter(([, p]) => existsSync(p)));

const webviewEntries = existsSync('webview')
  ? readdirSync('webview').filter((f) => /^[a-z-]+\.ts$/.test(f) && !f.endsWith('.d.ts')).map((f) => `webview/${f}`)
  : [];

const common = { bundle: true, sourcemap: !production, minify: production, logLevel: 'warning' };

const nodeOptions = (entryPoints, banner) => ({
  ...common,
  entryPoints,
  outdir: 'dist',
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['vscode', 'onnxruntime-node'],
  banner: { js: banner },
});
const { cli, ...hosted } = present;
const contexts = [await esbuild.context(nodeOptions(hosted, ''))];
// The CLI gets a shebang so `onnx-quantizer` runs after a global install.
if (cli) contexts.push(await esbuild.context(nodeOptions({ cli }, '#!/usr/bin/env node')));
if (webviewEntries.length) {
  contexts.push(
    await esbuild.context({
      ...common,
      entryPoints: webviewEntries,
      outdir: 'dist/webview',
      platform: 'browser',
      format: 'esm',
      target: 'es2022',
      loader: { '.css': 'text' },
    }),
  );
}

if (watch) {
  await Promise.all(contexts.map((c) => c.watch()));
  console.error('[esbuild] watching…');
} else {
  await Promise.all(contexts.map((c) => c.rebuild()));
  await Promise.all(contexts.map((c) => c.dispose()));
  printSizes();
}

/** Bundle sizes; the extension bundle is what VS Code loads at activation (kept under ACTIVATION_BUDGET). */
function printSizes() {
  const ACTIVATION_BUDGET = 150 * 1024;
  const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
  const rows = Object.keys(present).map((name) => [name, statSync(`dist/${name}.js`).size]);
  console.log(rows.map(([name, size]) => `dist/${name}.js ${kb(size)}${name === 'extension' ? ' (loaded at activation)' : ''}`).join(', '));
  const activation = rows.find(([name]) => name === 'extension')?.[1];
  if (activation !== undefined && activation > ACTIVATION_BUDGET) {
    console.error(`dist/extension.js is ${kb(activation)}, over the ${kb(ACTIVATION_BUDGET)} activation budget: load the rest on first need`);
    process.exitCode = 1;
  }
}
