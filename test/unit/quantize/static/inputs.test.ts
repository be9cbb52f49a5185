import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeGraph, makeModel, makeNode, makeValueInfo } from '../../../../src/core/onnx/builder';
import { DataType } from '../../../../src/core/onnx/dtype';
import { loadModel, type OnnxModel } from '../../../../src/core/onnx/model';
import { modelToBytes } from '../../../../src/core/onnx/save';
import type { ModelProto } from '../../../../src/core/onnx/schema';
import { floatTensor } from '../../../../src/core/onnx/tensor';
import { createSession, ort } from '../../../../src/core/runtime/ort';
import { makeSelection } from '../../../../src/core/quantize/selection';
import { quantizeStatic } from '../../../../src/core/quantize/static';
import { allNodes, argmaxAccuracy, digitsTest, FIXTURES, optimizedOpCounts, runModel, staticOptions } from './helpers';
import { buildResidualCnn, randomInputs, writeNpy } from './residualCnn';
import { seededRandom, standardNormal } from '../../../../src/core/util/random';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'static-inputs-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

const inMemory = (proto: ModelProto, name: string): OnnxModel => ({ path: path.join(tmp, name), dir: tmp, proto, modelFileBytes: 0 }) as unknown as OnnxModel;

/** Two image inputs, a Conv branch each, summed: calibration from a folder of INPUTNAME.npy. */
function twoInputModel(batch: number | string): ModelProto {
  const rand = seededRandom(11);
  const w = (name: string) => floatTensor(name, [4, 3, 3, 3], Float32Array.from({ length: 108 }, () => standardNormal(rand) * 0.3));
  const graph = makeGraph(
    [
      makeNode('Conv', ['left', 'wl'], ['cl'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { name: 'conv_left' }),
      makeNode('Conv', ['right:0', 'wr'], ['cr'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { name: 'conv_right' }),
      makeNode('Add', ['cl', 'cr'], ['sum'], {}, { name: 'add' }),
      makeNode('Relu', ['sum'], ['y'], {}, { name: 'relu' }),
    ],
    'two',
    [makeValueInfo('left', DataType.FLOAT, [batch, 3, 8, 8]), makeValueInfo('right:0', DataType.FLOAT, [batch, 3, 8, 8])],
    [makeValueInfo('y', DataType.FLOAT, [batch, 4, 8, 8])],
    [w('wl'), w('wr')],
  );
  return makeModel(graph, { '': 13 });
}

test('two-input model: calibration from a folder of INPUTNAME.npy (unsafe characters as _), fully fused', async () => {
  const dir = path.join(tmp, 'calib2');
  writeNpy(path.join(dir, 'left.npy'), randomInputs(20, [3, 8, 8], 1), [20, 3, 8, 8]);
  writeNpy(path.join(dir, 'right_0.npy'), randomInputs(20, [3, 8, 8], 2), [20, 3, 8, 8]);
  const proto = twoInputModel('n');
  const r = await quantizeStatic(inMemory(proto, 'two.onnx'), staticOptions({ calibrationData: dir }), allNodes(), {});
  const ops = await optimizedOpCounts(r.proto);
  assert.equal(ops.get('QLinearConv'), 2);
  assert.equal(ops.get('QLinearAdd'), 1);
  const feeds = { left: randomInputs(2, [3, 8, 8], 5), 'right:0': randomInputs(2, [3, 8, 8], 6) };
  const outs = await Promise.all(
    [proto, r.proto].map(async (p) => {
      const s = await createSession(modelToBytes(p), { threads: 1 });
      const O = ort();
      const o = await s.run({ left: new O.Tensor('float32', feeds.left, [2, 3, 8, 8]), 'right:0': new O.Tensor('float32', feeds['right:0'], [2, 3, 8, 8]) });
      await s.release();
      return o.y!.data as Float32Array;
    }),
  );
  // Relative RMS error (a max would mostly measure clipping of test values beyond the 20 calibration samples).
  const energy = outs[0]!.reduce((s, v) => s + v * v, 0);
  const noise = outs[0]!.reduce((s, v, i) => s + (v - outs[1]![i]!) ** 2, 0);
  assert.ok(Math.sqrt(noise / energy) < 0.03, `relative RMS error ${Math.sqrt(noise / energy)}`);
});

test('a model with a fixed batch of 1 is calibrated one sample per run', async () => {
  const dir = path.join(tmp, 'calib1');
  writeNpy(path.join(dir, 'left.npy'), randomInputs(5, [3, 8, 8], 1), [5, 3, 8, 8]);
  writeNpy(path.join(dir, 'right_0.npy'), randomInputs(5, [3, 8, 8], 2), [5, 3, 8, 8]);
  const progress: string[] = [];
  const r = await quantizeStatic(inMemory(twoInputModel(1), 'one.onnx'), staticOptions({ calibrationData: dir }), allNodes(), {
    onProgress: (p) => p.stage === 'calibrating' && progress.push(p.message!),
  });
  assert.equal(progress.length, 5);
  assert.equal(progress.at(-1), 'calibrating: 5/5 samples');
  assert.equal(r.quantizedNodes, 3);
});

test('TensorRT-style weights (float weight behind Q → DQ) run and keep accuracy', async () => {
  const model = loadModel(path.join(FIXTURES, 'digits_cnn.onnx'));
  const r = await quantizeStatic(model, staticOptions({ calibrationData: path.join(FIXTURES, 'digits_calib_x.npy'), addQdqPairToWeight: true }), allNodes(), {});
  const weightQ = r.proto.graph!.node.filter((n) => n.opType === 'QuantizeLinear' && r.proto.graph!.initializer.some((t) => t.name === n.input[0] && t.dataType === DataType.FLOAT));
  assert.equal(weightQ.length, 5); // 4 Conv weights + the Gemm weight
  const t = digitsTest();
  const f = argmaxAccuracy(await runModel(model.proto, t.x, [t.n, 1, 8, 8]), t.y, 10);
  const q = argmaxAccuracy(await runModel(r.proto, t.x, [t.n, 1, 8, 8]), t.y, 10);
  assert.ok(f - q <= 0.01, `float ${f} int8 ${q}`);
});

test('excluding a residual Add warns that the chain is only partly quantized', async () => {
  const built = buildResidualCnn({ channels: [8], blocks: 1, size: 8 });
  const calib = writeNpy(path.join(tmp, 'res.npy'), randomInputs(8, built.inputShape), [8, ...built.inputShape]);
  const add = built.proto.graph!.node.find((n) => n.opType === 'Add')!.name;
  const r = await quantizeStatic(inMemory(built.proto, 'res.onnx'), staticOptions({ calibrationData: calib }), makeSelection({ opTypes: undefined, nodes: undefined, excludeNodes: [add] }), {});
  assert.ok(r.warnings.some((w) => w.includes(`${add} (Add)`) && /slower than float/.test(w)), JSON.stringify(r.warnings));
});

test('a model with external weights is calibrated (weights inlined in the in-memory copy) and quantized', async () => {
  const { saveModel } = await import('../../../../src/core/onnx/save');
  const src = loadModel(path.join(FIXTURES, 'digits_cnn.onnx'));
  const file = path.join(tmp, 'external', 'cnn.onnx');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  saveModel(src.proto, file, { externalData: 'always', source: src });
  const model = loadModel(file);
  assert.ok(model.proto.graph!.initializer.some((t) => t.externalData.length > 0));
  const r = await quantizeStatic(model, staticOptions({ calibrationData: path.join(FIXTURES, 'digits_calib_x.npy') }), allNodes(), {});
  assert.ok(!r.proto.graph!.initializer.some((t) => t.externalData.length > 0), 'every external float weight was quantized');
  const t = digitsTest();
  const q = argmaxAccuracy(await runModel(r.proto, t.x, [t.n, 1, 8, 8]), t.y, 10);
  assert.ok(q >= 0.99, `accuracy ${q}`);
});

test('--op-types Conv: Convs quantized with their Relu folded, Adds left float (with the partial-chain warning)', async () => {
  const built = buildResidualCnn({ channels: [8], blocks: 2, size: 8 });
  const calib = writeNpy(path.join(tmp, 'res2.npy'), randomInputs(8, built.inputShape), [8, ...built.inputShape]);
  const r = await quantizeStatic(inMemory(built.proto, 'res2.onnx'), staticOptions({ calibrationData: calib, opTypes: ['Conv'] }), makeSelection({ opTypes: ['Conv'], nodes: undefined, excludeNodes: [] }), {});
  assert.equal(r.quantizedNodes, built.convs);
  const ops = r.proto.graph!.node.map((n) => n.opType);
  assert.equal(ops.filter((o) => o === 'Add').length, built.adds);
  // Relus after Convs are folded; the one after the Add stays.
  assert.equal(ops.filter((o) => o === 'Relu').length, built.adds);
  // The first block's Add sits between quantized Convs: that is the slow, partly fused case.
  assert.ok(r.warnings.some((w) => /\(Add\)/.test(w)), JSON.stringify(r.warnings));
});
