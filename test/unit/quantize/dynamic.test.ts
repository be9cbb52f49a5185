import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { quantizeFile } from '../../../src/core/quantize/index';
import { saveModel } from '../../../src/core/onnx/save';
import { loadModel } from '../../../src/core/onnx/model';
import { accuracy, digitsLogits, digitsTest, fixture, opCounts, optimizedOpCounts, runModel, sqnrDb, tempDir } from './helpers';
import { buildTransformer, randomWeights, tokenIds } from './models';
import { seededRandom } from '../../../src/core/util/random';
import { makeGraph, makeModel, makeNode, makeValueInfo } from '../../../src/core/onnx/builder';
import { DataType } from '../../../src/core/onnx/dtype';
import { floatTensor } from '../../../src/core/onnx/tensor';

const dir = tempDir('dynamic');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('dynamic MLP: Gemms become MatMulInteger chains, ORT fuses them, accuracy within 1 point, ≥ 3.5× smaller', async () => {
  const out = path.join(dir, 'mlp_dyn.onnx');
  const r = await quantizeFile(fixture('digits_mlp.onnx'), out, { mode: 'dynamic', speedCheck: false });
  assert.equal(r.quantizedNodes, 3);
  assert.deepEqual(r.skippedNodes, []);
  assert.ok(r.sizeRatio >= 3.5, `size ratio ${r.sizeRatio}`);
  assert.equal(r.outputBytes, fs.statSync(out).size);
  const ops = opCounts(out);
  assert.equal(ops.get('MatMulInteger'), 3);
  assert.equal(ops.get('DynamicQuantizeLinear'), 3);
  assert.equal(ops.get('Gemm'), undefined);

  const { y } = digitsTest();
  const floatAcc = accuracy(await digitsLogits(fixture('digits_mlp.onnx')), y);
  const quantAcc = accuracy(await digitsLogits(out), y);
  assert.ok(floatAcc - quantAcc <= 1, `float ${floatAcc}% vs int8 ${quantAcc}%`);

  // ORT's optimiser must recognise the pattern (reference §2b): every MatMulInteger fused.
  const fused = await optimizedOpCounts(out);
  const n = (fused.get('MatMulIntegerToFloat') ?? 0) + (fused.get('DynamicQuantizeMatMul') ?? 0);
  assert.equal(n, 3, `optimized graph: ${JSON.stringify([...fused])}`);
  assert.equal(fused.get('MatMulInteger'), undefined);
  assert.equal(fused.get('Add'), undefined, 'Gemm biases absorbed');
});

test('dynamic MLP per-tensor and 7-bit weights also load, run and stay accurate', async () => {
  const { y } = digitsTest();
  for (const opts of [{ perChannel: false }, { reduceRange: true }]) {
    const out = path.join(dir, `mlp_${JSON.stringify(opts).replace(/\W/g, '')}.onnx`);
    const r = await quantizeFile(fixture('digits_mlp.onnx'), out, { mode: 'dynamic', speedCheck: false, ...opts });
    assert.equal(r.quantizedNodes, 3);
    const acc = accuracy(await digitsLogits(out), y);
    assert.ok(acc >= 96.5, `${JSON.stringify(opts)}: ${acc}%`);
  }
});

test('dynamic LSTM: both LSTMs become DynamicQuantizeLSTM, accuracy within 1 point', async () => {
  const out = path.join(dir, 'lstm_dyn.onnx');
  const r = await quantizeFile(fixture('digits_lstm.onnx'), out, { mode: 'dynamic', speedCheck: false });
  const ops = opCounts(out);
  assert.equal(ops.get('DynamicQuantizeLSTM'), 2);
  assert.equal(ops.get('LSTM'), undefined);
  assert.equal(r.quantizedNodes, 3); // 2 LSTM + the Gemm head
  assert.ok(r.sizeRatio >= 3.5, `size ratio ${r.sizeRatio}`);
  const { y } = digitsTest();
  const floatAcc = accuracy(await digitsLogits(fixture('digits_lstm.onnx')), y);
  const quantAcc = accuracy(await digitsLogits(out), y);
  assert.ok(floatAcc - quantAcc <= 1, `float ${floatAcc}% vs int8 ${quantAcc}%`);
});

