/**
 * Float16-native models (weights and compute in half precision) quantize in the int8/int4 modes:
 * the model is widened to float32 first (exactly), keeping its float16 output, and the written
 * model is judged against the float16 model in ONNX Runtime.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeNpy } from '../../../src/core/data/npy';
import { ErrorAccumulator } from '../../../src/core/evaluate/stats';
import { DataType } from '../../../src/core/onnx/dtype';
import { loadModel } from '../../../src/core/onnx/model';
import { modelToBytes } from '../../../src/core/onnx/save';
import { walkTensors } from '../../../src/core/onnx/walk';
import { quantizeFile } from '../../../src/core/quantize/index';
import { widenFloat16 } from '../../../src/core/quantize/widen';
import { createSession, ort, type InferenceSession } from '../../../src/core/runtime/ort';
import { float16BitsToFloat32 } from '../../../src/core/onnx/float16';
import { writeModelFile } from '../../fixtures/build/files';
import { float16NativeModel, mlpModel } from '../../fixtures/build/models';
import { uniform } from '../../fixtures/build/random';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'widen-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
const model = writeModelFile(tmp, 'fp16.onnx', float16NativeModel());
const N = 32;
const x = uniform(N * 64, 0, 1, 9);
const calibration = path.join(tmp, 'x.npy');
fs.writeFileSync(calibration, encodeNpy({ dtype: 'float32', shape: [N, 1, 8, 8], data: new Uint8Array(uniform(N * 64, 0, 1, 10).buffer) }));

async function run(file: string | Uint8Array): Promise<{ values: Float32Array; type: string }> {
  const session: InferenceSession = await createSession(file);
  try {
    const y = (await session.run({ x: new (ort().Tensor)('float32', x, [N, 1, 8, 8]) })).y;
    assert.ok(y);
    const values = y.type === 'float16' ? Float32Array.from(y.data as Uint16Array, float16BitsToFloat32) : Float32Array.from(y.data as Float32Array);
    return { values, type: y.type };
  } finally {
    await session.release();
  }
}

function sqnr(a: Float32Array, b: Float32Array): number {
  const acc = new ErrorAccumulator();
  acc.add(a, b);
  return acc.sqnrDb ?? Infinity;
}

test('widening stores every float16 tensor as float32, drops the casts that became no-ops, keeps the float16 output; ORT agrees with the float16 model', async () => {
  const proto = loadModel(model).proto;
  const wide = widenFloat16(proto);
  assert.ok(wide && wide.proto.graph && proto.graph);
  assert.equal(wide.tensors, 5, 'four initializers and the Constant bias');
  assert.ok(![...walkTensors(wide.proto.graph)].some((v) => v.tensor.dataType === DataType.FLOAT16));
  assert.deepEqual(wide.castsRemoved.sort(), ['relu1_f32', 'soft16', 'x16'], 'the border and island casts, all now no-ops');
  assert.ok(walkTensors(proto.graph).next().value?.tensor.dataType === DataType.FLOAT16, 'the loaded model is left as it was');
  const [half, widened] = [await run(model), await run(modelToBytes(wide.proto))];
  assert.equal(widened.type, 'float16', 'the output keeps its type');
  // The widened model computes in float32: it differs from the float16 model only by float16 rounding.
  assert.ok(sqnr(half.values, widened.values) > 45, `SQNR ${sqnr(half.values, widened.values)} dB`);
  assert.equal(widenFloat16(mlpModel()), undefined, 'a float32 model is not touched');
});

for (const mode of ['dynamic', 'static', 'weight-only'] as const) {
  test(`${mode}: a float16-native model quantizes (nothing skipped for being float16), and stays close to the float16 model in ORT`, async () => {
    const out = path.join(tmp, `fp16.${mode}.onnx`);
    const r = await quantizeFile(model, out, { mode, force: true, speedCheck: false, ...(mode === 'static' ? { calibrationData: calibration } : { fidelityData: calibration }), ...(mode === 'weight-only' ? { blockSize: 16 } : {}) });
    assert.ok(r.quantizedNodes >= (mode === 'static' ? 3 : 2), `${mode}: ${r.quantizedNodes} quantized; ${JSON.stringify(r.skippedNodes)}`);
    assert.ok(!r.skippedNodes.some((s) => /float16/.test(s.reason)), JSON.stringify(r.skippedNodes));
    assert.ok(r.warnings.some((w) => /^float16 model: its 5 float16 tensor\(s\) were widened to float32/.test(w)), r.warnings.join('\n'));
    assert.ok(r.fidelity && !r.fidelity.belowFloor, JSON.stringify(r.fidelity));
    const [half, quant] = [await run(model), await run(out)];
    assert.equal(quant.type, 'float16');
    assert.ok(sqnr(half.values, quant.values) > 20, `${mode}: SQNR ${sqnr(half.values, quant.values)} dB against the float16 model`);
  });
}

test('nothing quantized (dynamic keeps Conv float, both MatMuls excluded): the float16 model is written as it was, not widened', async () => {
  const out = path.join(tmp, 'fp16.none.onnx');
  const r = await quantizeFile(model, out, { mode: 'dynamic', force: true, speedCheck: false, excludeNodes: ['matmul1', 'matmul2'] });
  assert.equal(r.quantizedNodes, 0);
  assert.ok(!r.warnings.some((w) => /widened/.test(w)), r.warnings.join('\n'));
  const written = loadModel(out).proto.graph;
  assert.ok(written);
  assert.ok([...walkTensors(written)].every((v) => v.tensor.dataType === DataType.FLOAT16), 'weights stay float16');
  assert.ok(r.sizeRatio > 0.95, `size ratio ${r.sizeRatio}`);
});
