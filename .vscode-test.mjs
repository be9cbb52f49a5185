// @vscode/test-cli configuration for machines with desktop VS Code (`npm run test:vscode`, which
// builds the extension and the integration bundles first). It runs the same compiled suites as
// the code-server harness (scripts/e2e/run-integration.mjs), which is what CI uses offline.
//   npx vscode-test --label integration   every suite but the Restricted Mode one, trust disabled
//   npx vscode-test --label restricted    restricted.test.js in an untrusted workspace
// VSCODE_TEST_VERSION overrides the VS Code version (default: the one code-server 4.100.3 ships).
import { defineConfig } from '@vscode/test-cli';
import { cpSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(fileURLToPath(import.meta.url));
const outDir = path.join(root, 'out', 'test', 'integration');
const RESTRICTED = 'restricted.test.js';

// The explicit list in test/integration/index.ts (built to out/); a glob if not built yet.
const index = path.join(outDir, 'index.js');
const suites = existsSync(index)
  ? createRequire(import.meta.url)(index).SUITES
  : (existsSync(outDir) ? readdirSync(outDir).filter((f) => f.endsWith('.test.js')) : []);

/** A fresh copy of the fixtures per configuration (tests write outputs and recipes into it). */
function fixtureWorkspace(label) {
  const dir = path.join(root, '.vscode-test', 'workspaces', label);
  rmSync(dir, { recursive: true, force: true });
  cpSync(path.join(root, 'test', 'fixtures'), dir, { recursive: true, filter: (src) => !/README\.md$|[\\/]build$/.test(src) });
  return dir;
}

const common = {
  version: process.env.VSCODE_TEST_VERSION || '1.100.3',
  extensionDevelopmentPath: root,
  env: { ONNX_QUANTIZER_TEST_HOOKS: '1' },
  mocha: { ui: 'tdd', timeout: 60000, color: true },
};

export default defineConfig([
  {
    ...common,
    label: 'integration',
    files: suites.filter((s) => s !== RESTRICTED).map((s) => `out/test/integration/${s}`),
    workspaceFolder: fixtureWorkspace('integration'),
    launchArgs: ['--disable-extensions', '--disable-workspace-trust'],
  },
  {
    ...common,
    label: 'restricted',
    files: `out/test/integration/${RESTRICTED}`,
    workspaceFolder: fixtureWorkspace('restricted'),
    // Trust stays enabled: a fresh profile opens the folder in Restricted Mode.
    launchArgs: ['--disable-extensions'],
  },
]);
