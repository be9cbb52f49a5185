import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { batchCount, batches, loadCalibrationData, modelInputs, type ModelInput } from '../../../src/core/calibrate/data';
import { collectRanges } from '../../../src/core/calibrate/run';
import { InputError, CancelledError } from '../../../src/core/errors';
import { DataType } from '../../../src/core/onnx/dtype';
import { loadModel } from '../../../src/core/onnx/model';
import { encodeNpy } from '../../../src/core/data/npy';
import { writeNpy } from '../quantize/static/residualCnn';

const FIXTURES = path.join(__dirname, '../../fixtures');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'calib-data-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

const image: ModelInput = { name: 'image', elemType: DataType.FLOAT, dims: ['batch', 1, 8, 8] };

test('no calibration data: InputError that says how to provide it', () => {
  assert.throws(
    () => loadCalibrationData(undefined, [image]),
    (e: unknown) => e instanceof InputError && /--calibration-data x\.npy/.test(e.message) && /INPUTNAME\.npy/.test(e.message) && /first axis/.test(e.message),
  );
});

test('wrong sample shape: InputError naming the input and the expected dims', () => {
  const file = writeNpy(path.join(tmp, 'bad.npy'), new Float32Array(4 * 1 * 7 * 8), [4, 1, 7, 8]);
  assert.throws(() => loadCalibrationData(file, [image]), (e: unknown) => e instanceof InputError && /'image'/.test(e.message) && /dim 2 must be 8/.test(e.message));
  const rank = writeNpy(path.join(tmp, 'rank.npy'), new Float32Array(4 * 64), [4, 64]);
  assert.throws(() => loadCalibrationData(rank, [image]), (e: unknown) => e instanceof InputError && /'image'/.test(e.message) && /rank/.test(e.message));
});

test('wrong element type: InputError naming the input', () => {
  const file = path.join(tmp, 'ints.npy');
  fs.writeFileSync(file, encodeNpy({ dtype: 'int32', shape: [2, 1, 8, 8], data: new Uint8Array(2 * 64 * 4) }));
  assert.throws(() => loadCalibrationData(file, [image]), (e: unknown) => e instanceof InputError && /'image'/.test(e.message) && /int32/.test(e.message));
});

test('multi-input model: a folder of INPUTNAME.npy, sample counts checked, a single file refused', () => {
  const inputs: ModelInput[] = [
    { name: 'a', elemType: DataType.FLOAT, dims: [null, 3] },
    { name: 'ids', elemType: DataType.INT64, dims: ['n', 2] },
  ];
  const dir = path.join(tmp, 'multi');
  writeNpy(path.join(dir, 'a.npy'), Float32Array.from({ length: 15 }, (_, i) => i), [5, 3]);
  fs.writeFileSync(path.join(dir, 'ids.npy'), encodeNpy({ dtype: 'int32', shape: [5, 2], data: new Uint8Array(Int32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).buffer) }));
  const data = loadCalibrationData(dir, inputs);
  assert.equal(data.samples, 5);
  assert.ok(data.inputs[1]!.values instanceof BigInt64Array);
  const all = [...batches(data, 2)];
  assert.equal(all.length, 3);
  assert.equal(batchCount(data, 2), 3);
  assert.deepEqual(all[2]!.feeds[0]!.dims, [1, 3]);
  assert.deepEqual(Array.from(all[1]!.feeds[0]!.values as Float32Array), [6, 7, 8, 9, 10, 11]);
  assert.throws(() => loadCalibrationData(path.join(dir, 'a.npy'), inputs), (e: unknown) => e instanceof InputError && /folder/.test(e.message));
  fs.rmSync(path.join(dir, 'ids.npy'));
  assert.throws(() => loadCalibrationData(dir, inputs), (e: unknown) => e instanceof InputError && /ids\.npy/.test(e.message));
});

