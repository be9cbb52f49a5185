import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { OnnxModel } from '../../../../src/core/onnx/model';
import { modelToBytes } from '../../../../src/core/onnx/save';
import type { ModelProto } from '../../../../src/core/onnx/schema';
import { quantizeStatic } from '../../../../src/core/quantize/static';
import { foldBatchNormalization } from '../../../../src/core/quantize/static/foldBatchNorm';
import { allNodes, optimizedOpCounts, runModel, staticOptions } from './helpers';
import { buildResidualCnn, randomInputs, writeNpy } from './residualCnn';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'static-res-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

function inMemory(proto: ModelProto): OnnxModel {
  return { path: path.join(tmp, 'model.onnx'), dir: tmp, proto, modelFileBytes: modelToBytes(proto).length } as unknown as OnnxModel;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function maxAbs(a: Float32Array): number {
  return a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
}

test('residual CNN, static QDQ: ORT runs every Conv as QLinearConv and every Add as QLinearAdd', async () => {
  const built = buildResidualCnn({ channels: [16, 32], blocks: 2 });
  const calib = writeNpy(path.join(tmp, 'calib.npy'), randomInputs(48, built.inputShape), [48, ...built.inputShape]);
  for (const format of ['qdq', 'qoperator'] as const) {
    const r = await quantizeStatic(inMemory(built.proto), staticOptions({ calibrationData: calib, format }), allNodes(), {});
    const ops = await optimizedOpCounts(r.proto);
    assert.equal(ops.get('QLinearConv'), built.convs, `${format}: ${JSON.stringify([...ops])}`);
    assert.equal(ops.get('QLinearAdd'), built.adds, `${format}: ${JSON.stringify([...ops])}`);
    for (const floatOp of ['Conv', 'Add', 'Relu', 'DequantizeLinear']) assert.equal(ops.get(floatOp) ?? 0, 0, `${format}: float ${floatOp} left`);
    const x = randomInputs(8, built.inputShape, 7);
    const f = await runModel(built.proto, x, [8, ...built.inputShape], 'input');
    const q = await runModel(r.proto, x, [8, ...built.inputShape], 'input');
    assert.ok(maxAbsDiff(f, q) < 0.05 * maxAbs(f), `${format}: diff ${maxAbsDiff(f, q)} vs scale ${maxAbs(f)}`);
  }
});

test('BatchNormalization folds into the Conv (same outputs) and the CNN then quantizes fully', async () => {
  const built = buildResidualCnn({ channels: [16], blocks: 2, batchNorm: true, seed: 77 });
  const original = Buffer.from(modelToBytes(built.proto));
  const folded = foldBatchNormalization(built.proto);
  assert.equal(folded.folded, built.batchNorms);
  assert.ok(!folded.proto.graph!.node.some((n) => n.opType === 'BatchNormalization'));
  assert.equal(Buffer.compare(original, Buffer.from(modelToBytes(built.proto))), 0, 'input untouched');
  const x = randomInputs(4, built.inputShape, 5);
  const f = await runModel(built.proto, x, [4, ...built.inputShape], 'input');
  const g = await runModel(folded.proto, x, [4, ...built.inputShape], 'input');
  assert.ok(maxAbsDiff(f, g) < 1e-4 * Math.max(1, maxAbs(f)), `fold diff ${maxAbsDiff(f, g)}`);

  const calib = writeNpy(path.join(tmp, 'calib_bn.npy'), randomInputs(32, built.inputShape), [32, ...built.inputShape]);
  const r = await quantizeStatic(inMemory(built.proto), staticOptions({ calibrationData: calib }), allNodes(), {});
  assert.ok(r.warnings.some((w) => /folded \d+ BatchNormalization/.test(w)));
  const ops = await optimizedOpCounts(r.proto);
  assert.equal(ops.get('QLinearConv'), built.convs);
  assert.equal(ops.get('QLinearAdd'), built.adds);
  const q = await runModel(r.proto, x, [4, ...built.inputShape], 'input');
  assert.ok(maxAbsDiff(f, q) < 0.05 * maxAbs(f), `quantized diff ${maxAbsDiff(f, q)} vs ${maxAbs(f)}`);
});

test('int8 activations on x86: the fan-out of residual blocks blocks fusion, and the result says so', { skip: process.arch !== 'x64' && 'x86-only behaviour of ORT' }, async () => {
  const built = buildResidualCnn({ channels: [8], blocks: 2, size: 8 });
  const calib = writeNpy(path.join(tmp, 'calib_s8.npy'), randomInputs(8, built.inputShape), [8, ...built.inputShape]);
  const u8 = await quantizeStatic(inMemory(built.proto), staticOptions({ calibrationData: calib }), allNodes(), {});
  assert.deepEqual(u8.warnings, []);
  const s8 = await quantizeStatic(inMemory(built.proto), staticOptions({ calibrationData: calib, activationType: 'int8', preset: 'arm' }), allNodes(), {});
  assert.ok(s8.warnings.some((w) => /did not fuse \d+ Conv/.test(w) && /single consumer/.test(w)), JSON.stringify(s8.warnings));
});
