import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

// The architecture rule: the engine (CLI, worker and language server share it) and the webview
// code never import 'vscode'; only src/extension/ does.
const ROOT = path.join(__dirname, '../../..');

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? tsFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

for (const area of ['src/core', 'src/worker', 'src/server', 'src/cli', 'src/shared', 'webview']) {
  test(`${area} does not import 'vscode'`, () => {
    const files = tsFiles(path.join(ROOT, area));
    assert.ok(files.length > 0, `${area} has TypeScript files`);
    const offenders = files.filter((f) => /(?:from\s+|require\(\s*|import\(\s*)['"]vscode['"]/.test(fs.readFileSync(f, 'utf8')));
    assert.deepEqual(offenders.map((f) => path.relative(ROOT, f)), []);
  });
}
