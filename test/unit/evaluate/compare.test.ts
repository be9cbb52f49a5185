import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compareModels } from '../../../src/core/evaluate/compare';
import { evaluationDataText } from '../../../src/core/report/format';
import { CancelledError, InputError } from '../../../src/core/errors';
import { loadModel } from '../../../src/core/onnx/model';
import { saveModel } from '../../../src/core/onnx/save';
import { makeNode } from '../../../src/core/onnx/builder';
import { fixture, noise, oracleAccuracy, tempDir, TEST_X, TEST_Y, withWeights } from './helpers';

const MLP = fixture('digits_mlp.onnx');
const dir = tempDir('compare');

test('labelled accuracies match an independent onnxruntime-node computation', async () => {
  // fc1 weights with noise of the weights' own size: a candidate that really loses accuracy.
  const n = noise(1);
  const cand = withWeights(MLP, path.join(dir, 'noisy.onnx'), 'fc1.weight', (v, i) => v + 0.12 * n(i));
  const r = await compareModels(MLP, cand, { data: TEST_X, labels: TEST_Y, runs: 5, warmup: 1, perLayer: true, perLayerSamples: 360 });
  const refOracle = await oracleAccuracy(MLP, TEST_X, TEST_Y);
  const candOracle = await oracleAccuracy(cand, TEST_X, TEST_Y);
  assert.equal(r.accuracy.samples, 360);
  assert.ok(Math.abs(r.accuracy.referenceAccuracy! - refOracle) < 1e-6, `${r.accuracy.referenceAccuracy} vs ${refOracle}`);
  assert.ok(Math.abs(r.accuracy.candidateAccuracy! - candOracle) < 1e-6, `${r.accuracy.candidateAccuracy} vs ${candOracle}`);
  assert.ok(Math.abs(refOracle - 0.975) < 1e-9, 'the float MLP scores 97.50 % (fixtures README)');
  assert.ok(candOracle < refOracle, 'the noisy copy is worse');
  assert.ok(r.accuracy.agreement < 1 && r.accuracy.agreement > 0.5);
  assert.ok(r.accuracy.sqnrDb !== null && Number.isFinite(r.accuracy.sqnrDb) && !r.accuracy.identical);
  assert.ok(r.accuracy.cosine < 1 && r.accuracy.cosine > 0.5);
  assert.ok(r.accuracy.maxAbsError > 0);
  // The per-layer pass sees the same 360 samples: its value for the output matches.
  const logits = r.layers!.find((l) => l.tensor === 'logits')!;
  assert.ok(Math.abs(logits.sqnrDb! - r.accuracy.sqnrDb!) < 0.01, `${logits.sqnrDb} vs ${r.accuracy.sqnrDb}`);
  assert.equal(r.layers![0]!.node, '/fc1/Gemm', 'the noisy layer adds the error');
});

test('a model against itself is identical: SQNR null (infinite), cosine 1, no error', async () => {
  const r = await compareModels(MLP, MLP, { data: TEST_X, runs: 3, warmup: 1 });
  assert.equal(r.accuracy.identical, true);
  assert.equal(r.accuracy.sqnrDb, null);
  assert.equal(evaluationDataText(r.accuracy), 'digits_test_x.npy, 360 samples, no labels: accuracy needs labels');
  assert.equal(r.accuracy.agreement, 1);
  assert.equal(r.accuracy.cosine, 1);
  assert.equal(r.accuracy.maxAbsError, 0);
  assert.match(JSON.stringify(r), /"sqnrDb":null,"identical":true/);
});

