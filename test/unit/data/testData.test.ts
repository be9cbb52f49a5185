import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { testDataBeside } from '../../../src/core/data/testData';
import { compareModels } from '../../../src/core/evaluate/compare';
import { evaluationDataText } from '../../../src/core/report/format';

const FIXTURES = path.join(__dirname, '../../fixtures');

test('the labelled test set beside digits_cnn is found by its NAME_test_x/_y.npy naming and gives a labelled comparison', async () => {
  const found = testDataBeside(path.join(FIXTURES, 'digits_cnn.onnx'));
  assert.deepEqual(found, { data: path.join(FIXTURES, 'digits_test_x.npy'), labels: path.join(FIXTURES, 'digits_test_y.npy') });
  const r = await compareModels(path.join(FIXTURES, 'digits_cnn.onnx'), path.join(FIXTURES, 'digits_cnn_static_qnnpack_torch.onnx'), { runs: 2, warmup: 0, ...found });
  assert.equal(r.accuracy.inputs, 'data');
  assert.equal(r.accuracy.samples, 360);
  assert.ok(typeof r.accuracy.candidateAccuracy === 'number' && r.accuracy.candidateAccuracy > 0.9, JSON.stringify(r.accuracy));
  assert.equal(r.accuracy.dataFile, found?.data);
  assert.equal(r.accuracy.labelsFile, found?.labels);
  assert.equal(evaluationDataText(r.accuracy), 'digits_test_x.npy, 360 samples, labelled');
});

test('test data: the longest matching name wins, labels only with their inputs, other models get none', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oq-testdata-'));
  try {
    for (const f of ['digits_test_x.npy', 'digits_cnn_test_x.npy', 'digits_test_y.npy', 'mnist_test_y.npy']) fs.writeFileSync(path.join(dir, f), '');
    assert.deepEqual(testDataBeside(path.join(dir, 'digits_cnn.onnx')), { data: path.join(dir, 'digits_cnn_test_x.npy') });
    assert.deepEqual(testDataBeside(path.join(dir, 'digits_mlp.onnx')), { data: path.join(dir, 'digits_test_x.npy'), labels: path.join(dir, 'digits_test_y.npy') });
    assert.equal(testDataBeside(path.join(dir, 'mnist.onnx')), undefined);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
