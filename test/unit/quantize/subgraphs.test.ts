/**
 * Weights inside If / Loop / Scan bodies and in Constant nodes, every node unnamed: each mode
 * quantizes them, the written model runs in ONNX Runtime close to the float model on every branch,
 * and the bodies hold the integer ops (fused by ORT's optimiser where it fuses the main graph's).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { quantizeFile, type QuantizeOptions } from '../../../src/core/quantize/index';
import { loadModel } from '../../../src/core/onnx/model';
import { saveModel } from '../../../src/core/onnx/save';
import type { GraphProto, ModelProto } from '../../../src/core/onnx/schema';
import { walkGraphs } from '../../../src/core/onnx/walk';
import { DataType } from '../../../src/core/onnx/dtype';
import { analyzeLayers } from '../../../src/core/analysis/layers';
import { constantWeightsModel, gaussian, ifConvLstmModel, ifMatMulModel, loopMatMulModel, scanMatMulModel } from '../../fixtures/build';
import { bodyOpCounts, maxAbsDiff, optimizedModel, runModel, sqnrDb, tempDir, type Feed } from './helpers';
import { encodeNpy } from '../../../src/core/data/npy';
import { fileNameForInput } from '../../../src/core/calibrate/data';
import { generateInputData, modelInputs } from '../../../src/core/evaluate/data';
import { indexModel } from '../../../src/core/onnx/graph-index';
import { opRule } from '../../../src/core/onnx/op-rules';
import { perLayerErrors } from '../../../src/core/evaluate/perLayer';
import { quantizeWithAutoExclude } from '../../../src/core/evaluate/autoExclude';
import { loadInputData } from '../../../src/core/evaluate/data';

const dir = tempDir('subgraphs');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const float = (n: number, seed: number, dims: number[]): Feed => ({ type: 'float32', data: gaussian(n, 1, seed), dims });
const cond = (c: boolean): Feed => ({ type: 'bool', data: [c], dims: [] });
const ifMatMulFeeds = [true, false].map((c) => ({ x: float(32, 1, [2, 16]), cond: cond(c), ids: { type: 'int64' as const, data: BigInt64Array.of(3n, 41n), dims: [2] } }));
const convLstmFeeds = [true, false].map((c) => ({ x: float(64, 2, [1, 4, 16]), cond: cond(c) }));

function save(name: string, proto: ModelProto): string {
  const file = path.join(dir, `${name}.onnx`);
  if (!fs.existsSync(file)) saveModel(proto, file);
  return file;
}

/** Quantize, then run float and quantized on every feed: SQNR (dB) and max error of the first output per feed. */
async function quantizeAndCompare(src: string, options: QuantizeOptions, feeds: Record<string, Feed>[]) {
  const out = src.replace(/\.onnx$/, `-${options.mode}${options.quantizeConv ? '-conv' : ''}${options.weightBits ?? ''}.onnx`);
  const result = await quantizeFile(src, out, { ...options, force: true, speedCheck: false });
  const fidelity: { sqnr: number; maxError: number }[] = [];
  for (const f of feeds) {
    const ref = await runModel(src, f);
    const got = await runModel(out, f);
    fidelity.push({ sqnr: sqnrDb(ref, got), maxError: maxAbsDiff(ref, got) });
  }
  return { result, out, proto: loadModel(out).proto, fidelity };
}

/** Initializer and Constant-node names of one graph. */
function constantsOf(graph: GraphProto): string[] {
  return [...graph.initializer.map((t) => t.name), ...graph.node.filter((n) => n.opType === 'Constant').map((n) => n.output[0] ?? '')];
}

function mainGraph(proto: ModelProto): GraphProto {
  assert.ok(proto.graph, 'model has a graph');
  return proto.graph;
}

function bodies(proto: ModelProto): GraphProto[] {
  return [...walkGraphs(mainGraph(proto))].filter((v) => v.depth > 0).map((v) => v.graph);
}

