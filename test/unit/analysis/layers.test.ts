import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { analyzeLayers, reportedLayers, weightOnlyBytes, type LayerInfo } from '../../../src/core/analysis/layers';
import { indexModel } from '../../../src/core/onnx/graph-index';
import { loadModel } from '../../../src/core/onnx/model';
import type { ModelProto } from '../../../src/core/onnx/schema';
import {
  customOpModel,
  dynamicModel,
  embeddingModel,
  hugeChainModel,
  int4Model,
  int64WeightModel,
  mlpModel,
  outlierModel,
  qdqConvModel,
  qoperatorModel,
  subgraphModel,
  unfusableModel,
  wideRangeConvModel,
} from '../../fixtures/build';

const FIXTURES = path.join(__dirname, '../../fixtures');
const layersOf = (proto: ModelProto) => analyzeLayers({ proto });
const byNode = (layers: LayerInfo[], name: string) => {
  const l = layers.find((x) => x.node === name);
  assert.ok(l, `layer ${name}`);
  return l;
};

test('MatMul with a constant float weight: dynamic, static, weight-only from K ≥ 16; savings in bytes after', () => {
  const layers = layersOf(mlpModel({ inDim: 16, hidden: 32, outDim: 10 }));
  const mm0 = byNode(layers, 'matmul_0');
  assert.deepEqual(mm0.modes, ['dynamic', 'static', 'weight-only']);
  assert.equal(mm0.weightBytes, 16 * 32 * 4);
  assert.deepEqual(mm0.weights.map((w) => [w.name, w.dtype, w.shape.join('x')]), [['W0', 'float32', '16x32']]);
  assert.equal(mm0.savings.dynamic, 16 * 32 + 5);
  assert.equal(mm0.savings['weight-only'], 32 * (16 / 2) * 1 * 2 + 32 * 4); // one 32-block of K: 16 bytes packed + 4-byte scale per column
  assert.equal(mm0.savings['weight-only'], weightOnlyBytes(16, 32));
  assert.deepEqual(byNode(layers, 'add_0').modes, ['static']);
  assert.equal(byNode(layers, 'add_0').weightBytes, 0);
  // K = 15: too small for MatMulNBits.
  const small = byNode(layersOf(mlpModel({ inDim: 15 })), 'matmul_0');
  assert.deepEqual(small.modes, ['dynamic', 'static']);
});

test('Gemm and Conv from the real sample models: Gemm dynamic+static+weight-only (K = 128 with transB); Conv static with dynamic only on request', () => {
  const cnn = analyzeLayers(loadModel(path.join(FIXTURES, 'digits_cnn.onnx')));
  const conv = byNode(cnn, '/res1/res1.0/Conv');
  assert.deepEqual(conv.modes, ['static']);
  assert.deepEqual(conv.onRequest, ['dynamic']);
  assert.equal(conv.weightBytes, 64 * 64 * 3 * 3 * 4);
  const gemm = byNode(cnn, '/fc/Gemm');
  assert.deepEqual(gemm.modes, ['dynamic', 'static', 'weight-only']);
  assert.equal(gemm.weightBytes, 10 * 128 * 4);
});

test('LSTM: dynamic, weights W and R (the bias stays float); Gather of a Shape (int64) is not a layer', () => {
  const layers = analyzeLayers(loadModel(path.join(FIXTURES, 'digits_lstm.onnx')));
  const lstm = byNode(layers, '/lstm/LSTM');
  assert.deepEqual(lstm.modes, ['dynamic']);
  assert.deepEqual(lstm.weights.map((w) => w.input), [1, 2]);
  assert.equal(lstm.weightBytes, (512 * 8 + 512 * 128) * 4);
  const shapeGather = byNode(layers, '/lstm/Gather');
  assert.deepEqual(shapeGather.modes, []);
  assert.ok(!reportedLayers(layers).includes(shapeGather));
});

