// Runs node's test runner (with tsx for TypeScript) over the given test files and the test files
// found under the given folders.
// Node 20's --test does not expand globs itself, so we list the files here.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const roots = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const passthrough = process.argv.slice(2).filter((a) => a.startsWith('--'));
const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.ts')) files.push(p);
  }
};
for (const r of roots.length ? roots : ['test/unit']) {
  if (!existsSync(r)) continue;
  if (statSync(r).isDirectory()) walk(r);
  else files.push(r);
}
if (files.length === 0) {
  console.error('no test files found under', roots.join(', '));
  process.exit(1);
}
// TEST_COUNTS_FILE (set by test-all.mjs): also write {passed, failed, skipped} there.
const counts = process.env.TEST_COUNTS_FILE
  ? ['--test-reporter=./scripts/count-reporter.mjs', `--test-reporter-destination=${process.env.TEST_COUNTS_FILE}`]
  : [];
const reporters = ['--test-reporter=spec', ...(counts.length ? ['--test-reporter-destination=stdout', ...counts] : [])];
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', ...reporters, ...passthrough, ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