test('If branches, dynamic: MatMul/Gemm (Constant-node weight)/Gather inside both branches quantized; a weight read inside and outside is quantized once, in the main graph; ORT fuses the bodies', async () => {
  const src = save('if_matmul', ifMatMulModel());
  const { result, proto, out, fidelity } = await quantizeAndCompare(src, { mode: 'dynamic' }, ifMatMulFeeds);
  // Main: x·W0, h·W1, z1·W4; then: MatMul, Gemm, Gather; else: MatMul, Gemm.
  assert.equal(result.quantizedNodes, 8);
  assert.deepEqual(result.skippedNodes, []);
  const inBodies = bodyOpCounts(proto);
  assert.equal(inBodies.get('MatMulInteger'), 4);
  assert.equal(inBodies.get('DequantizeLinear'), 1);
  assert.equal(inBodies.get('MatMul') ?? 0, 0);
  assert.equal(inBodies.get('Gemm') ?? 0, 0);
  // W1: one quantized copy, in the main graph (both branches read it from the outer scope); the float weights are gone.
  const main = constantsOf(mainGraph(proto));
  assert.equal(main.filter((n) => n.startsWith('W1_quantized')).length, 1);
  for (const g of bodies(proto)) assert.ok(!constantsOf(g).some((n) => n.startsWith('W1')), `no copy of W1 in ${g.name}`);
  for (const gone of ['W0', 'W1', 'W4', 'table']) assert.ok(!main.includes(gone), `float ${gone} dropped`);
  const [thenConstants, elseConstants] = bodies(proto).map(constantsOf);
  assert.ok(thenConstants && elseConstants);
  assert.ok(!thenConstants.includes('W2'), 'the Constant node holding W2 is gone');
  assert.ok(thenConstants.includes('W2_quantized'), 'quantized W2 stored in the branch that held it');
  assert.ok(elseConstants.includes('W3_quantized') && !elseConstants.includes('W3'));
  for (const { sqnr } of fidelity) assert.ok(sqnr > 30, `SQNR ${sqnr.toFixed(1)} dB`);
  const fused = bodyOpCounts(await optimizedModel(out));
  assert.equal(fused.get('com.microsoft.DynamicQuantizeMatMul'), 4, JSON.stringify([...fused]));
  assert.equal(fused.get('MatMulInteger') ?? 0, 0);
});

test('If branches, weight-only: MatMulNBits and GatherBlockQuantized inside the branches, 4 and 8 bits close to float', async () => {
  const src = save('if_matmul', ifMatMulModel());
  for (const [bits, minSqnr] of [[4, 15], [8, 35]] as const) {
    const { result, proto, fidelity } = await quantizeAndCompare(src, { mode: 'weight-only', weightBits: bits }, ifMatMulFeeds);
    assert.equal(result.quantizedNodes, 8);
    const inBodies = bodyOpCounts(proto);
    assert.equal(inBodies.get('com.microsoft.MatMulNBits'), 4);
    assert.equal(inBodies.get('com.microsoft.GatherBlockQuantized'), 1);
    for (const { sqnr } of fidelity) assert.ok(sqnr > minSqnr, `${bits} bits: SQNR ${sqnr.toFixed(1)} dB`);
  }
});

test('If branches, fp16: weights of every graph (initializers, outer-scope, Constant nodes) stored as float16', async () => {
  const src = save('if_matmul', ifMatMulModel());
  const { result, proto, fidelity } = await quantizeAndCompare(src, { mode: 'fp16' }, ifMatMulFeeds);
  assert.ok(result.quantizedNodes >= 8);
  for (const { graph } of walkGraphs(mainGraph(proto))) {
    for (const t of graph.initializer) {
      const elements = t.dims.reduce((a, b) => a * Number(b), 1);
      if (elements >= 16) assert.notEqual(t.dataType, DataType.FLOAT, `${graph.name}: ${t.name} still float32`);
    }
    assert.ok(!graph.node.some((n) => n.opType === 'Constant' && n.attribute[0]?.t?.dataType === DataType.FLOAT && n.attribute[0].t.dims.length > 0));
  }
  for (const { sqnr } of fidelity) assert.ok(sqnr > 60, `SQNR ${sqnr.toFixed(1)} dB`);
});

