import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { makeTempDir, outlierModel, writeModelFile } from '../../fixtures/build';
import { buildCli, runCli } from './inspect-helpers';

const tmp = makeTempDir('onnxq-inspect-stats-');
process.on('exit', tmp.cleanup);
before(() => buildCli());

test('inspect --json reads no weight statistics unless --stats asks; the table view has them', () => {
  const file = writeModelFile(tmp.dir, 'outlier.onnx', outlierModel());
  const notesOf = (args: string[]): string[] => {
    const r = runCli(['inspect', file, '--json', ...args]);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { layers: { notes: string[] }[] }).layers.flatMap((l) => l.notes);
  };
  assert.ok(!notesOf([]).some((n) => /outlier-dominated/.test(n)), 'no statistics by default');
  assert.ok(notesOf(['--stats']).some((n) => /outlier-dominated/.test(n)), 'statistics with --stats');
  assert.match(runCli(['inspect', file]).stdout, /outlier-dominated/);
});