test('dynamic CNN: Conv skipped with a reason by default, ConvInteger with quantizeConv', async () => {
  const plain = path.join(dir, 'cnn_dyn.onnx');
  const r = await quantizeFile(fixture('digits_cnn.onnx'), plain, { mode: 'dynamic', speedCheck: false });
  assert.equal(r.quantizedNodes, 1);
  assert.equal(r.skippedNodes.length, 4);
  assert.match(r.skippedNodes[0]!.reason, /Conv stays float/);

  const conv = path.join(dir, 'cnn_dyn_conv.onnx');
  const rc = await quantizeFile(fixture('digits_cnn.onnx'), conv, { mode: 'dynamic', quantizeConv: true, speedCheck: false });
  assert.equal(rc.quantizedNodes, 5);
  assert.equal(opCounts(conv).get('ConvInteger'), 4);
  const { y } = digitsTest();
  const acc = accuracy(await digitsLogits(conv), y);
  assert.ok(acc >= 97, `ConvInteger CNN accuracy ${acc}%`);
});

test('selection: --op-types, --nodes and --exclude-nodes each give a reason per skipped node', async () => {
  const out = path.join(dir, 'mlp_sel.onnx');
  const r = await quantizeFile(fixture('digits_mlp.onnx'), out, { mode: 'dynamic', excludeNodes: ['/fc3/Gemm', 'nope'], speedCheck: false });
  assert.equal(r.quantizedNodes, 2);
  assert.deepEqual(r.skippedNodes, [{ node: '/fc3/Gemm', reason: 'excluded by --exclude-nodes' }]);
  assert.ok(r.warnings.some((w) => w.includes("'nope'")));
  const r2 = await quantizeFile(fixture('digits_mlp.onnx'), out, { mode: 'dynamic', nodes: ['/fc1/Gemm'], force: true, speedCheck: false });
  assert.equal(r2.quantizedNodes, 1);
  assert.equal(r2.skippedNodes.filter((s) => s.reason === 'not in the --nodes list').length, 2);
  const r3 = await quantizeFile(fixture('digits_mlp.onnx'), out, { mode: 'dynamic', opTypes: ['MatMul'], force: true, speedCheck: false });
  assert.equal(r3.quantizedNodes, 0);
  assert.equal(r3.skippedNodes.length, 3);
  assert.match(r3.skippedNodes[0]!.reason, /op type Gemm not in --op-types/);
});

const SPEC = { vocab: 500, dim: 64, layers: 2, seed: 11 };

test('transformer block: embedding Gather, projections and FFN quantized; attention MatMuls skipped; output close to float', async () => {
  const src = path.join(dir, 'tiny_transformer.onnx');
  saveModel(buildTransformer(SPEC), src);
  const out = path.join(dir, 'tiny_transformer_dyn.onnx');
  const r = await quantizeFile(src, out, { mode: 'dynamic', speedCheck: false });
  // 1 Gather + per layer 4 projections + 2 FFN MatMuls.
  assert.equal(r.quantizedNodes, 1 + 2 * 6);
  const attention = r.skippedNodes.filter((s) => /\/(scores|context)$/.test(s.node));
  assert.equal(attention.length, 4);
  assert.ok(attention.every((s) => /not a constant weight/.test(s.reason)));
  assert.ok(r.sizeRatio > 3.5, `size ratio ${r.sizeRatio}`);
  const ops = opCounts(out);
  assert.equal(ops.get('DequantizeLinear'), 1);
  // One DynamicQuantizeLinear shared by Q, K and V of each layer.
  assert.equal(ops.get('DynamicQuantizeLinear'), 2 * 4);

  const ids = tokenIds(2, 16, SPEC.vocab);
  const feeds = { ids: { type: 'int64' as const, data: ids, dims: [2, 16] } };
  const ref = await runModel(src, feeds);
  const got = await runModel(out, feeds);
  const sqnr = sqnrDb(ref, got);
  assert.ok(sqnr > 25, `SQNR ${sqnr.toFixed(1)} dB`);
  // ORT fuses all 12 weight MatMuls (bias Adds of the FFN absorbed; only the 4 residual Adds stay).
  const fused = await optimizedOpCounts(out);
  assert.equal((fused.get('MatMulIntegerToFloat') ?? 0) + (fused.get('DynamicQuantizeMatMul') ?? 0), 12, JSON.stringify([...fused]));
  assert.equal(fused.get('MatMulInteger'), undefined);
  assert.equal(fused.get('Add'), 4);
});

