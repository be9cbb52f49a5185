/**
 * Calibration and evaluation data for models with a scalar input (a sample rate) and a recurrent
 * state whose batch is dim 1 (Silero VAD's shape): the scalar is one value fed whole, the state's
 * samples (stored first-axis) go onto its batch axis, and static mode calibrates such a model.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { batches, loadCalibrationData, modelInputs } from '../../../src/core/calibrate/data';
import { encodeNpy, type NpyArray } from '../../../src/core/data/npy';
import { InputError } from '../../../src/core/errors';
import { feedsFor, generateInputData, loadInputData } from '../../../src/core/evaluate/data';
import { ErrorAccumulator } from '../../../src/core/evaluate/stats';
import { loadModel } from '../../../src/core/onnx/model';
import { quantizeFile } from '../../../src/core/quantize/index';
import { createSession, type OrtTensor } from '../../../src/core/runtime/ort';
import { writeModelFile } from '../../fixtures/build/files';
import { streamingStateModel } from '../../fixtures/build/models';
import { gaussian } from '../../fixtures/build/random';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'state-inputs-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
const model = writeModelFile(tmp, 'stream.onnx', streamingStateModel());
const graph = loadModel(model).proto.graph;
assert.ok(graph);
const specs = modelInputs(graph);
const N = 24;

const f32 = (data: Float32Array, shape: number[]): NpyArray => ({ dtype: 'float32', shape, data: new Uint8Array(data.buffer) });
const i64 = (values: number[], shape: number[]): NpyArray => ({ dtype: 'int64', shape, data: new Uint8Array(BigInt64Array.from(values, BigInt).buffer) });

/** A data folder: windows, the sample rate once per sample, each sample's state [2, 8] (its batch axis dropped). */
function folder(name: string, arrays: Partial<Record<'x' | 'sr' | 'h', NpyArray>>): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  const all = { x: f32(gaussian(N * 16, 1, 5), [N, 16]), sr: i64(Array(N).fill(16000), [N]), h: f32(gaussian(N * 16, 0.5, 6), [N, 2, 8]), ...arrays };
  for (const [input, arr] of Object.entries(all)) fs.writeFileSync(path.join(dir, `${input}.npy`), encodeNpy(arr));
  return dir;
}

const floats = (t: OrtTensor | undefined) => Float32Array.from(t?.data as Float32Array);

test('a scalar input is one value fed whole; a state input takes each sample on its batch axis (dim 1)', () => {
  const data = loadCalibrationData(folder('cal', {}), specs);
  assert.equal(data.samples, N);
  assert.equal(data.fixedBatch, undefined, "the state's leading 2 is not a batch size");
  const [first] = [...batches(data, 4)];
  assert.ok(first);
  const sr = first.feeds.find((f) => f.name === 'sr');
  assert.ok(sr);
  assert.deepEqual(sr.dims, []);
  assert.deepEqual(Array.from(sr.values as BigInt64Array), [16000n]);
  const h = first.feeds.find((f) => f.name === 'h');
  assert.ok(h);
  assert.deepEqual(h.dims, [2, 4, 8]);
  // Sample s, layer l of the file ([N, 2, 8]) is h[l, s, :] of the batch.
  const file = gaussian(N * 16, 0.5, 6);
  for (let s = 0; s < 4; s++) for (let l = 0; l < 2; l++) for (let k = 0; k < 8; k++) assert.equal(h.values[(l * 4 + s) * 8 + k], file[(s * 2 + l) * 8 + k]);
});

test('evaluation data does the same: a batch of 4 gives ONNX Runtime the outputs of 4 runs of 1', async () => {
  const data = loadInputData(folder('eval', {}), specs);
  assert.deepEqual([...(data.fixed ?? [])], ['sr']);
  const session = await createSession(model);
  try {
    const batched = await session.run(feedsFor(data, 0, 4));
    assert.deepEqual(batched.hn?.dims, [2, 4, 8]);
    for (let s = 0; s < 4; s++) {
      const one = await session.run(feedsFor(data, s, 1));
      assert.deepEqual(Array.from(floats(one.out)), Array.from(floats(batched.out).subarray(s * 2, s * 2 + 2)));
    }
  } finally {
    await session.release();
  }
});

test('a state given as [N, 2, 1, 8] (each sample at batch 1) is read as [N, 2, 8]', () => {
  const data = loadCalibrationData(folder('batch1', { h: f32(gaussian(N * 16, 0.5, 6), [N, 2, 1, 8]) }), specs);
  assert.deepEqual([...batches(data, 3)][0]?.feeds.find((f) => f.name === 'h')?.dims, [2, 3, 8]);
});

test('different values for a scalar, or a state of the wrong shape: an InputError naming the input and what to give', () => {
  const mixed = folder('mixed', { sr: i64([...Array(N - 1).fill(16000), 8000], [N]) });
  for (const load of [() => loadCalibrationData(mixed, specs), () => loadInputData(mixed, specs)]) {
    assert.throws(load, (e: unknown) => e instanceof InputError && /scalar input 'sr'/.test(e.message) && /8000 at sample 23/.test(e.message) && /--input sr=VALUE/.test(e.message));
  }
  const wrong = folder('wrong', { h: f32(gaussian(N * 24, 0.5, 6), [N, 3, 8]) });
  for (const load of [() => loadCalibrationData(wrong, specs), () => loadInputData(wrong, specs)]) {
    assert.throws(load, (e: unknown) => e instanceof InputError && /'h' is a recurrent state \[2, batch, 8\]/.test(e.message) && /\[N, 2, 8\]/.test(e.message));
  }
});

test('generated probe inputs batch the zero state too (16 samples on dim 1)', () => {
  const data = generateInputData(loadModel(model).proto, specs, 16);
  const feeds = feedsFor(data, 0, 16);
  assert.deepEqual(feeds.h?.dims, [2, 16, 8]);
  assert.deepEqual(feeds.sr?.dims, []);
});

test('static mode calibrates a model with a scalar and a state input; the written model keeps to float in ONNX Runtime', async () => {
  const cal = folder('static', {});
  const out = path.join(tmp, 'stream.static.onnx');
  const r = await quantizeFile(model, out, { mode: 'static', calibrationData: cal, force: true });
  assert.ok(r.quantizedNodes >= 2, `quantized ${r.quantizedNodes} nodes; skipped ${JSON.stringify(r.skippedNodes)}`);
  assert.equal(r.fidelity?.inputs, 'calibration data');
  assert.ok(r.fidelity && !r.fidelity.belowFloor, JSON.stringify(r.fidelity));
  const data = loadInputData(folder('check', { x: f32(gaussian(N * 16, 1, 9), [N, 16]) }), specs);
  const acc = new ErrorAccumulator();
  const [float, quant] = [await createSession(model), await createSession(out)];
  try {
    const a = await float.run(feedsFor(data, 0, N));
    const b = await quant.run(feedsFor(data, 0, N));
    acc.add(floats(a.out), floats(b.out));
  } finally {
    await float.release();
    await quant.release();
  }
  assert.ok(acc.sqnrDb !== null && acc.sqnrDb > 25, `SQNR ${acc.sqnrDb} dB on held-out samples`);
});
