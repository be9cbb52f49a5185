import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeQuantParams, fullRange, quantizePerChannel, quantizeValue, quantRange, roundHalfEven } from '../../../src/core/quantize/math';
import { quantizeInt8Symmetric, roundHalfEvenFast } from '../../../src/core/quantize/weights';
import { pack4, unpack4 } from '../../../src/core/onnx/tensor';
import { randomWeights } from './models';
import { seededRandom } from '../../../src/core/util/random';

test('round half to even (numpy / ONNX QuantizeLinear), both implementations', () => {
  const cases: [number, number][] = [[0.5, 0], [1.5, 2], [2.5, 2], [-2.5, -2], [-1.5, -2], [-0.5, 0], [3.4999, 3], [-3.5001, -4], [126.5, 126], [127.5, 128]];
  for (const [x, want] of cases) {
    assert.equal(roundHalfEven(x) + 0, want, `roundHalfEven(${x})`);
    assert.equal(roundHalfEvenFast(x) + 0, want, `roundHalfEvenFast(${x})`);
  }
  const rand = seededRandom(1);
  for (let i = 0; i < 10000; i++) {
    const x = Math.round((rand() - 0.5) * 1000) / 2 + (i % 3 === 0 ? rand() : 0);
    assert.equal(roundHalfEvenFast(x), roundHalfEven(x), `x = ${x}`);
  }
});

test('scale and zero point: hand-worked values', () => {
  // uint8 asymmetric activation on [-1, 1]: scale 2/255, zp = round(127.5) = 128 (half to even).
  let p = computeQuantParams(-1, 1, quantRange('uint8'), false);
  assert.equal(p.scale, Math.fround(2 / 255));
  assert.equal(p.zeroPoint, 128);
  // int8 asymmetric on [-1, 3]: scale 4/255, zp = round(-128 + 63.75) = -64.
  p = computeQuantParams(-1, 3, quantRange('int8'), false);
  assert.equal(p.scale, Math.fround(4 / 255));
  assert.equal(p.zeroPoint, -64);
  // The range must contain 0: [2, 4] behaves as [0, 4].
  p = computeQuantParams(2, 4, quantRange('uint8'), false);
  assert.equal(p.scale, Math.fround(4 / 255));
  assert.equal(p.zeroPoint, 0);
  // int8 symmetric weight: scale = absmax / 127, zp exactly 0.
  p = computeQuantParams(-0.5, 2, quantRange('int8', { symmetric: true }), true);
  assert.equal(p.scale, Math.fround(2 / 127));
  assert.ok(Object.is(p.zeroPoint + 0, 0));
  // uint8 symmetric: range 0..254, zp 127.
  assert.equal(computeQuantParams(-1, 1, quantRange('uint8', { symmetric: true }), true).zeroPoint, 127);
  // 7-bit weights (reduce range): [-64, 64] → scale absmax / 64.
  p = computeQuantParams(-3, 2, quantRange('int8', { symmetric: true, reduceRange: true }), true);
  assert.equal(p.scale, Math.fround(3 / 64));
  assert.equal(p.zeroPoint, 0);
  // Degenerate range: scale 1, zp 0.
  assert.deepEqual(computeQuantParams(0, 0, quantRange('uint8'), false), { scale: 1, zeroPoint: 0 });
});

test('ONNX DynamicQuantizeLinear spec example and saturation', () => {
  const x = [0, 2, -3, -2.5, 1.34, 0.5];
  const p = computeQuantParams(Math.min(...x), Math.max(...x), quantRange('uint8'), false);
  assert.ok(Math.abs(p.scale - 0.019608) < 1e-6);
  assert.equal(p.zeroPoint, 153);
  assert.deepEqual(x.map((v) => quantizeValue(v, p.scale, p.zeroPoint, fullRange('uint8'))), [153, 255, 0, 26, 221, 179]);
  assert.equal(quantizeValue(1000, 0.1, 0, fullRange('int8')), 127);
  assert.equal(quantizeValue(-1000, 0.1, 0, fullRange('int8')), -128);
  assert.equal(quantizeValue(1000, 0.1, 3, fullRange('uint4')), 15);
});

test('per-tensor and per-channel int8 symmetric weights (fast path agrees with math.ts)', () => {
  // [K=2, N=3] with per-column ranges 1, 2, 4 → scales 1/127, 2/127, 4/127.
  const w = Float32Array.from([1, -2, 0.5, -0.5, 1, -4]);
  const pc = quantizeInt8Symmetric(w, [2, 3], 1, false);
  assert.deepEqual([...pc.scales], [1 / 127, 2 / 127, 4 / 127].map(Math.fround));
  assert.deepEqual([...pc.data], [127, -127, 16, -64, 64, -127]);
  const pt = quantizeInt8Symmetric(w, [2, 3], undefined, false);
  assert.deepEqual([...pt.scales], [Math.fround(4 / 127)]);
  assert.deepEqual([...pt.data], [32, -64, 16, -16, 32, -127]);
  // Random tensors: same integers and scales as the generic per-channel quantizer.
  const r = randomWeights(64 * 48, 0.2, seededRandom(4));
  for (const [axis, reduceRange] of [[0, false], [1, false], [1, true]] as const) {
    const fast = quantizeInt8Symmetric(r, [64, 48], axis, reduceRange);
    const ref = quantizePerChannel(r, [64, 48], axis, 'int8', { symmetric: true, reduceRange });
    assert.deepEqual([...fast.data], [...ref.values]);
    assert.deepEqual([...fast.scales], ref.params.map((q) => q.scale));
  }
  // Rank 3: the channel axis in the middle (rows outside and inside it) and last.
  for (const axis of [1, 2] as const) {
    const fast = quantizeInt8Symmetric(r, [4, 16, 48], axis, false);
    const ref = quantizePerChannel(r, [4, 16, 48], axis, 'int8', { symmetric: true });
    assert.deepEqual([...fast.data], [...ref.values]);
    assert.deepEqual([...fast.scales], ref.params.map((q) => q.scale));
  }
});

test('4-bit packing: element 0 in the low nibble, signed and unsigned round trip', () => {
  assert.deepEqual([...pack4([1, 2, 3])], [0x21, 0x03]);
  assert.deepEqual([...unpack4(pack4([1, 2, 15, 0]), 4, false)], [1, 2, 15, 0]);
  assert.deepEqual([...unpack4(pack4([-8, 7, -1]), 3, true)], [-8, 7, -1]);
});
