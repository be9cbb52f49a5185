import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { InputError } from '../../../../src/core/errors';
import { loadModel } from '../../../../src/core/onnx/model';
import { modelToBytes } from '../../../../src/core/onnx/save';
import { quantizeStatic } from '../../../../src/core/quantize/static';
import { allNodes, argmaxAccuracy, digitsTest, FIXTURES, modelBytes, optimizedOpCounts, runModel, staticOptions } from './helpers';

const calib = path.join(FIXTURES, 'digits_calib_x.npy');
const test_ = digitsTest();

async function accuracy(proto: Parameters<typeof runModel>[0]): Promise<number> {
  return argmaxAccuracy(await runModel(proto, test_.x, [test_.n, 1, 8, 8]), test_.y, 10);
}

test('digits CNN, static QDQ: ≤ 1 point accuracy loss, ≥ 3.5× smaller, all of it runs in QLinear kernels', async () => {
  const model = loadModel(path.join(FIXTURES, 'digits_cnn.onnx'));
  const before = Buffer.from(modelToBytes(model.proto));
  const r = await quantizeStatic(model, staticOptions({ calibrationData: calib }), allNodes(), {});
  assert.equal(Buffer.compare(before, Buffer.from(modelToBytes(model.proto))), 0, 'input model untouched');
  const floatAcc = await accuracy(model.proto);
  const qAcc = await accuracy(r.proto);
  assert.ok(floatAcc - qAcc <= 0.01, `float ${floatAcc} int8 ${qAcc}`);
  const ratio = model.modelFileBytes / modelBytes(r.proto);
  assert.ok(ratio >= 3.5, `size ratio ${ratio.toFixed(2)}`);
  // Graph I/O unchanged: same names, float32.
  assert.deepEqual(r.proto.graph!.output.map((o) => o.name), ['logits']);
  assert.equal(r.proto.graph!.output[0]!.type?.value.case === 'tensorType' && r.proto.graph!.output[0]!.type.value.value.elemType, 1);
  assert.equal(r.quantizedNodes, 8); // 4 Conv, Add, GlobalAveragePool, Flatten, Gemm (the 4 Relu are folded)
  assert.ok(!r.proto.graph!.node.some((n) => n.opType === 'Relu'));
  const ops = await optimizedOpCounts(r.proto);
  assert.equal(ops.get('QLinearConv'), 4);
  assert.equal(ops.get('QLinearAdd'), 1);
  assert.equal(ops.get('QGemm'), 1);
  assert.equal(ops.get('Conv') ?? 0, 0);
  assert.equal(ops.get('DequantizeLinear') ?? 0, 0);
});

test('digits CNN, static QOperator: integer operators in the file, loads, runs, within 1 point', async () => {
  const model = loadModel(path.join(FIXTURES, 'digits_cnn.onnx'));
  const r = await quantizeStatic(model, staticOptions({ calibrationData: calib, format: 'qoperator' }), allNodes(), {});
  const ops = new Set(r.proto.graph!.node.map((n) => n.opType));
  for (const op of ['QLinearConv', 'QLinearAdd', 'QLinearGlobalAveragePool', 'QGemm']) assert.ok(ops.has(op), `missing ${op}`);
  assert.ok(!ops.has('Conv') && !ops.has('Relu'));
  assert.ok(r.proto.opsetImport.some((o) => o.domain === 'com.microsoft'));
  const floatAcc = await accuracy(model.proto);
  const qAcc = await accuracy(r.proto);
  assert.ok(floatAcc - qAcc <= 0.01, `float ${floatAcc} int8 ${qAcc}`);
  assert.ok(model.modelFileBytes / modelBytes(r.proto) >= 3.5);
});

test('digits CNN with percentile, entropy, int8 (arm) activations, 7-bit weights, per-tensor weights stays within 1 point', async () => {
  const model = loadModel(path.join(FIXTURES, 'digits_cnn.onnx'));
  const floatAcc = await accuracy(model.proto);
  for (const overrides of [
    { calibrationMethod: 'percentile' as const },
    { calibrationMethod: 'entropy' as const },
    { activationType: 'int8' as const, preset: 'arm' as const },
    { reduceRange: true },
    { perChannel: false, movingAverage: true },
  ]) {
    const r = await quantizeStatic(model, staticOptions({ calibrationData: calib, calibrationBatch: 64, ...overrides }), allNodes(), {});
    const qAcc = await accuracy(r.proto);
    if ('reduceRange' in overrides) {
      // 7-bit weights: every stored int8 weight lies in [-64, 64].
      const weights = r.proto.graph!.initializer.filter((t) => t.dataType === 3 && t.dims.length > 1);
      assert.equal(weights.length, 5);
      for (const t of weights) {
        assert.ok(new Int8Array(t.rawData.buffer, t.rawData.byteOffset, t.rawData.length).every((v) => v >= -64 && v <= 64), t.name);
      }
    }
    assert.ok(floatAcc - qAcc <= 0.01, `${JSON.stringify(overrides)}: float ${floatAcc} int8 ${qAcc}`);
  }
});

test('digits MLP, static QDQ and QOperator: 3 Gemm quantized, within 1 point', async () => {
  const model = loadModel(path.join(FIXTURES, 'digits_mlp.onnx'));
  const floatAcc = await accuracy(model.proto);
  for (const format of ['qdq', 'qoperator'] as const) {
    const r = await quantizeStatic(model, staticOptions({ calibrationData: calib, format }), allNodes(), {});
    const qAcc = await accuracy(r.proto);
    assert.ok(floatAcc - qAcc <= 0.01, `${format}: float ${floatAcc} int8 ${qAcc}`);
    assert.equal((await optimizedOpCounts(r.proto)).get('QGemm'), 3);
    assert.ok(model.modelFileBytes / modelBytes(r.proto) >= 3.4);
  }
});

test('static quantization without calibration data is an InputError that says how to give some', async () => {
  const model = loadModel(path.join(FIXTURES, 'digits_cnn.onnx'));
  await assert.rejects(quantizeStatic(model, staticOptions(), allNodes(), {}), (e: unknown) => e instanceof InputError && /--calibration-data x\.npy/.test(e.message));
});

test('excluded nodes stay float and are reported', async () => {
  const model = loadModel(path.join(FIXTURES, 'digits_cnn.onnx'));
  const { makeSelection } = await import('../../../../src/core/quantize/selection');
  const r = await quantizeStatic(model, staticOptions({ calibrationData: calib }), makeSelection({ opTypes: undefined, nodes: undefined, excludeNodes: ['/fc/Gemm'] }), {});
  assert.ok(r.skippedNodes.some((s) => s.node === '/fc/Gemm' && /exclude/.test(s.reason)));
  assert.ok(r.proto.graph!.node.some((n) => n.opType === 'Gemm' && n.input.includes('fc.weight')));
  const floatAcc = await accuracy(model.proto);
  assert.ok(floatAcc - (await accuracy(r.proto)) <= 0.01);
});

test('symmetric activations keep the Relus (not exact to fold) and say what it costs', async () => {
  const model = loadModel(path.join(FIXTURES, 'digits_cnn.onnx'));
  const r = await quantizeStatic(model, staticOptions({ calibrationData: calib, symmetricActivations: true, activationType: 'int8' }), allNodes(), {});
  assert.equal(r.proto.graph!.node.filter((n) => n.opType === 'Relu').length, 4);
  assert.ok(r.warnings.some((w) => /4 Relu\/Clip/.test(w)), JSON.stringify(r.warnings));
  const floatAcc = await accuracy(model.proto);
  assert.ok(floatAcc - (await accuracy(r.proto)) <= 0.01);
});