test('size counts the files on disk; latency percentiles are ordered; speedup is p50 over p50', async () => {
  const cand = withWeights(MLP, path.join(dir, 'same-size.onnx'), 'fc3.bias', (v) => v + 1);
  const r = await compareModels(MLP, cand, { runs: 20, warmup: 2 });
  assert.equal(r.size.referenceBytes, fs.statSync(MLP).size);
  assert.equal(r.size.candidateBytes, fs.statSync(cand).size);
  for (const l of [r.latency.reference, r.latency.candidate]) assert.ok(l.minMs <= l.p50Ms && l.p50Ms <= l.p90Ms && l.p90Ms <= l.p99Ms && l.p99Ms <= l.maxMs);
  assert.ok(Math.abs(r.latency.speedup - r.latency.reference.p50Ms / r.latency.candidate.p50Ms) < 0.01);
  assert.equal(r.accuracy.inputs, 'generated');
  assert.equal(r.accuracy.samples, 64);
  assert.equal(r.accuracy.dataFile, undefined);
  assert.equal(evaluationDataText(r.accuracy), 'random inputs, 64 samples: accuracy needs labels');
  // A constant shift of every logit leaves every arg-max in place.
  assert.equal(r.accuracy.agreement, 1);
  assert.ok(Math.abs(r.accuracy.maxAbsError - 1) < 1e-4);
});

test('different input names are refused with a clear InputError', async () => {
  const m = loadModel(MLP);
  const g = m.proto.graph!;
  g.input[0]!.name = 'pixels';
  for (const n of g.node) n.input = n.input.map((i) => (i === 'image' ? 'pixels' : i));
  const renamed = path.join(dir, 'renamed.onnx');
  saveModel(m.proto, renamed, { force: true });
  await assert.rejects(compareModels(MLP, renamed, { runs: 1 }), (e: unknown) => e instanceof InputError && /different inputs: reference \[image\], candidate \[pixels\]/.test(e.message));
});

test('labels without data, and labels of the wrong length, are input errors', async () => {
  await assert.rejects(compareModels(MLP, MLP, { labels: TEST_Y }), InputError);
  await assert.rejects(compareModels(MLP, MLP, { data: fixture('digits_calib_x.npy'), labels: TEST_Y, runs: 1 }), /labels hold 360 values/);
});

test('a candidate with float16 inputs gets the same samples converted', async () => {
  // The MLP behind a Cast: input 'image' is float16, everything after it float32.
  const m = loadModel(MLP);
  const g = m.proto.graph!;
  const type = g.input[0]!.type!.value;
  if (type.case === 'tensorType') type.value.elemType = 10; // FLOAT16
  for (const n of g.node) n.input = n.input.map((i) => (i === 'image' ? 'image_f32' : i));
  g.node.unshift(makeNode('Cast', ['image'], ['image_f32'], { to: 1 }, { name: 'cast_in' }));
  const half = path.join(dir, 'fp16-input.onnx');
  saveModel(m.proto, half, { force: true });
  const r = await compareModels(MLP, half, { data: TEST_X, labels: TEST_Y, runs: 3, warmup: 1, perLayer: true });
  // Digits pixels are multiples of 1/16, exact in float16: the conversion loses nothing.
  assert.equal(r.accuracy.identical, true);
  assert.equal(r.accuracy.candidateAccuracy, r.accuracy.referenceAccuracy);
  assert.equal(r.layers!.find((l) => l.tensor === '/fc1/Gemm_output_0')!.identical, true);
});

test('cancellation stops a comparison with CancelledError', async () => {
  const controller = new AbortController();
  const running = compareModels(MLP, MLP, { data: TEST_X, runs: 100000, warmup: 0 }, { signal: controller.signal, onProgress: (p) => p.stage === 'benchmarking' && controller.abort() });
  await assert.rejects(running, CancelledError);
});

test('a transformer compared without --data runs at sequence 128 and says so (timing and fidelity on the same generated ids)', async () => {
  const { buildTransformer } = await import('../quantize/models');
  const float = path.join(dir, 'encoder.onnx');
  saveModel(buildTransformer({ vocab: 64, dim: 16, layers: 1, ffn: 32, seed: 3 }), float);
  const copy = path.join(dir, 'encoder.copy.onnx');
  fs.copyFileSync(float, copy);
  const r = await compareModels(float, copy, { runs: 2, warmup: 0 });
  assert.match(r.latency.inputShapes ?? '', /^ids \[1, 128\] \(.*seq=128 \(sequence default\)/, r.latency.inputShapes);
  assert.equal(r.accuracy.identical, true, 'the same generated ids feed both models');
});
