// Evaluation of real quantized artefacts made by the project's quantizer (dynamic and static QDQ).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { compareModels } from '../../../src/core/evaluate/compare';
import { fixture, oracleAccuracy, quantizerAvailable, tempDir, TEST_X, TEST_Y } from './helpers';

const dir = tempDir('quantized');
const needsQuantizer = quantizerAvailable() ? {} : { todo: 'quantizeFile (src/core/quantize) is not available yet' };

async function quantize(model: string, out: string, options: Record<string, unknown>): Promise<string> {
  const { quantizeFile } = await import('../../../src/core/quantize/index');
  await quantizeFile(fixture(model), out, { mode: 'dynamic', force: true, speedCheck: false, ...options });
  return out;
}

test('dynamic MLP: accuracies match the oracle run on the int8 file; size and fidelity as expected', needsQuantizer, async () => {
  const q = await quantize('digits_mlp.onnx', path.join(dir, 'mlp.int8.onnx'), { mode: 'dynamic' });
  const r = await compareModels(fixture('digits_mlp.onnx'), q, { data: TEST_X, labels: TEST_Y, runs: 5, warmup: 1 });
  assert.ok(Math.abs(r.accuracy.candidateAccuracy! - (await oracleAccuracy(q, TEST_X, TEST_Y))) < 1e-9);
  assert.equal(r.accuracy.referenceAccuracy, 0.975);
  assert.ok(r.size.ratio > 3, `ratio ${r.size.ratio}`);
  assert.ok(r.accuracy.sqnrDb! > 30 && r.accuracy.agreement > 0.98, `SQNR ${r.accuracy.sqnrDb}, agreement ${r.accuracy.agreement}`);
});

test('static QDQ CNN: every layer maps to its quantized value (no folded-Relu mix-ups), output close to float', needsQuantizer, async () => {
  const q = await quantize('digits_cnn.onnx', path.join(dir, 'cnn.qdq.onnx'), { mode: 'static', format: 'qdq', calibrationData: fixture('digits_calib_x.npy') });
  const r = await compareModels(fixture('digits_cnn.onnx'), q, { data: TEST_X, labels: TEST_Y, runs: 3, warmup: 1, perLayer: true, perLayerSamples: 128 });
  assert.ok(Math.abs(r.accuracy.candidateAccuracy! - (await oracleAccuracy(q, TEST_X, TEST_Y))) < 1e-9);
  const layers = r.layers!;
  assert.ok(layers.length >= 10);
  // A Relu folded into its Conv's QuantizeLinear must not make the Conv output look like noise.
  for (const l of layers) assert.ok(l.sqnrDb === null || l.sqnrDb > 20, `${l.tensor}: ${l.sqnrDb} dB`);
  const relu = layers.find((l) => l.tensor === '/res1/res1.2/Relu_output_0')!;
  assert.match(relu.candidateTensor, /DequantizeLinear/);
  assert.ok(layers.filter((l) => l.localSqnrDb !== null).every((l) => l.localSqnrDb! > 25));
});

test('dynamic MLP: every run timing is kept up to 500 per model; their median is the reported p50', needsQuantizer, async () => {
  const q = await quantize('digits_mlp.onnx', path.join(dir, 'mlp.int8.timed.onnx'), { mode: 'dynamic' });
  const r = await compareModels(fixture('digits_mlp.onnx'), q, { runs: 41, warmup: 2 });
  for (const l of [r.latency.reference, r.latency.candidate]) {
    const s = l.samplesMs!;
    assert.equal(s.length, 41);
    const sorted = [...s].sort((a, b) => a - b);
    assert.ok(Math.abs(sorted[20]! - l.p50Ms) < 1e-3, `median ${sorted[20]} vs p50 ${l.p50Ms}`);
    assert.equal(sorted[0], l.minMs);
    assert.equal(sorted[40], l.maxMs);
  }
  // More runs than kept: percentiles still come from every run, samples are thinned to 500.
  const many = await compareModels(fixture('digits_mlp.onnx'), q, { runs: 620, warmup: 2 });
  for (const l of [many.latency.reference, many.latency.candidate]) {
    const s = l.samplesMs!;
    assert.equal(s.length, 500);
    const sorted = [...s].sort((a, b) => a - b);
    assert.ok(sorted[0]! >= l.minMs && sorted[499]! <= l.maxMs);
    const median = (sorted[249]! + sorted[250]!) / 2;
    assert.ok(median >= l.minMs && median <= l.p90Ms, `thinned median ${median} within [min ${l.minMs}, p90 ${l.p90Ms}]`);
  }
  assert.equal(many.latency.runs, 620);
});
