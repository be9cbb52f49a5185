// Bundles the integration suites for the extension host: test/integration/index.ts and every
// test/integration/*.test.ts → out/test/integration/<name>.js (CommonJS, vscode/mocha/onnxruntime
// external). One bundle per suite so @vscode/test-cli can load the same files by glob.
import * as esbuild from 'esbuild';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = path.join(ROOT, 'test', 'integration');
export const OUT_DIR = path.join(ROOT, 'out', 'test', 'integration');

export async function buildIntegrationTests() {
  const entryPoints = readdirSync(dir)
    .filter((f) => f === 'index.ts' || f.endsWith('.test.ts'))
    .map((f) => path.join(dir, f));
  await esbuild.build({
    entryPoints,
    outdir: OUT_DIR,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    sourcemap: 'inline',
    external: ['vscode', 'mocha', 'onnxruntime-node'],
    logLevel: 'warning',
  });
  return path.join(OUT_DIR, 'index.js');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildIntegrationTests();
}
