/**
 * The analysis takes static mode's verdicts from the static planner (quantize/static/plan.ts
 * staticVerdicts), so what it says static does follows the planner's context rules: an Add/Mul
 * whose first input is a constant is quantized like any other, and an op without an integer
 * kernel stays float even when the Q/DQ of the ops beside it surround it. Checked against what
 * the engine wrote, which ONNX Runtime runs close to the float model.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyzeLayers } from '../../../src/core/analysis/layers';
import { encodeNpy } from '../../../src/core/data/npy';
import { makeGraph, makeModel, makeNode, makeValueInfo } from '../../../src/core/onnx/builder';
import { DataType } from '../../../src/core/onnx/dtype';
import { indexModel } from '../../../src/core/onnx/graph-index';
import { loadModel } from '../../../src/core/onnx/model';
import { floatTensor } from '../../../src/core/onnx/tensor';
import { quantizeFile } from '../../../src/core/quantize/index';
import { gaussian, makeTempDir, writeModelFile } from '../../fixtures/build';
import { quantizedInOutput } from './engineOutcome';
import { runModel, sqnrDb } from '../quantize/helpers';

const { dir, cleanup } = makeTempDir('oq-static-verdicts-');
after(cleanup);

/** y = s · HardSigmoid(s), s = 0.5 · x: HardSwish as ONNX expands it, with the constant first in the Mul. */
function gatedModel() {
  const half = makeNode('Constant', [], ['half'], { value: floatTensor('half_value', [1], [0.5]) }, { name: 'half' });
  return makeModel(
    makeGraph(
      [half, makeNode('Mul', ['half', 'x'], ['s'], {}, { name: 'scale' }), makeNode('HardSigmoid', ['s'], ['h'], {}, { name: 'gate' }), makeNode('Mul', ['s', 'h'], ['y'], {}, { name: 'apply' })],
      'gated',
      [makeValueInfo('x', DataType.FLOAT, ['n', 16])],
      [makeValueInfo('y', DataType.FLOAT, ['n', 16])],
    ),
  );
}

test('static: a Mul with a constant first input is quantized, a HardSigmoid between quantized tensors is not; the analysis says what the engine did', async () => {
  const file = writeModelFile(dir, 'gated.onnx', gatedModel());
  const layers = new Map(analyzeLayers(loadModel(file)).map((l) => [l.node, l]));
  const verdict = (key: string) => layers.get(key)?.modes.includes('static') ?? false;
  assert.deepEqual(['scale', 'gate', 'apply'].map(verdict), [true, false, true]);
  assert.ok(layers.get('gate')?.risk.unfusable, 'the HardSigmoid carries the "slower quantized" note');

  const samples = 32;
  const x = gaussian(samples * 16, 2, 11);
  const calib = path.join(dir, 'x.npy');
  fs.writeFileSync(calib, encodeNpy({ dtype: 'float32', shape: [samples, 16], data: new Uint8Array(x.buffer) }));
  const out = path.join(dir, 'gated.int8.onnx');
  await quantizeFile(file, out, { mode: 'static', calibrationData: calib, validate: false, speedCheck: false, fidelity: false });
  const written = indexModel(loadModel(out).proto);
  const original = indexModel(loadModel(file).proto);
  for (const key of ['scale', 'gate', 'apply']) {
    const node = original.byKey(key)?.node;
    assert.ok(node);
    assert.equal(quantizedInOutput(written, node, 'static'), verdict(key), key);
  }
  // The HardSigmoid does sit between a DequantizeLinear and a QuantizeLinear (its neighbours' tensors).
  const gate = written.nodes.find((n) => n.node.opType === 'HardSigmoid')?.node;
  assert.equal(written.producer(gate?.input[0] ?? '')?.node.opType, 'DequantizeLinear');
  assert.ok(written.consumers(gate?.output[0] ?? '').some((c) => c.node.opType === 'QuantizeLinear'));

  const feeds = { x: { type: 'float32' as const, data: x, dims: [samples, 16] } };
  const db = sqnrDb(await runModel(file, feeds), await runModel(out, feeds));
  assert.ok(db > 20, `SQNR ${db.toFixed(1)} dB against float`);
});

