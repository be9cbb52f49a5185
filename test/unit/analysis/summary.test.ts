import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { summarizeModel, type ModelSummary } from '../../../src/core/analysis/summary';
import { loadModel } from '../../../src/core/onnx/model';
import type { ModelProto } from '../../../src/core/onnx/schema';
import {
  BUILT_MODELS,
  MARKUP_NAME,
  dynamicModel,
  makeTempDir,
  markupModel,
  matmulNBitsModel,
  qdqConvModel,
  qoperatorModel,
  subgraphModel,
  writeExternalDataModel,
  writeModelFile,
} from '../../fixtures/build';

const FIXTURES = path.join(__dirname, '../../fixtures');

function summarize(proto: ModelProto): ModelSummary {
  const { dir, cleanup } = makeTempDir();
  try {
    return summarizeModel(loadModel(writeModelFile(dir, 'm.onnx', proto)));
  } finally {
    cleanup();
  }
}

test('digits_mlp: the contract keys with the values the sample README documents', () => {
  const s = summarizeModel(loadModel(path.join(FIXTURES, 'digits_mlp.onnx')));
  assert.equal(s.fileBytes, fs.statSync(path.join(FIXTURES, 'digits_mlp.onnx')).size);
  assert.equal(s.irVersion, 7);
  assert.deepEqual(s.producer, { name: 'pytorch', version: '1.13.0' });
  assert.deepEqual(s.opsets, { 'ai.onnx': 13 });
  assert.deepEqual(s.inputs, [{ name: 'image', dtype: 'float32', shape: ['batch', 1, 8, 8] }]);
  assert.deepEqual(s.outputs, [{ name: 'logits', dtype: 'float32', shape: ['batch', 10] }]);
  assert.equal(s.nodeCount, 6);
  assert.deepEqual(s.opCounts, { Gemm: 3, Relu: 2, Flatten: 1 });
  assert.equal(s.initializerCount, 6);
  assert.equal(s.parameterCount, 85_002);
  assert.equal(s.initializerBytes, 85_002 * 4);
  assert.deepEqual(s.quantization.format, 'none');
  assert.equal(s.quantization.quantizedNodeCount, 0);
  assert.deepEqual(s.byOpType, { Gemm: { tensors: 6, parameters: 85_002, bytes: 340_008 } });
  assert.deepEqual(s.byDtype, { float32: { tensors: 6, parameters: 85_002, bytes: 340_008 } });
  assert.deepEqual(s.largestTensors.map((t) => t.name).slice(0, 2), ['fc2.weight', 'fc1.weight']);
  assert.deepEqual(
    s.layers.map((l) => [l.node, l.opType, l.modes.join('+')]),
    [
      ['/fc1/Gemm', 'Gemm', 'dynamic+static+weight-only'],
      ['/relu1/Relu', 'Relu', 'static'],
      ['/fc2/Gemm', 'Gemm', 'dynamic+static+weight-only'],
      ['/relu2/Relu', 'Relu', 'static'],
      ['/fc3/Gemm', 'Gemm', 'dynamic+static+weight-only'],
    ],
  );
});

test('PyTorch QDQ model: format qdq, weights held in Constant nodes, int8 weights use their range', () => {
  const s = summarizeModel(loadModel(path.join(FIXTURES, 'digits_cnn_static_qnnpack_torch.onnx')));
  assert.equal(s.quantization.format, 'qdq');
  assert.equal(s.quantization.quantizeLinearCount, 9);
  assert.equal(s.quantization.dequantizeLinearCount, 20);
  assert.equal(s.initializerCount, 0);
  assert.ok(s.constants.tensors === 64 && s.constants.parameters > 148_000);
  const weights = s.quantization.tensors.filter((t) => t.role === 'weight');
  assert.equal(weights.length, 5); // 4 Conv + 1 Gemm
  for (const w of weights) {
    assert.equal(w.type, 'int8');
    assert.ok(w.stored && w.stored.rangeUse > 0.8, `${w.tensor} uses ${w.stored?.rangeUse}`);
    assert.equal(w.notes.length, 0);
  }
  assert.ok(s.layers.filter((l) => l.opType === 'Conv').every((l) => l.quantized === 'qdq'));
});