test('embedding Gather of a float table: dynamic (static passes no constant table through; rows of 16 are not whole weight-only blocks)', () => {
  const g = byNode(layersOf(embeddingModel()), 'embedding');
  assert.deepEqual(g.modes, ['dynamic']);
  assert.equal(g.weightBytes, 100 * 16 * 4);
});

test('outlier-dominated weights are flagged with numbers; a Gaussian weight next to it is not', () => {
  const layers = layersOf(outlierModel());
  const bad = byNode(layers, 'matmul_outlier');
  assert.ok(bad.risk.outlier, 'outlier risk present');
  assert.equal(bad.risk.outlier.tensor, 'W_outlier');
  assert.equal(bad.risk.outlier.absMax, Math.fround(5));
  assert.ok(bad.risk.outlier.ratio > 10 && bad.risk.outlier.absMaxP999 < 0.5);
  assert.ok(bad.notes.some((n) => /outlier-dominated.*15\.\d×.*99\.9th percentile/.test(n)), bad.notes.join('\n'));
  const good = byNode(layers, 'matmul_normal');
  assert.equal(good.risk.outlier, undefined);
  assert.deepEqual(good.notes, []);
  // stats: false skips the statistics (cheap mode).
  assert.equal(byNode(analyzeLayers({ proto: outlierModel() }, { stats: false }), 'matmul_outlier').risk.outlier, undefined);
});

test('channel ranges far apart are flagged "wide" with numbers (Conv output channels); real models are not', () => {
  const conv = byNode(layersOf(wideRangeConvModel()), 'conv_wide');
  const wide = conv.risk.wideRange;
  assert.ok(wide, 'wide-range risk present');
  assert.deepEqual([wide.tensor, wide.axis, wide.channels], ['W_wide', 0, 8]);
  assert.ok(wide.ratio > 15 && wide.ratio < 60, `ratio ${wide.ratio}`);
  assert.equal(conv.risk.outlier, undefined, 'a whole wide channel is not an outlier');
  assert.ok(conv.notes.some((n) => /wide range across channels.*use per-channel \(threshold 8×\)/.test(n)));
  for (const f of ['digits_cnn.onnx', 'digits_mlp.onnx', 'digits_lstm.onnx']) {
    const layers = analyzeLayers(loadModel(path.join(FIXTURES, f)));
    assert.deepEqual(layers.filter((l) => l.risk.wideRange || l.risk.outlier).map((l) => l.node), [], f);
  }
});

test('ops ORT cannot fuse when QDQ-wrapped get the "slower quantized" risk and no mode', () => {
  const layers = layersOf(unfusableModel());
  for (const op of ['LayerNormalization', 'Div', 'Sub', 'Pow', 'Tanh', 'Erf', 'Pad', 'ReduceMean']) {
    const l = layers.find((x) => x.opType === op)!;
    assert.deepEqual(l.modes, [], op);
    assert.match(l.risk.unfusable ?? '', /would run slower quantized/, op);
    assert.equal(l.notes.length, 1);
  }
});

test('a non-float weight is left float with the reason; a missing element type is reported', () => {
  const int64 = byNode(layersOf(int64WeightModel()), 'matmul_int64');
  assert.deepEqual(int64.modes, []);
  assert.equal(int64.risk.nonFloatWeight, "weight 'W_int' is INT64: left float (only float32 and float16 weights are quantized)");
  assert.equal(int64.weightBytes, 0);
  const custom = byNode(layersOf(customOpModel()), 'matmul_after_custom');
  assert.match(custom.risk.missingType ?? '', /no element type known for input 'm' \(output of example\.custom\.Mystery\)/);
  assert.ok(custom.modes.includes('dynamic') && custom.modes.includes('weight-only'), 'weight modes do not need activation types');
});

test('already-quantized nodes are marked by form and offered no mode', () => {
  assert.equal(byNode(layersOf(qdqConvModel()), 'conv').quantized, 'qdq');
  assert.deepEqual(byNode(layersOf(qdqConvModel()), 'conv').modes, []);
  assert.equal(byNode(layersOf(int4Model()), 'matmul_int4').quantized, 'weight-only');
  assert.equal(byNode(layersOf(qoperatorModel()), 'qlinear_matmul').quantized, 'qoperator');
  assert.equal(byNode(layersOf(dynamicModel()), 'matmul_quant').quantized, 'dynamic');
});