/** Conv → BatchNormalization → Relu → Flatten: static folds the BatchNormalization into the Conv first, then the Relu into its Q. */
function convBnModel(withoutDomain = false) {
  const c = 4;
  const inits = [
    floatTensor('W', [c, 1, 3, 3], gaussian(c * 9, 0.5, 21)),
    floatTensor('scale', [c], [1, 2, 0.5, 1.5]),
    floatTensor('shift', [c], [0, 0.1, -0.1, 0.2]),
    floatTensor('mean', [c], [0, 0.1, 0.2, 0.3]),
    floatTensor('var', [c], [1, 1, 2, 0.5]),
  ];
  const nodes = [
    makeNode('Conv', ['x', 'W'], ['c'], { pads: [1, 1, 1, 1] }, { name: 'conv' }),
    makeNode('BatchNormalization', ['c', 'scale', 'shift', 'mean', 'var'], ['n'], {}, { name: 'bn' }),
    makeNode('Relu', ['n'], ['r'], {}, { name: 'relu' }),
    makeNode('Flatten', ['r'], ['y'], {}, { name: 'flat' }),
  ];
  // As torch and paddle2onnx write nodes: no domain field in the file (it reads as its default, '').
  if (withoutDomain) for (const n of nodes) delete (n as { domain?: string }).domain;
  return makeModel(
    makeGraph(
      nodes,
      'conv_bn',
      [makeValueInfo('x', DataType.FLOAT, ['n', 1, 6, 6])],
      [makeValueInfo('y', DataType.FLOAT, ['n', c * 36])],
      inits,
    ),
  );
}

for (const withoutDomain of [false, true])
test(`static: a BatchNormalization after a Conv is folded, the Relu and Flatten after it follow the Conv; the analysis says what the engine did${withoutDomain ? ' (nodes without a domain field, as exporters write them)' : ''}`, async () => {
  const file = writeModelFile(dir, `conv_bn${withoutDomain ? '_nodomain' : ''}.onnx`, convBnModel(withoutDomain));
  const layers = new Map(analyzeLayers(loadModel(file)).map((l) => [l.node, l]));
  const keys = ['conv', 'bn', 'relu', 'flat'];
  assert.deepEqual(keys.map((k) => layers.get(k)?.modes.includes('static') ?? false), [true, true, true, true]);
  assert.equal(layers.get('bn')?.risk.unfusable, undefined, 'a folded BatchNormalization gets no "slower quantized" note');

  const samples = 16;
  const x = gaussian(samples * 36, 1, 22);
  const calib = path.join(dir, 'conv_bn_x.npy');
  fs.writeFileSync(calib, encodeNpy({ dtype: 'float32', shape: [samples, 1, 6, 6], data: new Uint8Array(x.buffer) }));
  const out = path.join(dir, `conv_bn${withoutDomain ? '_nodomain' : ''}.int8.onnx`);
  await quantizeFile(file, out, { mode: 'static', calibrationData: calib, validate: false, speedCheck: false, fidelity: false });
  const written = indexModel(loadModel(out).proto);
  const original = indexModel(loadModel(file).proto);
  for (const key of keys) {
    const node = original.byKey(key)?.node;
    assert.ok(node);
    assert.equal(quantizedInOutput(written, node, 'static'), true, key);
  }
  assert.ok(!written.nodes.some((n) => n.node.opType === 'BatchNormalization' || n.node.opType === 'Relu'), 'both folded away');
  const feeds = { x: { type: 'float32' as const, data: x, dims: [samples, 1, 6, 6] } };
  const db = sqnrDb(await runModel(file, feeds), await runModel(out, feeds));
  assert.ok(db > 20, `SQNR ${db.toFixed(1)} dB against float`);
});
