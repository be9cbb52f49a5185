import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Calibrator, TensorCalibrator } from '../../../src/core/calibrate/methods';
import { StreamingHistogram, histogramQuantile } from '../../../src/core/calibrate/histogram';
import { seededRandom, standardNormal } from '../../../src/core/util/random';

/** Gaussian samples (σ = 1) in batches, with a few planted outliers at ±50. */
function* gaussianBatches(batches: number, size: number, seed = 1): Generator<Float32Array> {
  const rand = seededRandom(seed);
  for (let b = 0; b < batches; b++) {
    const x = Float32Array.from({ length: size }, () => standardNormal(rand));
    if (b === Math.floor(batches / 2)) {
      x[0] = 50;
      x[1] = -45;
    }
    yield x;
  }
}

test('MinMax returns the exact extremes of a known tensor across batches', () => {
  const c = new TensorCalibrator({ method: 'minmax' });
  c.update(Float32Array.of(0.5, -1.25, 3));
  c.update(Float32Array.of(7.5, 2, -0.75));
  c.update(Float32Array.of(1, 1, 1));
  assert.deepEqual(c.range(), { min: -1.25, max: 7.5 });
});

test('moving-average MinMax follows per-batch extremes with constant 0.01', () => {
  const c = new TensorCalibrator({ method: 'minmax', movingAverage: true });
  c.update(Float32Array.of(-1, 1));
  c.update(Float32Array.of(-101, 101));
  const r = c.range();
  assert.ok(Math.abs(r.max - 2) < 1e-9 && Math.abs(r.min + 2) < 1e-9, JSON.stringify(r));
});

test('percentile and entropy ranges ignore planted outliers that MinMax keeps', () => {
  const methods = ['minmax', 'percentile', 'entropy'] as const;
  const ranges = Object.fromEntries(
    methods.map((method) => {
      const c = new TensorCalibrator({ method, percentile: 99.99 });
      for (const batch of gaussianBatches(20, 5000)) c.update(batch);
      return [method, c.range()];
    }),
  );
  assert.equal(ranges.minmax!.max, 50);
  assert.equal(ranges.minmax!.min, -45);
  for (const m of ['percentile', 'entropy'] as const) {
    const r = ranges[m]!;
    assert.ok(r.max - r.min < (ranges.minmax!.max - ranges.minmax!.min) / 3, `${m} range ${JSON.stringify(r)} should be well inside minmax`);
    // ... yet still cover the bulk of a standard gaussian (|x| ≤ 2.5 holds 98.8% of it).
    assert.ok(r.max > 2.5 && r.min < -2.5, `${m} range ${JSON.stringify(r)} too narrow`);
  }
  // 99.99th percentile of N(0,1) is 3.72; the streaming histogram must land near it.
  assert.ok(Math.abs(ranges.percentile!.max - 3.72) < 0.35, `percentile max ${ranges.percentile!.max}`);
});

test('calibration state does not grow with the number of samples', () => {
  const sizes = [2, 200].map((batches) => {
    const cal = new Calibrator(['a', 'b'], { method: 'entropy', bins: 2048 });
    for (const batch of gaussianBatches(batches, 1000)) {
      cal.update('a', batch);
      cal.update('b', batch.map((v) => v * 3));
    }
    return cal.stateBytes();
  });
  assert.equal(sizes[0], sizes[1]);
  assert.ok(sizes[0]! < 2 * (2048 * 8 + 1024));
});

test('a streaming histogram keeps every count when its range doubles', () => {
  const h = new StreamingHistogram(64);
  h.add(Float32Array.of(0.1, 0.2, 0.3));
  h.add(Float32Array.of(-5, 9, 1000));
  h.add(Float32Array.of(-2000));
  const sum = h.counts.reduce((a, b) => a + b, 0);
  assert.equal(sum, 7);
  assert.equal(h.total, 7);
  assert.ok(h.lo <= -2000 && h.hi > 1000);
  assert.equal(h.min, -2000);
  assert.equal(h.max, 1000);
  // Quantiles stay ordered and within the data.
  const q = [0.1, 0.5, 0.9].map((f) => histogramQuantile(h, f));
  assert.ok(q[0]! <= q[1]! && q[1]! <= q[2]!);
});

test('percentile of uniform data matches the true quantile within one bin', () => {
  const rand = seededRandom(5);
  const c = new TensorCalibrator({ method: 'percentile', percentile: 99, bins: 2048 });
  for (let b = 0; b < 10; b++) c.update(Float32Array.from({ length: 10000 }, () => rand() * 10));
  const r = c.range();
  assert.ok(Math.abs(r.max - 9.9) < 0.03, `max ${r.max}`);
  assert.ok(Math.abs(r.min - 0.1) < 0.03, `min ${r.min}`);
});