test('voice-activity-like If (Conv + LSTM in both branches): LSTMs become DynamicQuantizeLSTM; Convs skipped with their subgraph path, or ConvInteger with quantizeConv', async () => {
  const src = save('if_conv_lstm', ifConvLstmModel());
  const plain = await quantizeAndCompare(src, { mode: 'dynamic' }, convLstmFeeds);
  assert.equal(plain.result.quantizedNodes, 2);
  assert.equal(bodyOpCounts(plain.proto).get('com.microsoft.DynamicQuantizeLSTM'), 2);
  // Unnamed nodes are keyed by their first output, with the body's path in front.
  assert.deepEqual(
    plain.result.skippedNodes.map((s) => [s.node, s.subgraph]),
    [
      ['y/then_branch/then_c', 'y/then_branch'],
      ['y/else_branch/else_c', 'y/else_branch'],
    ],
  );
  assert.ok(plain.result.skippedNodes.every((s) => /Conv stays float in dynamic mode/.test(s.reason)));
  for (const { sqnr } of plain.fidelity) assert.ok(sqnr > 35, `SQNR ${sqnr.toFixed(1)} dB`);
  // The LSTM weights both branches read: one quantized copy each, in the main graph.
  assert.equal(constantsOf(mainGraph(plain.proto)).filter((n) => n.startsWith('lstm_W_quantized')).length, 1);

  const conv = await quantizeAndCompare(src, { mode: 'dynamic', quantizeConv: true }, convLstmFeeds);
  assert.equal(conv.result.quantizedNodes, 4);
  assert.deepEqual(conv.result.skippedNodes, []);
  assert.equal(bodyOpCounts(conv.proto).get('ConvInteger'), 2);
  for (const { sqnr } of conv.fidelity) assert.ok(sqnr > 35, `SQNR ${sqnr.toFixed(1)} dB`);
});

test('Loop body reading an outer-scope weight that the main graph also reads: quantized once, in every mode', async () => {
  const src = save('loop_matmul', loopMatMulModel());
  const feeds = [{ x: float(16, 3, [1, 16]) }];
  for (const [mode, bodyOp, minSqnr] of [
    ['dynamic', 'MatMulInteger', 30],
    ['weight-only', 'com.microsoft.MatMulNBits', 15],
    ['fp16', 'MatMul', 60],
  ] as const) {
    const { result, proto, fidelity } = await quantizeAndCompare(src, { mode }, feeds);
    assert.ok(result.quantizedNodes >= 2, `${mode}: ${result.quantizedNodes}`);
    assert.equal(bodyOpCounts(proto).get(bodyOp), 1, mode);
    assert.ok(!constantsOf(mainGraph(proto)).includes('Wl'), `${mode}: float Wl dropped`);
    assert.equal(bodies(proto).flatMap(constantsOf).filter((n) => n.startsWith('Wl')).length, 0, `${mode}: no copy of Wl in the body`);
    for (const { sqnr } of fidelity) assert.ok(sqnr > minSqnr, `${mode}: SQNR ${sqnr.toFixed(1)} dB`);
  }
});

test('Scan body: a Constant-node weight and an outer-scope weight, both quantized; ORT fuses both', async () => {
  const src = save('scan_matmul', scanMatMulModel());
  const feeds = [{ xs: float(80, 4, [5, 1, 16]) }];
  const { result, proto, out, fidelity } = await quantizeAndCompare(src, { mode: 'dynamic' }, feeds);
  assert.equal(result.quantizedNodes, 2);
  assert.equal(bodyOpCounts(proto).get('MatMulInteger'), 2);
  for (const { sqnr } of fidelity) assert.ok(sqnr > 30, `SQNR ${sqnr.toFixed(1)} dB`);
  assert.equal(bodyOpCounts(await optimizedModel(out)).get('com.microsoft.DynamicQuantizeMatMul'), 2);
  const wo = await quantizeAndCompare(src, { mode: 'weight-only', weightBits: 8 }, feeds);
  assert.equal(bodyOpCounts(wo.proto).get('com.microsoft.MatMulNBits'), 2);
  for (const { sqnr } of wo.fidelity) assert.ok(sqnr > 30, `weight-only: SQNR ${sqnr.toFixed(1)} dB`);
});