test('quantized formats of the built fixtures', () => {
  const expected: Record<string, string> = {
    'mlp.onnx': 'none',
    'subgraphs.onnx': 'none',
    'fp16.onnx': 'fp16',
    'int4_weight_only.onnx': 'weight-only',
    'qdq_conv.onnx': 'qdq',
    'qoperator.onnx': 'qoperator',
    'dynamic.onnx': 'dynamic',
    'matmul_nbits.onnx': 'weight-only',
    'unfusable.onnx': 'none',
  };
  for (const m of BUILT_MODELS) {
    if (!(m.file in expected)) continue;
    assert.equal(summarize(m.build()).quantization.format, expected[m.file], m.file);
  }
  // Two families in one model: mixed.
  const mixed = dynamicModel();
  const nbits = matmulNBitsModel();
  mixed.graph!.node.push(...nbits.graph!.node.map((n) => ({ ...n, input: ['y', ...n.input.slice(1)], output: ['z'] })));
  mixed.graph!.initializer.push(...nbits.graph!.initializer);
  mixed.opsetImport.push(...nbits.opsetImport.filter((o) => o.domain === 'com.microsoft'));
  const s = summarize(mixed);
  assert.equal(s.quantization.format, 'mixed');
  assert.deepEqual([...s.quantization.families].sort(), ['dynamic', 'weight-only']);
  assert.equal(s.quantization.quantizedNodeCount, 2);
  assert.equal(s.opCounts['com.microsoft.MatMulNBits'], 1);
});

test('quantization parameters: per-channel scales, stored range and values at the clip limits', () => {
  const q = summarize(qdqConvModel()).quantization;
  const w = q.tensors.find((t) => t.tensor === 'W_quantized')!;
  assert.deepEqual(w.scale, { kind: 'per-channel', axis: 0, count: 4, min: Math.fround(0.005), max: Math.fround(0.04) });
  assert.deepEqual(w.zeroPoint, { kind: 'per-channel', count: 4, min: 0, max: 0 });
  assert.deepEqual(w.stored, { elements: 108, min: -128, max: 127, qmin: -128, qmax: 127, atQmin: 1, atQmax: 1, rangeUse: 1 });
  assert.deepEqual(w.notes, []);
  const x = q.tensors.find((t) => t.tensor === 'x_q')!;
  assert.equal(x.role, 'activation');
  assert.deepEqual(x.zeroPoint, { kind: 'per-tensor', value: 0 });
  assert.equal(q.tensors.find((t) => t.tensor === 'B_quantized')!.role, 'bias');
  assert.equal(q.quantizedNodeCount, 1);

  const poor = summarize(qoperatorModel()).quantization.tensors.find((t) => t.tensor === 'W_q')!;
  assert.deepEqual([poor.stored!.min, poor.stored!.max], [-30, 30]);
  assert.match(poor.notes.join(), /use only 61 of 256 levels/);
  const nb = summarize(matmulNBitsModel()).quantization.tensors.find((t) => t.opType === 'MatMulNBits')!;
  assert.deepEqual(nb.zeroPoint, { kind: 'implicit', value: 8 });
  assert.equal(nb.type, 'uint4');
  assert.deepEqual([nb.stored!.min, nb.stored!.max, nb.stored!.elements], [0, 15, 256]);
});

test('subgraphs are counted apart; initializers of every graph are counted', () => {
  const s = summarize(subgraphModel());
  assert.equal(s.nodeCount, 2);
  assert.deepEqual(s.opCounts, { If: 1, Loop: 1 });
  assert.deepEqual(s.subgraphs, { count: 3, nodeCount: 5, opCounts: { Add: 2, Identity: 1, Mul: 1, Relu: 1 } });
  assert.equal(s.initializerCount, 5);
  assert.equal(s.parameterCount, 1 + 1 + 6 + 3 + 1);
  assert.deepEqual(s.outputs[1], { name: 'y_scan', dtype: 'float32', shape: [null, 2, 3] });
});

test('external data: fileBytes counts the data file; tensors are read from it', () => {
  const { dir, cleanup } = makeTempDir();
  try {
    const d = path.join(dir, 'm');
    fs.mkdirSync(d);
    const { model, data } = writeExternalDataModel(d, 'valid');
    const s = summarizeModel(loadModel(model));
    assert.equal(s.fileBytes, fs.statSync(model).size + fs.statSync(data).size);
    assert.deepEqual(s.externalFiles, [{ location: 'weights.bin', bytes: fs.statSync(data).size }]);
    assert.ok(s.largestTensors[0]!.external);
    assert.equal(s.initializerBytes, (16 * 8 + 8) * 4);
    const mm = s.layers.find((l) => l.node === 'matmul')!;
    assert.deepEqual(mm.modes, ['dynamic', 'static', 'weight-only']);
  } finally {
    cleanup();
  }
});

test('names with markup come through verbatim (escaping is the renderer’s job)', () => {
  const s = summarize(markupModel());
  assert.equal(s.layers[0]!.node, MARKUP_NAME);
  assert.equal(s.inputs[0]!.name, `x${MARKUP_NAME}`);
  assert.deepEqual(s.inputs[0]!.shape, [`batch${MARKUP_NAME}`, 16]);
  assert.equal(s.producer.name, `<b>producer</b>${MARKUP_NAME}`);
  assert.ok(JSON.stringify(s).includes(MARKUP_NAME));
});
