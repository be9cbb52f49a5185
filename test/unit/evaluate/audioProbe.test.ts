/** Default probe inputs for audio models: sample rate by name, waveform window, recurrent state batch. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { feedsFor, generateInputData, maxBatchOf } from '../../../src/core/evaluate/data';
import { DataType } from '../../../src/core/onnx/dtype';
import type { ModelProto } from '../../../src/core/onnx/schema';

const F = DataType.FLOAT;
const I64 = DataType.INT64;
// Silero VAD v4's and v5's inputs (v5 leaves its dims unnamed).
const v4 = [
  { name: 'input', elemType: F, dims: ['batch', 'sequence'] },
  { name: 'sr', elemType: I64, dims: [] },
  { name: 'h', elemType: F, dims: [2, 'batch', 64] },
  { name: 'c', elemType: F, dims: [2, 'batch', 64] },
];
const v5 = [
  { name: 'input', elemType: F, dims: [null, null] },
  { name: 'state', elemType: F, dims: [2, null, 128] },
  { name: 'sr', elemType: I64, dims: [] },
];
const noProto = { graph: { node: [], initializer: [], input: [], output: [] } } as unknown as ModelProto;

test('a recurrent state input does not fix the batch; a scalar sample rate is 16000; a waveform is one 512-sample window', () => {
  for (const specs of [v4, v5]) {
    assert.equal(maxBatchOf(specs), Infinity);
    const data = generateInputData(noProto, specs, 1);
    assert.deepEqual(data.arrays.get('input')?.shape, [1, 512]);
    const sr = data.arrays.get('sr');
    assert.ok(sr);
    assert.equal(new BigInt64Array(sr.data.buffer, sr.data.byteOffset, 1)[0], 16000n);
    const name = specs === v4 ? 'h' : 'state';
    const state = feedsFor(data, 0, 1)[name];
    assert.ok(state);
    assert.deepEqual(state.dims, specs === v4 ? [2, 1, 64] : [2, 1, 128]);
    assert.ok((state.data as Float32Array).every((x) => x === 0), 'initial state is zeros');
    // Sixteen generated samples take sixteen zero states on the state's batch axis.
    assert.deepEqual(feedsFor(generateInputData(noProto, specs, 16), 0, 16)[name]?.dims, specs === v4 ? [2, 16, 64] : [2, 16, 128]);
  }
});

test('a float [batch, N] input without a sample rate or an audio dim name keeps the length default', () => {
  const data = generateInputData(noProto, [{ name: 'x', elemType: F, dims: ['batch', 'features'] }], 1);
  assert.deepEqual(data.arrays.get('x')?.shape, [1, 128]);
  const mel = generateInputData(noProto, [{ name: 'input', elemType: F, dims: ['batch_size', 'samples'] }], 1);
  assert.deepEqual(mel.arrays.get('input')?.shape, [1, 512]);
});