test('weights in Constant nodes are weights: dynamic, weight-only and fp16 quantize them, and the layer rules say so', async () => {
  const proto = constantWeightsModel();
  const layers = analyzeLayers({ proto }, { stats: false }).filter((l) => l.opType === 'MatMul' || l.opType === 'Gemm');
  assert.equal(layers.length, 2);
  for (const l of layers) {
    assert.ok(l.modes.includes('dynamic') && l.modes.includes('weight-only'), `${l.node}: ${l.modes.join(',')}`);
    assert.ok(l.weightBytes > 0);
  }
  const src = save('constant_weights', proto);
  const feeds = [{ x: float(128, 5, [4, 32]) }];
  for (const [mode, minSqnr] of [
    ['dynamic', 30],
    ['weight-only', 15],
    ['fp16', 60],
  ] as const) {
    const { result, proto: q, fidelity } = await quantizeAndCompare(src, { mode }, feeds);
    assert.equal(result.quantizedNodes, 2, mode);
    assert.deepEqual(result.skippedNodes, [], mode);
    for (const { sqnr } of fidelity) assert.ok(sqnr > minSqnr, `${mode}: SQNR ${sqnr.toFixed(1)} dB`);
    // The float Constant nodes of the two weights are gone (the bias stays where a node still reads it).
    const constants = mainGraph(q).node.filter((n) => n.opType === 'Constant').map((n) => n.output[0]);
    assert.ok(!constants.includes('Wa') && !constants.includes('Wb'), `${mode}: ${constants.join(',')}`);
  }
});

test('unnamed nodes: excluding one by its key keeps exactly that node float, and the weight it shares with a body stays for it', async () => {
  const src = save('if_matmul', ifMatMulModel());
  const out = path.join(dir, 'if_matmul_excluded.onnx');
  const r = await quantizeFile(src, out, { mode: 'dynamic', excludeNodes: ['z1'], force: true, speedCheck: false });
  assert.equal(r.quantizedNodes, 7);
  assert.deepEqual(r.skippedNodes, [{ node: 'z1', reason: 'excluded by --exclude-nodes' }]);
  const proto = loadModel(out).proto;
  const main = mainGraph(proto);
  const floatMatMuls = main.node.filter((n) => n.opType === 'MatMul');
  assert.deepEqual(floatMatMuls.map((n) => n.output[0]), ['z1']);
  const inits = main.initializer.map((t) => t.name);
  assert.ok(inits.includes('W1') && inits.some((n) => n.startsWith('W1_quantized')), 'float W1 kept for z1, quantized W1 for the branches');
  for (const feeds of ifMatMulFeeds) assert.ok(sqnrDb(await runModel(src, feeds), await runModel(out, feeds)) > 30);
});

test('a body node the user filters out gets its reason with its subgraph path', async () => {
  const src = save('if_matmul', ifMatMulModel());
  const out = path.join(dir, 'if_matmul_optypes.onnx');
  const r = await quantizeFile(src, out, { mode: 'dynamic', opTypes: ['MatMul'], force: true, speedCheck: false });
  assert.equal(r.quantizedNodes, 5);
  const bodySkips = r.skippedNodes.filter((s) => s.subgraph);
  assert.deepEqual(bodySkips.map((s) => [s.node, s.subgraph]).sort(), [
    ['branch/else_branch/e2', 'branch/else_branch'],
    ['branch/then_branch/emb', 'branch/then_branch'],
    ['branch/then_branch/t2', 'branch/then_branch'],
  ]);
  assert.ok(bodySkips.every((s) => /not in --op-types/.test(s.reason)));
});

/** Generated inputs (8 samples) as a calibration folder, float inputs drawn like the test's feeds (unit Gaussian). */
function calibration(name: string, proto: ModelProto): string {
  const folder = path.join(dir, `${name}.calib`);
  fs.mkdirSync(folder, { recursive: true });
  for (const [input, arr] of generateInputData(proto, modelInputs(proto), 8).arrays) {
    const data = arr.dtype === 'float32' ? new Uint8Array(gaussian(arr.data.length / 4, 1, 7).buffer) : arr.data;
    fs.writeFileSync(path.join(folder, fileNameForInput(input)), encodeNpy({ ...arr, data }));
  }
  return folder;
}

/** A calibration folder for the Conv + LSTM If model: x from `seed`, cond fixed (a scalar: one branch per run). */
function convLstmCalibration(name: string, takeThen: boolean): string {
  const folder = path.join(dir, `${name}.calib`);
  fs.mkdirSync(folder, { recursive: true });
  fs.writeFileSync(path.join(folder, fileNameForInput('x')), encodeNpy({ dtype: 'float32', shape: [8, 4, 16], data: new Uint8Array(gaussian(8 * 64, 1, 7).buffer) }));
  fs.writeFileSync(path.join(folder, fileNameForInput('cond')), encodeNpy({ dtype: 'bool', shape: [], data: Uint8Array.of(takeThen ? 1 : 0) }));
  return folder;
}