test('one entry per node of every graph, in graph-index order (the language server relies on it)', () => {
  const proto = subgraphModel();
  const index = indexModel(proto);
  const layers = analyzeLayers({ proto }, { index });
  assert.equal(layers.length, index.nodes.length);
  assert.equal(layers.length, 2 + 1 + 1 + 3);
  layers.forEach((l, i) => {
    assert.equal(l.index, index.nodes[i]?.index);
    assert.equal(l.node, index.nodes[i]?.key);
  });
  // Subgraph nodes are keyed by their path and labelled by their own name.
  const bodyAdd = byNode(layers, 'loop_node/body/body_add');
  assert.deepEqual(bodyAdd.modes, [], 'the static engine quantizes the main graph only');
  assert.equal(bodyAdd.depth, 1);
  assert.equal(bodyAdd.label, 'body_add');
});

test('10,000 nodes (5,000 weights): one entry each, every MatMul dynamic (its CPU time is in npm run bench -- inspect)', () => {
  const layers = analyzeLayers({ proto: hugeChainModel(10_000, 2) });
  assert.equal(layers.length, 10_000);
  assert.equal(layers.filter((l) => l.opType === 'MatMul' && l.modes.includes('dynamic')).length, 5000);
});

test('Gemm layers offer weight-only exactly where the quantizer turns them into MatMulNBits', async () => {
  const { quantizeFile } = await import('../../../src/core/quantize/index');
  const fs = await import('node:fs');
  const os = await import('node:os');
  const model = loadModel(path.join(FIXTURES, 'digits_mlp.onnx'));
  const layers = analyzeLayers(model);
  // digits_mlp: Gemm with transB=1, weights [256, 64], [256, 256], [10, 256]: K = 64, 256, 256.
  const gemms = layers.filter((l) => l.opType === 'Gemm');
  assert.equal(gemms.length, 3);
  for (const g of gemms) assert.ok(g.modes.includes('weight-only'), `${g.node}: ${g.modes.join(', ')}`);
  assert.equal(byNode(layers, '/fc1/Gemm').savings['weight-only'], weightOnlyBytes(64, 256));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnxq-layers-'));
  try {
    const r = await quantizeFile(model.path, path.join(dir, 'int4.onnx'), { mode: 'weight-only', validate: false, speedCheck: false });
    assert.equal(r.quantizedNodes, gemms.length, 'every Gemm the rules mark weight-only is quantized');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a Conv kept float in a static QDQ model is not reported quantized, though its activation comes through a DequantizeLinear', async () => {
  const { quantizeFile } = await import('../../../src/core/quantize/index');
  const fs = await import('node:fs');
  const os = await import('node:os');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnxq-layers-'));
  try {
    const out = path.join(dir, 'cnn.int8.onnx');
    const kept = '/down/down.0/Conv';
    await quantizeFile(path.join(FIXTURES, 'digits_cnn.onnx'), out, { mode: 'static', calibrationData: path.join(FIXTURES, 'digits_calib_x.npy'), excludeNodes: [kept], validate: false, speedCheck: false, fidelity: false });
    const model = loadModel(out);
    const layers = analyzeLayers(model);
    const index = indexModel(model.proto);
    const keptNode = index.nodes.find((n) => n.key === kept);
    assert.equal(index.producer(keptNode?.node.input[0] ?? '')?.node.opType, 'DequantizeLinear', 'its activation input is dequantized');
    assert.equal(byNode(layers, kept).quantized, undefined);
    assert.ok(byNode(layers, kept).weightBytes > 0, 'its float weight is counted');
    for (const conv of ['/stem/stem.0/Conv', '/res1/res1.0/Conv', '/res2/res2.0/Conv']) assert.equal(byNode(layers, conv).quantized, 'qdq', conv);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
