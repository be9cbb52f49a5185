import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

// The layers, as imports show them (static, dynamic and `import type` alike):
//   src/core       the engine: imports no other layer of ours, and never 'vscode'
//   src/shared     the protocols (job, webview, graph webview, LSP): may name core's types, nothing above
//   webview/       the browser code: imports only its own files and the webview protocols
//   src/extension  never imports the server's or the worker's code (it talks to them over a protocol)
// Only src/extension/ imports 'vscode'.
const ROOT = path.join(__dirname, '../../..');

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? tsFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Every module specifier a file imports or re-exports. */
function specifiers(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm)) if (m[1]) out.push(m[1]);
  return out;
}

/** Imports of `area`'s files, relative ones resolved to repository paths (`src/core/x`), packages as named. */
function importsOf(area: string): { file: string; target: string }[] {
  return tsFiles(path.join(ROOT, area)).flatMap((file) =>
    specifiers(file).map((s) => ({
      file: path.relative(ROOT, file),
      target: s.startsWith('.') ? path.relative(ROOT, path.resolve(path.dirname(file), s)).split(path.sep).join('/') : s,
    })),
  );
}

const offending = (area: string, bad: (target: string) => boolean): string[] =>
  importsOf(area).filter((i) => bad(i.target)).map((i) => `${i.file} → ${i.target}`);

const within = (target: string, ...dirs: string[]): boolean => dirs.some((d) => target === d || target.startsWith(`${d}/`));
const LAYERS = ['src/core', 'src/shared', 'src/worker', 'src/server', 'src/extension', 'src/cli', 'webview'];

for (const area of ['src/core', 'src/worker', 'src/server', 'src/cli', 'src/shared', 'webview']) {
  test(`${area} does not import 'vscode'`, () => {
    assert.deepEqual(offending(area, (t) => t === 'vscode'), []);
  });
}

test('core imports no other layer (not shared, nothing above)', () => {
  assert.deepEqual(offending('src/core', (t) => within(t, ...LAYERS.filter((l) => l !== 'src/core'))), []);
});

test('shared (the protocols) imports nothing above core', () => {
  assert.deepEqual(offending('src/shared', (t) => within(t, 'src/worker', 'src/server', 'src/extension', 'src/cli', 'webview')), []);
});

test('shared holds exactly the protocols: job (and its test-only extension), webview, graph webview, LSP', () => {
  const entries = fs.readdirSync(path.join(ROOT, 'src/shared')).sort();
  assert.deepEqual(entries, ['graphMessages.ts', 'lsp', 'protocol.ts', 'testJobs.ts', 'webviewMessages.ts']);
});

test('the test-only jobs are known only to the worker entry (under its switch) and its test hooks', () => {
  const users = LAYERS.flatMap((area) => importsOf(area).filter((i) => within(i.target, 'src/shared/testJobs')).map((i) => i.file));
  assert.deepEqual([...new Set(users)].sort(), ['src/worker/jobs/testHooks.ts', 'src/worker/worker.ts']);
});

test('webview imports only its own files and the webview protocols', () => {
  const allowed = (t: string): boolean => within(t, 'webview', 'src/shared/webviewMessages', 'src/shared/graphMessages') || t.startsWith('@vscode-elements/');
  assert.deepEqual(offending('webview', (t) => !allowed(t)), []);
});

test('extension imports neither the server nor the worker', () => {
  assert.deepEqual(offending('src/extension', (t) => within(t, 'src/server', 'src/worker')), []);
});

test('the import scan sees imports (it would catch a violation)', () => {
  const ext = importsOf('src/extension').map((i) => i.target);
  assert.ok(ext.includes('vscode') && ext.some((t) => within(t, 'src/shared')), 'extension imports vscode and the protocols');
  assert.ok(importsOf('webview').some((i) => within(i.target, 'src/shared/webviewMessages')), 'webview imports its protocol');
});
