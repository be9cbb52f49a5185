import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeGraph, makeModel, makeNode, makeValueInfo } from '../../../../src/core/onnx/builder';
import { DataType } from '../../../../src/core/onnx/dtype';
import type { OnnxModel } from '../../../../src/core/onnx/model';
import { modelToBytes } from '../../../../src/core/onnx/save';
import type { ModelProto } from '../../../../src/core/onnx/schema';
import { floatTensor, int64Tensor } from '../../../../src/core/onnx/tensor';
import { createSession, ort } from '../../../../src/core/runtime/ort';
import { makeSelection } from '../../../../src/core/quantize/selection';
import { quantizeStatic } from '../../../../src/core/quantize/static';
import { allNodes, optimizedOpCounts, staticOptions } from './helpers';
import { randomInputs, writeNpy } from './residualCnn';
import { seededRandom, standardNormal } from '../../../../src/core/util/random';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'static-ops-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

/** Conv → LeakyRelu → MaxPool → Conv → Clip(0,6) → AveragePool → (Conv 1×1 → Sigmoid) → Concat → Mul → Reshape → MatMul → Add → Softmax. */
function buildZoo(): ModelProto {
  const rand = seededRandom(42);
  const w = (name: string, dims: number[], std: number) => floatTensor(name, dims, Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => standardNormal(rand) * std));
  const nodes = [
    makeNode('Conv', ['x', 'w1', 'b1'], ['feat'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { name: 'conv1' }),
    makeNode('LeakyRelu', ['feat'], ['lrelu'], { alpha: { float: 0.1 } }, { name: 'lrelu' }),
    makeNode('MaxPool', ['lrelu'], ['mp'], { kernel_shape: [2, 2], strides: [2, 2] }, { name: 'maxpool' }),
    makeNode('Conv', ['mp', 'w2', 'b2'], ['c2'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { name: 'conv2' }),
    makeNode('Clip', ['c2', 'zero', 'six'], ['relu6'], {}, { name: 'relu6' }),
    makeNode('AveragePool', ['relu6'], ['ap'], { kernel_shape: [2, 2], strides: [2, 2] }, { name: 'avgpool' }),
    makeNode('Conv', ['ap', 'w3'], ['c3'], { kernel_shape: [1, 1] }, { name: 'conv3' }),
    makeNode('Sigmoid', ['c3'], ['sig'], {}, { name: 'sigmoid' }),
    makeNode('Concat', ['ap', 'sig'], ['cat'], { axis: 1 }, { name: 'concat' }),
    makeNode('Mul', ['cat', 'half'], ['scaled'], {}, { name: 'mul' }),
    makeNode('Reshape', ['scaled', 'shape'], ['flat'], {}, { name: 'reshape' }),
    makeNode('MatMul', ['flat', 'wfc'], ['mm'], {}, { name: 'matmul' }),
    makeNode('Add', ['mm', 'bfc'], ['logits'], {}, { name: 'bias_add' }),
    makeNode('Softmax', ['logits'], ['probs'], { axis: -1 }, { name: 'softmax' }),
  ];
  const inits = [
    w('w1', [8, 3, 3, 3], 0.3), w('b1', [8], 0.1), w('w2', [8, 8, 3, 3], 0.15), w('b2', [8], 0.1), w('w3', [8, 8, 1, 1], 0.4),
    floatTensor('zero', [], [0]), floatTensor('six', [], [6]), floatTensor('half', [], [0.5]), int64Tensor('shape', [2], [-1, 256]),
    w('wfc', [256, 10], 0.1), w('bfc', [10], 0.1),
  ];
  const graph = makeGraph(
    nodes,
    'zoo',
    [makeValueInfo('x', DataType.FLOAT, ['n', 3, 16, 16])],
    [makeValueInfo('probs', DataType.FLOAT, ['n', 10]), makeValueInfo('feat', DataType.FLOAT, ['n', 8, 16, 16])],
    inits,
  );
  return makeModel(graph, { '': 13 });
}

async function run(proto: ModelProto, x: Float32Array, n: number): Promise<Record<string, Float32Array>> {
  const s = await createSession(modelToBytes(proto), { threads: 1 });
  const out = await s.run({ x: new (ort().Tensor)('float32', x, [n, 3, 16, 16]) });
  await s.release();
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
}

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

test('every supported op type quantizes in QDQ and QOperator; outputs keep names, types and values', async () => {
  const proto = buildZoo();
  const model = { path: path.join(tmp, 'zoo.onnx'), dir: tmp, proto, modelFileBytes: 0 } as unknown as OnnxModel;
  const calib = writeNpy(path.join(tmp, 'x.npy'), randomInputs(32, [3, 16, 16]), [32, 3, 16, 16]);
  const x = randomInputs(4, [3, 16, 16], 8);
  const expected = await run(proto, x, 4);
  for (const format of ['qdq', 'qoperator'] as const) {
    const r = await quantizeStatic(model, staticOptions({ calibrationData: calib, format }), allNodes(), {});
    assert.deepEqual(r.proto.graph!.output.map((o) => o.name), ['probs', 'feat']);
    assert.equal(r.quantizedNodes, 13, `${format}: ${r.quantizedNodes} ${JSON.stringify(r.skippedNodes)}`); // all but the folded Clip
    const got = await run(r.proto, x, 4);
    assert.ok(maxDiff(expected.probs!, got.probs!) < 0.05, `${format} probs diff ${maxDiff(expected.probs!, got.probs!)}`);
    assert.ok(maxDiff(expected.feat!, got.feat!) < 0.02 * maxAbs(expected.feat!), `${format} feat diff ${maxDiff(expected.feat!, got.feat!)}`);
    const ops = await optimizedOpCounts(r.proto);
    for (const op of ['QLinearConv', 'QLinearLeakyRelu', 'QLinearAveragePool', 'QLinearSigmoid', 'QLinearConcat', 'QLinearMul', 'QLinearMatMul', 'QLinearAdd', 'QLinearSoftmax']) {
      assert.ok((ops.get(op) ?? 0) >= 1, `${format}: ${op} missing in ${JSON.stringify([...ops])}`);
    }
    for (const floatOp of ['Conv', 'LeakyRelu', 'Sigmoid', 'Concat', 'Mul', 'MatMul', 'Add', 'Softmax', 'Clip']) {
      assert.equal(ops.get(floatOp) ?? 0, 0, `${format}: float ${floatOp} left in ${JSON.stringify([...ops])}`);
    }
  }
});

test('an int32 bias that would overflow at input_scale × weight_scale enlarges the weight scale and says so', async () => {
  const graph = makeGraph(
    [makeNode('Conv', ['x', 'w', 'b'], ['y'], { kernel_shape: [1, 1] }, { name: 'conv' })],
    'bias',
    [makeValueInfo('x', DataType.FLOAT, ['n', 2, 4, 4])],
    [makeValueInfo('y', DataType.FLOAT, ['n', 2, 4, 4])],
    [floatTensor('w', [2, 2, 1, 1], [1e-7, -2e-7, 3e-7, 1e-7]), floatTensor('b', [2], [500, 1e-10])],
  );
  const proto = makeModel(graph, { '': 13 });
  const model = { path: path.join(tmp, 'bias.onnx'), dir: tmp, proto, modelFileBytes: 0 } as unknown as OnnxModel;
  const x = Float32Array.from({ length: 8 * 2 * 16 }, (_, i) => (i % 17) / 17);
  const calib = writeNpy(path.join(tmp, 'bias.npy'), x, [8, 2, 4, 4]);
  const r = await quantizeStatic(model, staticOptions({ calibrationData: calib }), allNodes(), {});
  assert.ok(r.warnings.some((w) => /conv: weight scale enlarged on 1 channel/.test(w)), JSON.stringify(r.warnings));
  const s = await createSession(modelToBytes(r.proto), { threads: 1 });
  const out = (await s.run({ x: new (ort().Tensor)('float32', x.subarray(0, 32), [1, 2, 4, 4]) })).y!.data as Float32Array;
  await s.release();
  // Channel 0 is the bias (500) plus ~nothing: without the guard it would clip to int32 max × scale.
  for (let i = 0; i < 16; i++) assert.ok(Math.abs(out[i]! - 500) < 1, `channel 0 value ${out[i]}`);
});

function smallConvModel(opset: number, extra: 'softmax' | 'mvn' | 'none'): ModelProto {
  const rand = seededRandom(3);
  const nodes = [];
  let x = 'x';
  if (extra === 'mvn') {
    // An op the type inference does not know: its output type comes from the calibration run.
    nodes.push(makeNode('MeanVarianceNormalization', ['x'], ['norm'], {}, { name: 'mvn' }));
    x = 'norm';
  }
  nodes.push(makeNode('Conv', [x, 'w', 'b'], ['c'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { name: 'conv' }));
  nodes.push(makeNode('Relu', ['c'], ['r'], {}, { name: 'relu' }));
  nodes.push(makeNode(extra === 'softmax' ? 'Softmax' : 'Sigmoid', ['r'], ['y'], extra === 'softmax' ? { axis: 1 } : {}, { name: 'last' }));
  const graph = makeGraph(
    nodes,
    'small',
    [makeValueInfo('x', DataType.FLOAT, ['n', 3, 16, 16])],
    [makeValueInfo('y', DataType.FLOAT, ['n', 4, 16, 16])],
    [floatTensor('w', [4, 3, 3, 3], Float32Array.from({ length: 108 }, () => standardNormal(rand) * 0.3)), floatTensor('b', [4], [0.1, -0.1, 0.2, 0])],
  );
  return makeModel(graph, { '': opset }, { irVersion: 6 });
}

async function quantizeSmall(proto: ModelProto) {
  const model = { path: path.join(tmp, 'small.onnx'), dir: tmp, proto, modelFileBytes: 0 } as unknown as OnnxModel;
  const calib = writeNpy(path.join(tmp, 'small.npy'), randomInputs(16, [3, 16, 16]), [16, 3, 16, 16]);
  const r = await quantizeStatic(model, staticOptions({ calibrationData: calib }), allNodes(), {});
  const s = await createSession(modelToBytes(r.proto), { threads: 1 });
  await s.run({ x: new (ort().Tensor)('float32', randomInputs(2, [3, 16, 16], 4), [2, 3, 16, 16]) });
  await s.release();
  return r;
}

const weightDq = (proto: ModelProto) => proto.graph!.node.find((n) => n.opType === 'DequantizeLinear' && n.input[0]!.startsWith('w_'))!;

test('opset 11 model: converted to 13 for per-channel weights (no op needed rewriting)', async () => {
  const r = await quantizeSmall(smallConvModel(11, 'none'));
  assert.equal(Number(r.proto.opsetImport.find((o) => o.domain === '')!.version), 13);
  assert.ok(r.proto.irVersion >= 7n);
  assert.ok(r.warnings.includes('converted opset 11 → 13: 0 nodes rewritten'), r.warnings.join('; '));
  assert.ok(weightDq(r.proto).attribute.some((a) => a.name === 'axis'));
});

test('opset 11 model with a Softmax: converted to 13 (its coerced-2D axis kept by Flatten/Reshape), weights per channel', async () => {
  const r = await quantizeSmall(smallConvModel(11, 'softmax'));
  assert.equal(Number(r.proto.opsetImport.find((o) => o.domain === '')!.version), 13);
  assert.ok(r.warnings.includes('converted opset 11 → 13: 1 node rewritten'), r.warnings.join('; '));
  const ops = new Set(r.proto.graph?.node.map((n) => n.opType));
  assert.ok(ops.has('Flatten') && ops.has('Reshape'), [...ops].join(', '));
  assert.ok(weightDq(r.proto).attribute.some((a) => a.name === 'axis'));
});

test('a tensor whose type inference cannot know is typed by the calibration run and quantized', async () => {
  const r = await quantizeSmall(smallConvModel(13, 'mvn'));
  assert.ok(r.proto.graph!.node.some((n) => n.opType === 'QuantizeLinear' && n.input[0] === 'norm'));
  assert.equal(r.skippedNodes.length, 0);
});

test('an already quantized (QDQ) model: nothing is quantized twice', async () => {
  const { loadModel } = await import('../../../../src/core/onnx/model');
  const model = loadModel(path.join(__dirname, '../../../fixtures/digits_cnn_static_qnnpack_torch.onnx'));
  const r = await quantizeStatic(model, staticOptions({ calibrationData: path.join(__dirname, '../../../fixtures/digits_calib_x.npy') }), allNodes(), {});
  assert.equal(r.quantizedNodes, 0);
  assert.ok(r.skippedNodes.some((s) => /already quantized/.test(s.reason)));
});

test('weights given by Constant nodes are quantized like initializers (and the Constant goes)', async () => {
  const rand = seededRandom(9);
  const weight = floatTensor('wc', [4, 3, 3, 3], Float32Array.from({ length: 108 }, () => standardNormal(rand) * 0.3));
  const graph = makeGraph(
    [
      makeNode('Constant', [], ['wconst'], { value: weight }, { name: 'const_w' }),
      makeNode('Conv', ['x', 'wconst'], ['c'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { name: 'conv' }),
      makeNode('Relu', ['c'], ['r'], {}, { name: 'relu' }),
      makeNode('Sigmoid', ['r'], ['y'], {}, { name: 'last' }),
    ],
    'constw',
    [makeValueInfo('x', DataType.FLOAT, ['n', 3, 16, 16])],
    [makeValueInfo('y', DataType.FLOAT, ['n', 4, 16, 16])],
  );
  const r = await quantizeSmall(makeModel(graph, { '': 13 }));
  assert.equal(r.quantizedNodes, 2);
  assert.ok(!r.proto.graph!.node.some((n) => n.opType === 'Constant'));
  assert.ok(r.proto.graph!.initializer.some((t) => t.dataType === DataType.INT8 && t.dims.length === 4));
});

test('pass-through ops (Resize, Split, Transpose, Unsqueeze, Squeeze, Gather) keep the tensor 8-bit between quantized ops', async () => {
  const rand = seededRandom(21);
  const w = (name: string, dims: number[]) => floatTensor(name, dims, Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => standardNormal(rand) * 0.3));
  const graph = makeGraph(
    [
      makeNode('Conv', ['x', 'w1'], ['c1'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { name: 'conv1' }),
      makeNode('Resize', ['c1', '', 'scales'], ['up'], { mode: 'nearest' }, { name: 'resize' }),
      makeNode('Split', ['up', 'split'], ['s0', 's1'], { axis: 1 }, { name: 'split' }),
      makeNode('Conv', ['s0', 'w2'], ['c2'], { kernel_shape: [1, 1] }, { name: 'conv2' }),
      makeNode('Transpose', ['s1'], ['t'], { perm: [0, 1, 3, 2] }, { name: 'transpose' }),
      makeNode('Unsqueeze', ['t', 'ax0'], ['u'], {}, { name: 'unsqueeze' }),
      makeNode('Squeeze', ['u', 'ax0'], ['sq'], {}, { name: 'squeeze' }),
      makeNode('Gather', ['sq', 'idx'], ['g'], { axis: 1 }, { name: 'gather' }),
      makeNode('Concat', ['c2', 'g'], ['y'], { axis: 1 }, { name: 'concat' }),
    ],
    'passthrough',
    [makeValueInfo('x', DataType.FLOAT, ['n', 3, 16, 16])],
    [makeValueInfo('y', DataType.FLOAT, ['n', 6, 32, 32])],
    [w('w1', [4, 3, 3, 3]), w('w2', [4, 2, 1, 1]), floatTensor('scales', [4], [1, 1, 2, 2]), int64Tensor('split', [2], [2, 2]), int64Tensor('ax0', [1], [0]), int64Tensor('idx', [2], [1, 0])],
  );
  const proto = makeModel(graph, { '': 13 });
  const model = { path: path.join(tmp, 'pt.onnx'), dir: tmp, proto, modelFileBytes: 0 } as unknown as OnnxModel;
  const calib = writeNpy(path.join(tmp, 'pt.npy'), randomInputs(16, [3, 16, 16]), [16, 3, 16, 16]);
  const x = randomInputs(2, [3, 16, 16], 8);
  const s = await createSession(modelToBytes(proto), { threads: 1 });
  const expected = (await s.run({ x: new (ort().Tensor)('float32', x, [2, 3, 16, 16]) })).y!.data as Float32Array;
  await s.release();
  for (const format of ['qdq', 'qoperator'] as const) {
    const r = await quantizeStatic(model, staticOptions({ calibrationData: calib, format }), allNodes(), {});
    assert.equal(r.quantizedNodes, 9, `${format}: ${JSON.stringify(r.skippedNodes)}`);
    const ops = await optimizedOpCounts(r.proto);
    assert.equal(ops.get('QuantizeLinear'), 1, `${format}: ${JSON.stringify([...ops])}`);
    assert.equal(ops.get('DequantizeLinear'), 1, `${format}: ${JSON.stringify([...ops])}`);
    assert.equal(ops.get('QLinearConv'), 2);
    const s2 = await createSession(modelToBytes(r.proto), { threads: 1 });
    const got = (await s2.run({ x: new (ort().Tensor)('float32', x, [2, 3, 16, 16]) })).y!.data as Float32Array;
    await s2.release();
    assert.ok(maxDiff(expected, got) < 0.03 * maxAbs(expected), `${format}: diff ${maxDiff(expected, got)} vs ${maxAbs(expected)}`);
  }
});

test('ConvTranspose: left float for CPU by default (no integer kernel); on request per-channel along axis 1', async () => {
  const rand = seededRandom(31);
  const graph = makeGraph(
    [
      makeNode('ConvTranspose', ['x', 'w', 'b'], ['up'], { kernel_shape: [2, 2], strides: [2, 2] }, { name: 'deconv' }),
      makeNode('Relu', ['up'], ['y'], {}, { name: 'relu' }),
    ],
    'deconv',
    [makeValueInfo('x', DataType.FLOAT, ['n', 4, 8, 8])],
    [makeValueInfo('y', DataType.FLOAT, ['n', 6, 16, 16])],
    [floatTensor('w', [4, 6, 2, 2], Float32Array.from({ length: 96 }, () => standardNormal(rand) * 0.4)), floatTensor('b', [6], [0.1, 0, -0.1, 0.2, 0, 0.05])],
  );
  const proto = makeModel(graph, { '': 13 });
  const model = { path: path.join(tmp, 'deconv.onnx'), dir: tmp, proto, modelFileBytes: 0 } as unknown as OnnxModel;
  const calib = writeNpy(path.join(tmp, 'deconv.npy'), randomInputs(16, [4, 8, 8]), [16, 4, 8, 8]);
  const x = randomInputs(2, [4, 8, 8], 8);
  const runY = async (p: ModelProto) => {
    const s = await createSession(modelToBytes(p), { threads: 1 });
    const y = (await s.run({ x: new (ort().Tensor)('float32', x, [2, 4, 8, 8]) })).y!.data as Float32Array;
    await s.release();
    return y;
  };
  const expected = await runY(proto);
  const byDefault = await quantizeStatic(model, staticOptions({ calibrationData: calib }), allNodes(), {});
  assert.equal(byDefault.quantizedNodes, 0);
  assert.ok(byDefault.skippedNodes.some((s) => s.node === 'deconv' && /no integer kernel/.test(s.reason)));
  const asked = makeSelection({ opTypes: ['ConvTranspose', 'Relu'], nodes: undefined, excludeNodes: [] });
  for (const format of ['qdq', 'qoperator'] as const) {
    const r = await quantizeStatic(model, staticOptions({ calibrationData: calib, format }), asked, {});
    assert.equal(r.quantizedNodes, 1);
    const dq = r.proto.graph!.node.find((n) => n.opType === 'DequantizeLinear' && n.input[0]!.startsWith('w_'))!;
    assert.equal(Number(dq.attribute.find((a) => a.name === 'axis')?.i), 1);
    const got = await runY(r.proto);
    assert.ok(maxDiff(expected, got) < 0.03 * maxAbs(expected), `${format}: diff ${maxDiff(expected, got)} vs ${maxAbs(expected)}`);
  }
});

test('Gemm with transB = 0, alpha and beta: per-channel along axis 1, alpha/beta folded, matches float', async () => {
  const rand = seededRandom(41);
  const graph = makeGraph(
    [
      makeNode('Gemm', ['x', 'w', 'c'], ['h'], { alpha: { float: 0.5 }, beta: { float: 2 } }, { name: 'gemm1' }),
      makeNode('Relu', ['h'], ['r'], {}, { name: 'relu' }),
      makeNode('Gemm', ['r', 'w2'], ['y'], { transB: 1 }, { name: 'gemm2' }),
    ],
    'gemm',
    [makeValueInfo('x', DataType.FLOAT, ['n', 16])],
    [makeValueInfo('y', DataType.FLOAT, ['n', 4])],
    [
      floatTensor('w', [16, 8], Float32Array.from({ length: 128 }, () => standardNormal(rand) * 0.5)),
      floatTensor('c', [8], Float32Array.from({ length: 8 }, () => standardNormal(rand) * 0.2)),
      floatTensor('w2', [4, 8], Float32Array.from({ length: 32 }, () => standardNormal(rand) * 0.5)),
    ],
  );
  const proto = makeModel(graph, { '': 13 });
  const model = { path: path.join(tmp, 'gemm.onnx'), dir: tmp, proto, modelFileBytes: 0 } as unknown as OnnxModel;
  const calib = writeNpy(path.join(tmp, 'gemm.npy'), randomInputs(64, [16]), [64, 16]);
  const x = randomInputs(8, [16], 4);
  const runY = async (p: ModelProto) => {
    const s = await createSession(modelToBytes(p), { threads: 1 });
    const y = (await s.run({ x: new (ort().Tensor)('float32', x, [8, 16]) })).y!.data as Float32Array;
    await s.release();
    return y;
  };
  const expected = await runY(proto);
  for (const format of ['qdq', 'qoperator'] as const) {
    const r = await quantizeStatic(model, staticOptions({ calibrationData: calib, format }), allNodes(), {});
    assert.equal(r.quantizedNodes, 2);
    const ops = await optimizedOpCounts(r.proto);
    assert.equal(ops.get('QGemm'), 2, `${format}: ${JSON.stringify([...ops])}`);
    const got = await runY(r.proto);
    assert.ok(maxDiff(expected, got) < 0.03 * maxAbs(expected), `${format}: diff ${maxDiff(expected, got)} vs ${maxAbs(expected)}`);
  }
});

test('tensors read inside an If branch keep existing: their Relu is not folded away, QOperator dequantizes them', async () => {
  const rand = seededRandom(51);
  const branch = (name: string, op: string) =>
    makeGraph([makeNode(op, ['r'], [`${name}_out`], {}, { name: `${name}_op` })], name, [], [makeValueInfo(`${name}_out`, DataType.FLOAT)]);
  const { create } = await import('@bufbuild/protobuf');
  const { TensorProtoSchema } = await import('../../../../src/core/onnx/schema');
  const cond = create(TensorProtoSchema, { name: 'cond', dataType: DataType.BOOL, dims: [], rawData: Uint8Array.of(1) as Uint8Array<ArrayBuffer> });
  const graph = makeGraph(
    [
      makeNode('Constant', [], ['c'], { value: cond }, { name: 'cond_const' }),
      makeNode('Conv', ['x', 'w'], ['conv'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { name: 'conv' }),
      makeNode('Relu', ['conv'], ['r'], {}, { name: 'relu' }),
      makeNode('If', ['c'], ['y'], { then_branch: branch('then', 'Identity'), else_branch: branch('else', 'Neg') }, { name: 'if' }),
    ],
    'ifgraph',
    [makeValueInfo('x', DataType.FLOAT, ['n', 3, 8, 8])],
    [makeValueInfo('y', DataType.FLOAT, ['n', 4, 8, 8])],
    [floatTensor('w', [4, 3, 3, 3], Float32Array.from({ length: 108 }, () => standardNormal(rand) * 0.3))],
  );
  const proto = makeModel(graph, { '': 13 });
  const model = { path: path.join(tmp, 'if.onnx'), dir: tmp, proto, modelFileBytes: 0 } as unknown as OnnxModel;
  const calib = writeNpy(path.join(tmp, 'if.npy'), randomInputs(8, [3, 8, 8]), [8, 3, 8, 8]);
  const x = randomInputs(2, [3, 8, 8], 4);
  const runY = async (p: ModelProto) => {
    const s = await createSession(modelToBytes(p), { threads: 1 });
    const y = (await s.run({ x: new (ort().Tensor)('float32', x, [2, 3, 8, 8]) })).y!.data as Float32Array;
    await s.release();
    return y;
  };
  const expected = await runY(proto);
  for (const format of ['qdq', 'qoperator'] as const) {
    const r = await quantizeStatic(model, staticOptions({ calibrationData: calib, format }), allNodes(), {});
    assert.equal(r.quantizedNodes, 1);
    assert.ok(r.proto.graph!.node.some((n) => n.opType === 'Relu'), `${format}: Relu kept`);
    const got = await runY(r.proto);
    assert.ok(maxDiff(expected, got) < 0.03 * maxAbs(expected), `${format}: diff ${maxDiff(expected, got)}`);
  }
});

/** python3 with the onnx package (Debian's python3-onnx), as an independent oracle; undefined when absent. */
function onnxPython(): string | undefined {
  for (const py of ['/usr/bin/python3', 'python3']) {
    if (spawnSync(py, ['-c', 'import onnx'], { stdio: 'ignore' }).status === 0) return py;
  }
  return undefined;
}

test('QDQ and QOperator outputs pass onnx.checker with full shape inference', { skip: !onnxPython() && 'python3 with onnx not installed' }, async () => {
  const py = onnxPython()!;
  const proto = buildZoo();
  const model = { path: path.join(tmp, 'zoo.onnx'), dir: tmp, proto, modelFileBytes: 0 } as unknown as OnnxModel;
  const calib = writeNpy(path.join(tmp, 'zoo_check.npy'), randomInputs(8, [3, 16, 16]), [8, 3, 16, 16]);
  for (const format of ['qdq', 'qoperator'] as const) {
    const r = await quantizeStatic(model, staticOptions({ calibrationData: calib, format }), allNodes(), {});
    const file = path.join(tmp, `zoo_${format}.onnx`);
    fs.writeFileSync(file, modelToBytes(r.proto));
    const check = spawnSync(py, ['-c', 'import onnx,sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)', file], { encoding: 'utf8' });
    assert.equal(check.status, 0, `${format}: ${check.stderr.split('\n').slice(-3).join(' ')}`);
  }
});