test('static mode inside If branches: the branch calibration takes is quantized (QDQ in the body, fused by ORT), the other stays float with its reason; both branches run close to float', async () => {
  const proto = ifConvLstmModel();
  const src = save('if_conv_lstm', proto);
  const index = indexModel(proto);
  const convOf = (branch: string) => index.nodes.find((e) => e.scope.owner?.attribute === branch && e.node.opType === 'Conv')?.key ?? `no Conv in ${branch}`;
  for (const [takeThen, format] of [[true, 'qdq'], [false, 'qdq'], [true, 'qoperator']] as const) {
    const out = path.join(dir, `if_conv_lstm-static-${takeThen ? 'then' : 'else'}-${format}.onnx`);
    const r = await quantizeFile(src, out, { mode: 'static', format, calibrationData: convLstmCalibration(`if_conv_lstm_${takeThen}`, takeThen), force: true, speedCheck: false });
    const [taken, other] = takeThen ? ['then_branch', 'else_branch'] : ['else_branch', 'then_branch'];
    assert.ok(r.quantizedNodes >= 1);
    assert.ok(!r.skippedNodes.some((s) => s.node === convOf(taken)), `${taken} Conv quantized: ${JSON.stringify(r.skippedNodes)}`);
    const skip = r.skippedNodes.find((s) => s.node === convOf(other));
    assert.match(skip?.reason ?? '', /no calibration sample took this branch/, JSON.stringify(r.skippedNodes));
    assert.equal(skip?.subgraph, `y/${other}`);
    // The quantized branch holds its own integer weights and scales; the model's float LSTM weights stay in the main graph.
    const written = loadModel(out).proto;
    const branch = written.graph?.node.find((n) => n.opType === 'If')?.attribute.find((a) => a.name === taken)?.g;
    assert.ok(branch, 'the If and its branch are written');
    const ops = branch.node.map((n) => n.opType);
    if (format === 'qdq') assert.ok(ops.includes('QuantizeLinear') && ops.includes('DequantizeLinear'), ops.join(','));
    else assert.ok(ops.includes('QLinearConv'), ops.join(','));
    assert.ok(branch.initializer.some((t) => t.dataType === DataType.INT8 || t.dataType === DataType.UINT8), 'int8 weight in the branch');
    // ORT runs the quantized branch as an integer Conv.
    const fused = bodyOpCounts(await optimizedModel(out));
    assert.ok((fused.get('QLinearConv') ?? 0) + (fused.get('com.microsoft.QLinearConv') ?? 0) >= 1, JSON.stringify([...fused]));
    for (const f of convLstmFeeds) {
      const q = sqnrDb(await runModel(src, f), await runModel(out, f));
      const isTaken = f.cond.data[0] === takeThen;
      assert.ok(q > (isTaken ? 25 : 200), `${taken} calibrated, cond ${String(f.cond.data[0])}: SQNR ${q.toFixed(1)} dB`);
    }
  }
});

