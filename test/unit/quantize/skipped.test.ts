import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { quantizeFile } from '../../../src/core/quantize/index';
import { skipGroups, skippedText } from '../../../src/core/quantize/skipped';

const FIXTURES = path.join(__dirname, '../../fixtures');

test('skip reasons of digits_cnn in dynamic mode: the four Convs in one group that points to static mode', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnxq-skipped-'));
  try {
    const r = await quantizeFile(path.join(FIXTURES, 'digits_cnn.onnx'), path.join(dir, 'cnn.int8.onnx'), { mode: 'dynamic', validate: false, speedCheck: false, fidelity: false });
    const groups = skipGroups(r.skippedNodes);
    assert.equal(groups.length, 1, JSON.stringify(groups));
    assert.deepEqual([...(groups[0]?.nodes ?? [])].sort(), ['/down/down.0/Conv', '/res1/res1.0/Conv', '/res2/res2.0/Conv', '/stem/stem.0/Conv']);
    assert.match(skippedText(r.skippedNodes), /^4 × Conv stays float in dynamic mode .*static mode/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('skippedText: largest groups first, single nodes named, the rest counted', () => {
  const skipped = [
    { node: 'a', reason: 'r1' },
    { node: 'b', reason: 'r2' },
    { node: 'c', reason: 'r2' },
    { node: 'd', reason: 'r3' },
    { node: 'e', reason: 'r4' },
  ];
  assert.equal(skippedText(skipped), '2 × r2; a: r1; 2 more');
  assert.equal(skippedText([]), '');
});