test('collectRanges on the digits CNN: exact input range, progress per batch, cancellation between batches', async () => {
  const model = loadModel(path.join(FIXTURES, 'digits_cnn.onnx'));
  const data = loadCalibrationData(path.join(FIXTURES, 'digits_calib_x.npy'), modelInputs(model.proto.graph!));
  const progress: string[] = [];
  const r = await collectRanges(
    model.proto,
    [{ name: 'image', elemType: DataType.FLOAT }, { name: '/Relu_output_0' }],
    data,
    { method: 'minmax', batchSize: 64 },
    { onProgress: (p) => progress.push(p.message ?? '') },
  );
  let min = Infinity;
  let max = -Infinity;
  for (const v of data.inputs[0]!.values as Float32Array) {
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  assert.deepEqual(r.ranges.get('image'), { min, max });
  assert.equal(r.observedTypes.get('/Relu_output_0'), 'float32'); // typed by the run, not declared
  assert.equal(r.ranges.get('/Relu_output_0')!.min, 0);
  assert.ok(r.ranges.get('/Relu_output_0')!.max > 0);
  // One message per run, in samples (the sizing run feeds no statistics); batches grow from 1 as runs are measured.
  assert.equal(progress.length, r.batches);
  assert.equal(progress.at(-1), 'calibrating: 256/256 samples');
  assert.ok(r.batches > 4 && r.batchSize <= 64, `${r.batches} runs, largest ${r.batchSize}`);
  assert.equal(r.slices, 1);
  const unbounded = await collectRanges(model.proto, [{ name: 'image', elemType: DataType.FLOAT }, { name: '/Relu_output_0' }], data, { method: 'minmax', batchSize: 64, memoryBudget: Infinity });
  assert.equal(unbounded.batches, 4);
  assert.deepEqual(unbounded.ranges, r.ranges);

  const controller = new AbortController();
  await assert.rejects(
    collectRanges(model.proto, [{ name: 'image' }], data, { method: 'minmax', batchSize: 16 }, {
      signal: controller.signal,
      onProgress: (p) => p.message?.startsWith('calibrating: ') && !p.message.startsWith('calibrating: 1/') && controller.abort(),
    }),
    CancelledError,
  );
});

test('a budget below one sample runs batches of 1 and one tensor per pass (state stays the same size)', async () => {
  const model = loadModel(path.join(FIXTURES, 'digits_cnn.onnx'));
  const data = loadCalibrationData(path.join(FIXTURES, 'digits_calib_x.npy'), modelInputs(model.proto.graph!));
  const targets = [{ name: '/Relu_output_0' }, { name: '/down/down.2/Relu_output_0' }];
  const lines: string[] = [];
  const small = await collectRanges(model.proto, targets, data, { method: 'percentile', batchSize: 64, memoryBudget: 1024 }, { log: (l) => lines.push(l) });
  assert.equal(small.slices, 2);
  assert.equal(small.batchSize, 1);
  assert.equal(small.batches, 2 * 256);
  assert.ok(lines.some((l) => /below what one sample needs/.test(l)), lines.join('\n'));
  const big = await collectRanges(model.proto, targets, data, { method: 'percentile', batchSize: 64, memoryBudget: Infinity });
  assert.equal(big.batches, 4);
  assert.equal(small.stateBytes, big.stateBytes);
  // Batches of 1 and of 64 lay out the growing histogram differently: percentiles agree within 1 % of the range.
  for (const { name } of targets) {
    const a = small.ranges.get(name)!;
    const b = big.ranges.get(name)!;
    const tolerance = 0.01 * (b.max - b.min);
    assert.ok(Math.abs(a.min - b.min) <= tolerance && Math.abs(a.max - b.max) <= tolerance, `${name}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
  }
});

test('calibration data holding NaN or Inf is refused, naming how many values and where the first is', async () => {
  const values = new Float32Array(4 * 64).fill(0.5);
  values[70] = Infinity;
  values[71] = -Infinity;
  values[200] = NaN;
  const file = writeNpy(path.join(tmp, 'inf.npy'), values, [4, 1, 8, 8]);
  assert.throws(
    () => loadCalibrationData(file, [image]),
    (e: unknown) => e instanceof InputError && /'image'/.test(e.message) && /3 NaN or infinite values \(first at flat index 70\)/.test(e.message),
  );
  // Through the quantizer: refused with exit 2 and no output, instead of scales of ~1e36.
  const { quantizeFile } = await import('../../../src/core/quantize/index');
  const calib = path.join(tmp, 'calib-inf.npy');
  const good = fs.readFileSync(path.join(FIXTURES, 'digits_calib_x.npy'));
  const bad = Buffer.from(good);
  bad.writeFloatLE(Infinity, bad.length - 4);
  fs.writeFileSync(calib, bad);
  const out = path.join(tmp, 'inf-q.onnx');
  await assert.rejects(
    quantizeFile(path.join(FIXTURES, 'digits_mlp.onnx'), out, { mode: 'static', calibrationData: calib }),
    (e: unknown) => e instanceof InputError && /1 NaN or infinite value \(first at flat index \d+\)/.test(e.message),
  );
  assert.ok(!fs.existsSync(out));
});

test('numeric options from recipes and settings are range-checked before anything is allocated', async () => {
  const { resolveOptions } = await import('../../../src/core/quantize/options');
  for (const [k, v] of [['histogramBins', 1e9], ['histogramBins', 0.5], ['calibrationBatch', 1e7], ['calibrationBatch', 0], ['memoryBudget', 8], ['memoryBudget', 1.5], ['percentile', 'x']] as const) {
    assert.throws(() => resolveOptions({ mode: 'static', [k]: v } as never), (e: unknown) => e instanceof InputError, `${k}: ${v}`);
  }
  assert.equal(resolveOptions({ mode: 'static', histogramBins: 128, calibrationBatch: 8 }).options.histogramBins, 128);
});
