import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OUTLIER_RATIO, SAMPLE_LIMIT, statsOf, weightStats } from '../../../src/core/analysis/layers';
import { floatTensor, float16Tensor, makeTensor } from '../../../src/core/onnx/tensor';
import { DataType } from '../../../src/core/onnx/dtype';
import { computeQuantParams, quantRange } from '../../../src/core/quantize/math';
import { gaussian } from '../../fixtures/build';
import { seededRandom } from '../../../src/core/util/random';

/** Exact reference: sort |w| and take numpy's linear-interpolated 99.9th percentile. */
function exactP999(v: Float32Array): number {
  const a = Array.from(v, Math.abs).sort((x, y) => x - y);
  const pos = 0.999 * (a.length - 1);
  const lo = Math.floor(pos);
  return a[lo]! + (a[Math.min(lo + 1, a.length - 1)]! - a[lo]!) * (pos - lo);
}

test('min, max, mean, std are exact; p99.9 of |w| within one histogram bin of the sorted value', () => {
  const v = gaussian(100_000, 0.5, 123);
  const s = weightStats(floatTensor('w', [v.length], v));
  let sum = 0;
  for (const x of v) sum += x;
  const mean = sum / v.length;
  let ss = 0;
  for (const x of v) ss += (x - mean) ** 2;
  assert.equal(s.min, Math.min(...v));
  assert.equal(s.max, Math.max(...v));
  assert.ok(Math.abs(s.mean - mean) < 1e-9);
  assert.ok(Math.abs(s.std - Math.sqrt(ss / v.length)) < 1e-6);
  const exact = exactP999(v);
  assert.ok(Math.abs(s.absMaxP999 - exact) <= (2 * s.absMax) / 4096, `${s.absMaxP999} vs ${exact}`);
  assert.ok(s.outlierRatio < OUTLIER_RATIO && !s.outlierDominated, 'a Gaussian is not outlier-dominated');
  assert.equal(s.sampled, v.length);
});

test('one huge weight makes the range outlier-dominated; the 6-std share is counted exactly', () => {
  const v = gaussian(10_000, 0.1, 5);
  v[42] = 5;
  v[43] = -4;
  const s = statsOf(v);
  let beyond = 0;
  for (const x of v) if (Math.abs(x - s.mean) > 6 * s.std) beyond++;
  assert.equal(s.outlierShare, beyond / v.length);
  assert.ok(beyond >= 2);
  assert.ok(s.outlierDominated && s.outlierRatio > 10, `ratio ${s.outlierRatio}`);
  assert.equal(s.absMax, 5);
});

test('suggested parameters are computeQuantParams of the range (int8 symmetric by default, uint8 asymmetric on request)', () => {
  const v = Float32Array.from([-0.5, 0.25, 1.27, 0]);
  const s = statsOf(v);
  assert.deepEqual(s.suggested, { ...computeQuantParams(-0.5, 1.27, quantRange('int8', { symmetric: true }), true), type: 'int8' });
  assert.ok(Math.abs(s.suggested.scale - 1.27 / 127) < 1e-7 && s.suggested.zeroPoint === 0);
  const u = statsOf(v, { type: 'uint8' });
  assert.deepEqual(u.suggested, { ...computeQuantParams(-0.5, 1.27, quantRange('uint8'), false), type: 'uint8' });
});

test('float16 weights are read through readFloat32; empty and constant tensors do not divide by zero', () => {
  const s = weightStats(float16Tensor('h', [4], [0.5, -1, 2, 0.25]));
  assert.equal(s.max, 2);
  assert.equal(s.min, -1);
  const z = statsOf(new Float32Array(8));
  assert.equal(z.outlierRatio, 1);
  assert.equal(z.suggested.scale, 1);
  const e = statsOf(new Float32Array(0));
  assert.equal(e.elements, 0);
  const ints = floatTensor('x', [1], [1]);
  ints.dataType = 7; // INT64
  assert.throws(() => weightStats(ints), /not a float tensor/);
});

test('tensors above SAMPLE_LIMIT use a strided sample for the percentile but every value for min/max', () => {
  const n = SAMPLE_LIMIT * 2 + 3;
  const v = new Float32Array(n);
  const rng = seededRandom(9);
  for (let i = 0; i < n; i++) v[i] = rng() * 2 - 1;
  v[1] = 3; // odd index: outside the stride-3 sample, still the max
  const s = statsOf(v);
  assert.ok(s.sampled < n && s.sampled >= SAMPLE_LIMIT * 0.6, `sampled ${s.sampled}`);
  assert.equal(s.max, 3);
  assert.ok(Math.abs(s.absMaxP999 - 0.999) < 0.01, `p999 ${s.absMaxP999}`);
});

test('misaligned raw_data (read through the scratch buffer in chunks) gives the same statistics as an aligned copy', () => {
  const n = 300_001; // several 65,536-value chunks plus a tail; above SAMPLE_LIMIT, so sampled too
  const v = gaussian(n, 0.2, 17);
  v[70_000] = 9; // an outlier inside the second chunk
  const buf = new Uint8Array(n * 4 + 3);
  buf.set(new Uint8Array(v.buffer), 3);
  const t = makeTensor('mis', DataType.FLOAT, [n], buf.subarray(3));
  assert.equal(t.rawData.byteOffset % 4, 3);
  const a = weightStats(t);
  const b = statsOf(Float32Array.from(v));
  // Chunked partial sums round differently in the last bits; everything else is identical.
  assert.ok(Math.abs(a.mean - b.mean) < 1e-12 && Math.abs(a.std - b.std) < 1e-9);
  assert.deepEqual({ ...a, mean: 0, std: 0 }, { ...b, mean: 0, std: 0 });
  assert.ok(a.outlierShare > 0 && a.max === 9);
});

test('NaN and infinite weights are left out of every statistic', () => {
  const s = statsOf(Float32Array.from([1, NaN, -2, Infinity, 0.5, -Infinity]));
  assert.deepEqual([s.min, s.max, s.elements], [-2, 1, 6]);
  assert.ok(Math.abs(s.mean - -0.5 / 3) < 1e-12);
  assert.ok(Number.isFinite(s.std) && Number.isFinite(s.suggested.scale));
});
