/**
 * Weights computed from constants by layout ops (Silero VAD v5/v6's Constant → Slice → Concat →
 * Unsqueeze → LSTM W, a Transpose/Reshape/Split/Gather of a weight): folded into constants before
 * every mode, bit for bit in ONNX Runtime, shared where the subexpressions were copies; then
 * quantized as weights, and the layer rules say so. A fold that would grow the file is not made.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { foldConstants } from '../../../src/core/onnx/constantFold';
import { loadModel } from '../../../src/core/onnx/model';
import { saveModel } from '../../../src/core/onnx/save';
import type { GraphProto, ModelProto } from '../../../src/core/onnx/schema';
import { walkGraphs } from '../../../src/core/onnx/walk';
import { analyzeLayers } from '../../../src/core/analysis/layers';
import { quantizeFile, type QuantizeOptions } from '../../../src/core/quantize/index';
import { encodeNpy } from '../../../src/core/data/npy';
import { fileNameForInput } from '../../../src/core/calibrate/data';
import { computedWeightsModel, gaussian, growingGatherModel } from '../../fixtures/build';
import { bodyOpCounts, runModel, sqnrDb, tempDir, type Feed } from './helpers';
import { makeGraph, makeModel, makeNode, makeValueInfo } from '../../../src/core/onnx/builder';
import { DataType } from '../../../src/core/onnx/dtype';
import { floatTensor, int64Tensor, makeTensor } from '../../../src/core/onnx/tensor';
import { createSession } from '../../../src/core/runtime/ort';

const dir = tempDir('constant-fold');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const feeds = [true, false].map((c, i) => ({
  x: { type: 'float32', data: gaussian(64, 1, 90 + i), dims: [1, 4, 16] } as Feed,
  cond: { type: 'bool', data: [c], dims: [] } as Feed,
}));

function save(name: string, proto: ModelProto): string {
  const file = path.join(dir, `${name}.onnx`);
  saveModel(proto, file, { force: true });
  return file;
}

function mainGraph(proto: ModelProto): GraphProto {
  assert.ok(proto.graph, 'model has a graph');
  return proto.graph;
}

const opCounts = (proto: ModelProto): Map<string, number> => {
  const m = new Map<string, number>();
  for (const { graph } of walkGraphs(mainGraph(proto))) for (const n of graph.node) m.set(n.opType, (m.get(n.opType) ?? 0) + 1);
  return m;
};

test('foldConstants: every layout op on constants becomes a Constant, the outputs stay bit-identical in ONNX Runtime, copies in two branches become one shared Constant, the input model is untouched', async () => {
  const proto = computedWeightsModel();
  const before = opCounts(proto);
  const r = foldConstants(proto, {});
  assert.deepEqual(Object.fromEntries(r.folded), { Slice: 16, Concat: 4, Unsqueeze: 4, Split: 1, Transpose: 1, Cast: 1, Reshape: 1, Gather: 1 });
  assert.equal(r.total, 29);
  assert.deepEqual(opCounts(proto), before, 'the input model is not modified');
  const after = opCounts(r.proto);
  for (const op of ['Slice', 'Concat', 'Unsqueeze', 'Split', 'Cast', 'Gather']) assert.equal(after.get(op) ?? 0, 0, op);
  // The Transpose and Reshape left are the activations' (Conv output → LSTM sequence, Y_h → h).
  assert.equal(after.get('Transpose'), 2);
  assert.equal(after.get('Reshape'), 1);
  // The LSTM's W and R were built alike in both branches: one Constant each, in the main graph, read from both.
  const graphs = [...walkGraphs(mainGraph(r.proto))];
  const lstmWeights = graphs.flatMap(({ graph, depth }) => graph.node.filter((n) => n.opType === 'Constant' && n.attribute[0]?.t?.dims.join(',') === '1,32,8').map((n) => ({ depth, name: n.output[0] })));
  assert.equal(lstmWeights.length, 2, JSON.stringify(lstmWeights));
  assert.ok(lstmWeights.every((w) => w.depth === 0));
  const lstms = graphs.flatMap(({ graph }) => graph.node.filter((n) => n.opType === 'LSTM'));
  assert.equal(lstms.length, 2);
  assert.equal(lstms[0]?.input[1], lstms[1]?.input[1]);
  // The sources nothing reads any more are gone.
  const constants = new Set(graphs.flatMap(({ graph }) => graph.node.filter((n) => n.opType === 'Constant').map((n) => n.output[0])));
  for (const gone of ['w_src', 'r_src', 'Ws', 'Wt', 'Gflat', 'bias_table', 'g_shape32']) assert.ok(!constants.has(gone), gone);

  const src = save('computed', proto);
  const folded = save('computed-folded', r.proto);
  for (const f of feeds) {
    const a = await runModel(src, f);
    const b = await runModel(folded, f);
    assert.equal(a.length, 4);
    assert.deepEqual(Array.from(b), Array.from(a), 'bit-identical outputs');
  }
});

test('a fold that would make a constant much larger than its inputs (Gather repeating rows) is not made; the MatMul keeps its true reason', async () => {
  const proto = growingGatherModel();
  assert.equal(foldConstants(proto, {}).total, 0);
  const r = await quantizeFile(save('growing', proto), path.join(dir, 'growing-dynamic.onnx'), { mode: 'dynamic', force: true, speedCheck: false });
  assert.equal(r.quantizedNodes, 0);
  assert.match(r.skippedNodes.find((x) => x.node === 'y')?.reason ?? '', /B is computed by the graph/);
  const layer = analyzeLayers({ proto }, { stats: false }).find((l) => l.opType === 'MatMul');
  assert.deepEqual(layer?.modes, ['static']);
});

async function quantize(options: QuantizeOptions) {
  const src = save('computed', computedWeightsModel());
  const out = path.join(dir, `computed-${options.mode}.onnx`);
  const result = await quantizeFile(src, out, { ...options, force: true, speedCheck: false });
  const fidelity: number[] = [];
  for (const f of feeds) fidelity.push(sqnrDb(await runModel(src, f), await runModel(out, f)));
  return { result, proto: loadModel(out).proto, fidelity };
}

test('computed weights are weights in every mode: dynamic quantizes the LSTMs in both branches, the MatMuls and the Gemm; weight-only the Gemm; fp16 all; the result says what was folded; the layer rules agree', async () => {
  const layers = analyzeLayers({ proto: computedWeightsModel() }, { stats: true });
  const byOp = (op: string) => layers.filter((l) => l.opType === op);
  for (const op of ['LSTM', 'MatMul', 'Gemm']) for (const l of byOp(op)) assert.ok(l.modes.includes('dynamic'), `${l.node}: ${l.modes.join(',')}`);
  assert.ok(byOp('LSTM').every((l) => l.weights.length === 2 && l.weightBytes === 2 * 32 * 8 * 4));
  for (const op of ['Slice', 'Concat', 'Unsqueeze', 'Split', 'Cast', 'Gather']) for (const l of byOp(op)) assert.deepEqual(l.modes, [], l.node);
  assert.deepEqual(byOp('Gemm')[0]?.modes.includes('weight-only'), true);

  const dyn = await quantize({ mode: 'dynamic' });
  assert.equal(dyn.result.quantizedNodes, 6);
  assert.ok(dyn.result.warnings.some((w) => /^folded 29 node\(s\) computed from constants only/.test(w)), dyn.result.warnings.join('\n'));
  assert.equal(bodyOpCounts(dyn.proto).get('com.microsoft.DynamicQuantizeLSTM'), 2);
  // One quantized W and R for both branches (the fold shared them).
  const dynMain = mainGraph(dyn.proto);
  const mainConstants = [...dynMain.initializer.map((t) => t.name), ...dynMain.node.filter((n) => n.opType === 'Constant').map((n) => n.output[0] ?? '')];
  assert.equal(mainConstants.filter((n) => /_quantized$/.test(n) && n.includes('_W')).length, 1, mainConstants.join(','));
  for (const q of dyn.fidelity) assert.ok(q > 30, `dynamic SQNR ${q.toFixed(1)} dB`);

  const wo = await quantize({ mode: 'weight-only', weightBits: 8 });
  assert.equal(wo.result.quantizedNodes, 1);
  for (const q of wo.fidelity) assert.ok(q > 30, `weight-only SQNR ${q.toFixed(1)} dB`);

  const fp16 = await quantize({ mode: 'fp16' });
  for (const q of fp16.fidelity) assert.ok(q > 50, `fp16 SQNR ${q.toFixed(1)} dB`);
});

test('static mode: the main graph MatMuls and Gemm get their folded weights as int8 constants; the Conv of the branch calibration takes is quantized, the other skipped with its path', async () => {
  const calib = path.join(dir, 'computed.calib');
  fs.mkdirSync(calib, { recursive: true });
  const n = 8;
  const x = gaussian(n * 64, 1, 95);
  fs.writeFileSync(path.join(calib, fileNameForInput('x')), encodeNpy({ dtype: 'float32', shape: [n, 4, 16], data: new Uint8Array(x.buffer) }));
  fs.writeFileSync(path.join(calib, fileNameForInput('cond')), encodeNpy({ dtype: 'bool', shape: [], data: Uint8Array.of(1) }));
  const { result, proto: q, fidelity } = await quantize({ mode: 'static', calibrationData: calib });
  assert.ok(result.quantizedNodes >= 4, `${result.quantizedNodes}`);
  const g = mainGraph(q);
  const dqOfInt8Weights = g.node.filter((nd) => nd.opType === 'DequantizeLinear' && g.initializer.some((t) => t.name === nd.input[0]) && /^(ws0|ws1|Wt_T|G)/.test(nd.input[0] ?? ''));
  assert.equal(dqOfInt8Weights.length, 4, g.node.filter((nd) => nd.opType === 'DequantizeLinear').map((nd) => nd.input[0]).join(','));
  // The then branch (cond 1 in every sample) is quantized with its folded weights; the else branch, never taken, stays float.
  const convSkips = result.skippedNodes.filter((s) => s.subgraph && /_c$/.test(s.node));
  assert.deepEqual(convSkips.map((s) => s.node), ['yh/else_branch/else_c']);
  assert.match(convSkips[0]?.reason ?? '', /no calibration sample took this branch of yh/);
  const branches = [...walkGraphs(mainGraph(q))].filter((v) => v.depth > 0).map((v) => v.graph);
  assert.ok(branches.some((b) => b.node.some((nd) => nd.opType === 'Conv') && b.node.some((nd) => nd.opType === 'DequantizeLinear')), 'a branch Conv reads DequantizeLinear outputs');
  // Calibrated on the then branch (a scalar cond takes one value per run): judged on it.
  const calibrated = fidelity[0] ?? -Infinity;
  assert.ok(calibrated > 30, `static SQNR ${calibrated.toFixed(1)} dB`);
});

test('every folded form equals what ONNX Runtime computes, byte for byte: Slice (negative and stepped), Squeeze/Unsqueeze, Flatten, Split, Gather (negative indices), Transpose, Concat, Reshape (0, -1), Casts that change no value', async () => {
  const data = floatTensor('data', [3, 4, 5], gaussian(60, 1, 97));
  const ints = (name: string, v: number[]) => makeNode('Constant', [], [name], { value: int64Tensor(name, [v.length], v) }, { name: '' });
  const nodes = [
    ints('s_starts', [-1, 1]), ints('s_ends', [-100, 5]), ints('s_axes', [0, -1]), ints('s_steps', [-1, 2]),
    makeNode('Slice', ['data', 's_starts', 's_ends', 's_axes', 's_steps'], ['sliced']),
    ints('u_axes', [-1, 0]),
    makeNode('Unsqueeze', ['sliced', 'u_axes'], ['unsq']),
    makeNode('Squeeze', ['unsq'], ['sq']),
    makeNode('Flatten', ['data'], ['flat0'], { axis: 0 }),
    makeNode('Flatten', ['data'], ['flat2'], { axis: 2 }),
    ints('split', [1, 3]),
    makeNode('Split', ['data', 'split'], ['part0', 'part1'], { axis: 1 }),
    makeNode('Constant', [], ['idx'], { value: int64Tensor('idx', [2, 2], [-1, 0, 2, -4]) }, { name: '' }),
    makeNode('Gather', ['data', 'idx'], ['gathered'], { axis: 1 }),
    makeNode('Transpose', ['data'], ['tr'], { perm: [2, 0, 1] }),
    makeNode('Concat', ['data', 'data'], ['cat'], { axis: -1 }),
    ints('shape', [0, -1]),
    makeNode('Reshape', ['data', 'shape'], ['reshaped']),
    makeNode('Cast', ['data'], ['same_type'], { to: DataType.FLOAT }),
    makeNode('Constant', [], ['i32'], { value: makeTensor('i32', DataType.INT32, [3], new Uint8Array(Int32Array.of(-7, 0, 123456).buffer)) }, { name: '' }),
    makeNode('Cast', ['i32'], ['i64'], { to: DataType.INT64 }),
    makeNode('Identity', ['tr'], ['same']),
  ];
  const outputs = ['sq', 'flat0', 'flat2', 'part0', 'part1', 'gathered', 'tr', 'cat', 'reshaped', 'same_type', 'same'];
  const graph = makeGraph(nodes, 'forms', [], [...outputs.map((o) => makeValueInfo(o, DataType.FLOAT)), makeValueInfo('i64', DataType.INT64)], [data]);
  const proto = makeModel(graph, { '': 18 });
  const r = foldConstants(proto, {});
  assert.equal(r.total, 13);
  assert.ok(mainGraph(r.proto).node.every((n) => n.opType === 'Constant'));
  const run = async (file: string) => {
    const session = await createSession(file, { threads: 1, optimization: 'disabled' });
    try {
      const out = await session.run({});
      return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, { dims: [...v.dims], bytes: Buffer.from((v.data as Float32Array).buffer, (v.data as Float32Array).byteOffset, (v.data as Float32Array).byteLength).toString('hex') }]));
    } finally {
      await session.release();
    }
  };
  const expected = await run(save('forms', proto));
  const got = await run(save('forms-folded', r.proto));
  assert.equal(Object.keys(expected).length, outputs.length + 1);
  assert.deepEqual(got, expected);
});