test('external data in → external data out, written tensor by tensor; output runs and matches', async () => {
  const sub = path.join(dir, 'ext');
  fs.mkdirSync(sub);
  const src = path.join(sub, 'model.onnx');
  saveModel(buildTransformer({ ...SPEC, seed: 5 }), src, { externalData: 'always' });
  assert.ok(fs.existsSync(`${src}.data`));
  const out = path.join(sub, 'model_int8.onnx');
  const r = await quantizeFile(src, out, { mode: 'dynamic', speedCheck: false });
  assert.ok(fs.existsSync(`${out}.data`), 'output data file');
  assert.equal(r.outputBytes, fs.statSync(out).size + fs.statSync(`${out}.data`).size);
  assert.ok(r.sizeRatio > 3.5, `size ratio ${r.sizeRatio}`);
  // Every big tensor of the output is external; the input files are untouched.
  const q = loadModel(out);
  assert.ok(q.proto.graph!.initializer.filter((t) => t.rawData.length >= 1024).length === 0);
  q.external.close();
  assert.deepEqual(fs.readdirSync(sub).sort(), ['model.onnx', 'model.onnx.data', 'model_int8.onnx', 'model_int8.onnx.data']);
  const ids = tokenIds(1, 8, SPEC.vocab);
  const feeds = { ids: { type: 'int64' as const, data: ids, dims: [1, 8] } };
  const sqnr = sqnrDb(await runModel(src, feeds), await runModel(out, feeds));
  assert.ok(sqnr > 25, `SQNR ${sqnr.toFixed(1)} dB`);
});

test('dynamic ConvInteger: a BatchNormalization after the Conv is folded first; output close to float', async () => {
  const rand = seededRandom(8);
  const C = 16;
  const graph = makeGraph(
    [
      makeNode('Conv', ['x', 'w', 'b'], ['c'], { pads: [1, 1, 1, 1], kernel_shape: [3, 3] }, { name: 'conv' }),
      makeNode('BatchNormalization', ['c', 'g', 'beta', 'mean', 'var'], ['bn'], { epsilon: { float: 1e-5 } }, { name: 'bn' }),
      makeNode('Relu', ['bn'], ['y'], {}, { name: 'relu' }),
    ],
    'convbn',
    [makeValueInfo('x', DataType.FLOAT, ['n', 1, 8, 8])],
    [makeValueInfo('y', DataType.FLOAT, ['n', C, 8, 8])],
    [
      floatTensor('w', [C, 1, 3, 3], randomWeights(C * 9, 0.3, rand)),
      floatTensor('b', [C], randomWeights(C, 0.1, rand)),
      floatTensor('g', [C], Float32Array.from({ length: C }, () => 0.5 + rand())),
      floatTensor('beta', [C], randomWeights(C, 0.1, rand)),
      floatTensor('mean', [C], randomWeights(C, 0.1, rand)),
      floatTensor('var', [C], Float32Array.from({ length: C }, () => 0.5 + rand())),
    ],
  );
  const src = path.join(dir, 'convbn.onnx');
  saveModel(makeModel(graph, { '': 13 }), src);
  const out = path.join(dir, 'convbn_dyn.onnx');
  const r = await quantizeFile(src, out, { mode: 'dynamic', quantizeConv: true, speedCheck: false });
  assert.equal(r.quantizedNodes, 1);
  assert.ok(r.warnings.some((w) => /BatchNormalization folded/.test(w)));
  const ops = opCounts(out);
  assert.equal(ops.get('BatchNormalization'), undefined);
  assert.equal(ops.get('ConvInteger'), 1);
  const { x } = digitsTest();
  const feeds = { x: { type: 'float32' as const, data: x.subarray(0, 20 * 64), dims: [20, 1, 8, 8] } };
  const sqnr = sqnrDb(await runModel(src, feeds), await runModel(out, feeds));
  assert.ok(sqnr > 25, `SQNR ${sqnr.toFixed(1)} dB`);
});
