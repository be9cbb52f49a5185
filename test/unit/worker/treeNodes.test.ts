// From a model to the explorer's rows: the worker's summarize job (called in-process here) and
// the pure tree shaping the Models view renders (no VS Code needed).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { summarize } from '../../../src/worker/jobs/summarize';
import { formatBytes } from '../../../src/core/report/format';
import { overviewGroups } from '../../../src/extension/explorer/treeNodes';

const fixtures = path.resolve(__dirname, '../../fixtures');

test('digits_mlp: operator rows with counts, quantizable marker and one checkbox row per Gemm layer', () => {
  const groups = overviewGroups(summarize({ kind: 'summarize', model: path.join(fixtures, 'digits_mlp.onnx') }, {}));
  assert.deepEqual(groups.map((g) => g.label), ['Inputs', 'Outputs', 'Operators', 'Largest initializers', 'Quantization']);
  const ops = groups.find((g) => g.group === 'operators')!;
  assert.equal(ops.description, '6 nodes, 5 quantizable');
  const gemm = ops.rows.find((r) => r.label === 'Gemm')!;
  assert.match(gemm.description ?? '', /^×3 · quantizable \(.*dynamic.*\)$/);
  assert.equal(gemm.contextValue, 'operator.quantizable');
  assert.deepEqual(gemm.children?.map((c) => c.layer), ['/fc1/Gemm', '/fc2/Gemm', '/fc3/Gemm']);
  // fc2 is the 256×256 layer: 256 KiB of float weights.
  assert.match(gemm.children?.[1]?.description ?? '', /^256\.0 KiB · /);
  const flatten = ops.rows.find((r) => r.label === 'Flatten')!;
  assert.equal(flatten.description, '×1');
  assert.equal(flatten.children, undefined);
  const inputs = groups.find((g) => g.group === 'inputs')!;
  assert.deepEqual(inputs.rows.map((r) => [r.label, r.description]), [['image', 'float32 [batch, 1, 8, 8]']]);
});

test('an already quantized model shows its format and how it was quantized', () => {
  const o = summarize({ kind: 'summarize', model: path.join(fixtures, 'digits_cnn_static_qnnpack_torch.onnx') }, {});
  const q = overviewGroups(o).find((g) => g.group === 'quantization')!;
  assert.equal(q.description, 'qdq');
  const details = q.rows.map((r) => `${r.label} ${r.description ?? ''}`.trim());
  assert.ok(details.some((d) => /^QuantizeLinear ×\d+, DequantizeLinear ×\d+$/.test(d)), details.join('\n'));
  assert.ok(details.some((d) => /^weight int8 per-(channel|tensor) ×\d+$/.test(d)), details.join('\n'));
});

test('formatBytes', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(1023), '1023 B');
  assert.equal(formatBytes(262144), '256.0 KiB');
  assert.equal(formatBytes(1536), '1.50 KiB');
  assert.equal(formatBytes(3 * 2 ** 30), '3.00 GiB');
});
