import { test } from 'node:test';
import assert from 'node:assert/strict';
import { latencyStats, thinSamples } from '../../../src/core/evaluate/stats';

test('thinSamples keeps every timing up to the limit, then evenly spaced ones in run order', () => {
  const times = Array.from({ length: 1000 }, (_, i) => i / 10);
  assert.deepEqual(thinSamples(times.slice(0, 7), 500), times.slice(0, 7));
  const thin = thinSamples(times, 500);
  assert.equal(thin.length, 500);
  assert.deepEqual(thin.slice(0, 3), [0, 0.2, 0.4]);
  assert.equal(thin[499], 99.8);
  // The percentiles are computed from every run, not from the thinned ones.
  assert.equal(latencyStats(times).maxMs, 99.9);
  assert.deepEqual(thinSamples([], 500), []);
});