test('static mode inside an If branch, improved: calibrated on dimmed inputs the branch Conv is the worst layer, ranked with its branch path; the fidelity warning names it, auto-exclude keeps it float and meets the target', async () => {
  const proto = ifConvLstmModel();
  const src = save('if_conv_lstm', proto);
  const index = indexModel(proto);
  const conv = index.nodes.find((e) => e.scope.owner?.attribute === 'then_branch' && e.node.opType === 'Conv')?.key ?? 'no then Conv';
  // Calibration on inputs 50× too small clips the branch's real activations; the data it is judged on is at full scale.
  const folder = (name: string, scale: number) => {
    const f = path.join(dir, name);
    fs.mkdirSync(f, { recursive: true });
    fs.writeFileSync(path.join(f, fileNameForInput('x')), encodeNpy({ dtype: 'float32', shape: [8, 4, 16], data: new Uint8Array(gaussian(8 * 64, scale, 9).buffer) }));
    fs.writeFileSync(path.join(f, fileNameForInput('cond')), encodeNpy({ dtype: 'bool', shape: [], data: Uint8Array.of(1) }));
    return f;
  };
  const dim = folder('if_dim.calib', 0.02);
  const full = folder('if_full.data', 1);
  const out = path.join(dir, 'if_conv_lstm-static-dim.onnx');
  const plain = await quantizeFile(src, out, { mode: 'static', calibrationData: dim, fidelityData: full, force: true, speedCheck: false });
  const warning = plain.warnings.find((w) => /below the floor/i.test(w)) ?? '';
  assert.match(warning, new RegExp(`Worst layers \\(error each adds itself\\): ${conv.replace(/[/]/g, '\\/')} \\(Conv`), warning);
  const layers = await perLayerErrors(loadModel(src), loadModel(out), loadInputData(full, modelInputs(proto)), {});
  const row = layers.find((l) => l.node === conv);
  assert.ok(row && row.localSqnrDb !== null && row.localSqnrDb < 20, JSON.stringify(layers.slice(0, 3)));
  assert.ok(!layers.some((l) => l.opType === 'If'), 'no row for the If itself');
  const auto = await quantizeWithAutoExclude(src, path.join(dir, 'if_conv_lstm-static-auto.onnx'), { mode: 'static', calibrationData: dim, force: true, speedCheck: false }, 'sqnr:25', {}, { data: full });
  assert.equal(auto.summary.met, true, JSON.stringify(auto.summary));
  assert.ok(auto.summary.excluded.some((e) => (e.exclude ?? [e.node]).includes(conv)), JSON.stringify(auto.summary.excluded));
  assert.equal(auto.summary.calibrations, 1);
  for (const f of convLstmFeeds.filter((x) => x.cond.data[0] === true)) {
    const q = sqnrDb(await runModel(src, f), await runModel(auto.quantize.output, f));
    assert.ok(q > 25, `after auto-exclude: SQNR ${q.toFixed(1)} dB`);
  }
});

test('static mode: compute ops inside a Loop body stay float with their reason and subgraph path; the main graph is quantized', async () => {
  const proto = loopMatMulModel();
  const src = save('loop_matmul', proto);
  const out = path.join(dir, 'loop_matmul-static.onnx');
  const r = await quantizeFile(src, out, { mode: 'static', calibrationData: calibration('loop_matmul', proto), force: true, speedCheck: false });
  assert.equal(r.quantizedNodes, 1);
  const index = indexModel(proto);
  const inBodies = index.nodes.filter((e) => e.scope.depth > 0 && opRule(e.node)?.static === 'compute');
  assert.ok(inBodies.length >= 2);
  const skips = new Map(r.skippedNodes.map((s) => [s.node, s]));
  for (const e of inBodies) {
    const s = skips.get(e.key);
    assert.ok(s, `${e.key} (${e.node.opType}) has no skip reason: ${JSON.stringify(r.skippedNodes)}`);
    assert.equal(s.subgraph, `${e.scope.owner?.key}/${e.scope.owner?.attribute}`);
    assert.match(s.reason, /static mode quantizes inside If branches only \(a Loop body runs many times per call/);
    assert.ok(e.key.startsWith(`${s.subgraph}/`), e.key);
  }
  const q = sqnrDb(await runModel(src, { x: float(16, 3, [1, 16]) }), await runModel(out, { x: float(16, 3, [1, 16]) }));
  assert.ok(q > 25, `SQNR ${q.toFixed(1)} dB`);
});

test('static mode: a body node the user excludes keeps the user\'s reason, with its path', async () => {
  const proto = loopMatMulModel();
  const src = save('loop_matmul', proto);
  const out = path.join(dir, 'loop_matmul-static-excluded.onnx');
  const key = indexModel(proto).nodes.find((e) => e.scope.depth > 0 && e.node.opType === 'MatMul')?.key ?? 'no body MatMul';
  const r = await quantizeFile(src, out, { mode: 'static', calibrationData: calibration('loop_matmul', proto), excludeNodes: [key], force: true, speedCheck: false });
  const s = r.skippedNodes.find((x) => x.node === key);
  assert.deepEqual(s, { node: key, reason: 'excluded by --exclude-nodes', subgraph: key.slice(0, key.lastIndexOf('/')) });
});
