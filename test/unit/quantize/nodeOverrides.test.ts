/**
 * Per-node overrides (QuantizeOptions.nodeOverrides): perChannel per node in dynamic and static
 * modes, bits per node in weight-only mode, on the digits fixtures, run in ONNX Runtime.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadModel } from '../../../src/core/onnx/model';
import type { ModelProto, NodeProto } from '../../../src/core/onnx/schema';
import { attrInt } from '../../../src/core/onnx/builder';
import { resolveOptions } from '../../../src/core/quantize/options';
import { quantizeFile } from '../../../src/core/quantize/index';
import { InputError } from '../../../src/core/errors';
import { saveModel } from '../../../src/core/onnx/save';
import { accuracy, digitsLogits, digitsTest, fixture, runModel, sqnrDb, tempDir } from './helpers';
import { buildTransformer, tokenIds } from './models';

const dir = tempDir('overrides');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const nodeNamed = (proto: ModelProto, name: string): NodeProto => {
  const n = proto.graph!.node.find((x) => x.name === name);
  assert.ok(n, `no node ${name} in ${proto.graph!.node.map((x) => x.name).join(', ')}`);
  return n;
};
const dimsOf = (proto: ModelProto, init: string): number[] => {
  const t = proto.graph!.initializer.find((x) => x.name === init);
  assert.ok(t, `no initializer ${init}`);
  return t.dims.map(Number);
};

/** Dynamic output: the weight scale of a quantized Gemm is the second input of its `_quant_scales_mul`. */
const dynamicWeightScaleDims = (proto: ModelProto, gemm: string): number[] => dimsOf(proto, nodeNamed(proto, `${gemm}_quant_scales_mul`).input[1]!);

test('dynamic: per-channel by default, one Gemm overridden to per tensor gets a scalar scale; ORT runs it close to float', async () => {
  const out = path.join(dir, 'mlp_dyn_override.onnx');
  const r = await quantizeFile(fixture('digits_mlp.onnx'), out, { mode: 'dynamic', speedCheck: false, nodeOverrides: { '/fc2/Gemm': { perChannel: false } } });
  assert.equal(r.quantizedNodes, 3);
  assert.deepEqual(r.warnings, []);
  assert.deepEqual(r.effectiveOptions.nodeOverrides, { '/fc2/Gemm': { perChannel: false } });
  const proto = loadModel(out).proto;
  assert.deepEqual(dynamicWeightScaleDims(proto, '/fc2/Gemm'), []);
  assert.equal(dynamicWeightScaleDims(proto, '/fc1/Gemm').length, 1);
  assert.equal(dynamicWeightScaleDims(proto, '/fc3/Gemm')[0], 10);

  const floatLogits = await digitsLogits(fixture('digits_mlp.onnx'));
  const quantLogits = await digitsLogits(out);
  const { y } = digitsTest();
  assert.ok(accuracy(floatLogits, y) - accuracy(quantLogits, y) <= 1, 'accuracy within 1 point');
  assert.ok(sqnrDb(floatLogits, quantLogits) > 20, `SQNR ${sqnrDb(floatLogits, quantLogits).toFixed(1)} dB`);
});

test('dynamic: per tensor globally, one Gemm overridden to per channel; unknown override names are warned about', async () => {
  const out = path.join(dir, 'mlp_dyn_override_pc.onnx');
  const r = await quantizeFile(fixture('digits_mlp.onnx'), out, {
    mode: 'dynamic',
    speedCheck: false,
    perChannel: false,
    nodeOverrides: { '/fc1/Gemm': { perChannel: true }, '/nope': { perChannel: true } },
  });
  assert.ok(r.warnings.some((w) => w.includes("'/nope'")), r.warnings.join('\n'));
  const proto = loadModel(out).proto;
  assert.deepEqual(dynamicWeightScaleDims(proto, '/fc1/Gemm'), [dimsOf(loadModel(fixture('digits_mlp.onnx')).proto, 'fc1.weight')[0]!]);
  assert.deepEqual(dynamicWeightScaleDims(proto, '/fc2/Gemm'), []);
  const { y } = digitsTest();
  assert.ok(accuracy(await digitsLogits(out), y) >= 96.5);
});

test('dynamic Conv (ConvInteger) stays per tensor: a perChannel override on it is reported, the Gemm one applied', async () => {
  const out = path.join(dir, 'cnn_dyn_override.onnx');
  const r = await quantizeFile(fixture('digits_cnn.onnx'), out, {
    mode: 'dynamic',
    speedCheck: false,
    quantizeConv: true,
    perChannel: false,
    nodeOverrides: { '/stem/stem.0/Conv': { perChannel: true }, '/fc/Gemm': { perChannel: true } },
  });
  assert.deepEqual(r.warnings, ["/stem/stem.0/Conv: ConvInteger takes per-tensor weights; its perChannel override is ignored"]);
  const proto = loadModel(out).proto;
  assert.deepEqual(dynamicWeightScaleDims(proto, '/stem/stem.0/Conv'), []);
  assert.deepEqual(dynamicWeightScaleDims(proto, '/fc/Gemm'), [10]);
});

test('weight-only: one Gemm at 8 bits, the others at the default 4; ORT runs it close to float', async () => {
  const out = path.join(dir, 'mlp_wo_override.onnx');
  const r = await quantizeFile(fixture('digits_mlp.onnx'), out, { mode: 'weight-only', blockSize: 16, speedCheck: false, nodeOverrides: { '/fc2/Gemm': { bits: 8 } } });
  assert.equal(r.quantizedNodes, 3);
  const proto = loadModel(out).proto;
  const bits = (name: string) => attrInt(nodeNamed(proto, name), 'bits', 0);
  assert.equal(bits('/fc2/Gemm_Q8'), 8);
  assert.equal(bits('/fc1/Gemm_Q4'), 4);
  assert.equal(bits('/fc3/Gemm_Q4'), 4);
  // The 8-bit node's packed weight holds one byte per value: [N, kBlocks, blockSize].
  const fc2 = nodeNamed(proto, '/fc2/Gemm_Q8');
  assert.equal(dimsOf(proto, fc2.input[1]!)[2], 16);
  assert.equal(dimsOf(proto, nodeNamed(proto, '/fc1/Gemm_Q4').input[1]!)[2], 8);

  const floatLogits = await digitsLogits(fixture('digits_mlp.onnx'));
  const quantLogits = await digitsLogits(out);
  const { y } = digitsTest();
  assert.ok(accuracy(floatLogits, y) - accuracy(quantLogits, y) <= 2, 'accuracy within 2 points');

  assert.ok(sqnrDb(floatLogits, quantLogits) > 25, `SQNR ${sqnrDb(floatLogits, quantLogits).toFixed(1)} dB`);

  // Every node overridden to 8 bits is exactly the global --weight-bits 8 model.
  const all8 = path.join(dir, 'mlp_wo_all8.onnx');
  const viaOverrides = path.join(dir, 'mlp_wo_all8_overrides.onnx');
  await quantizeFile(fixture('digits_mlp.onnx'), all8, { mode: 'weight-only', blockSize: 16, weightBits: 8, speedCheck: false });
  const every = Object.fromEntries(['/fc1/Gemm', '/fc2/Gemm', '/fc3/Gemm'].map((n) => [n, { bits: 8 as const }]));
  await quantizeFile(fixture('digits_mlp.onnx'), viaOverrides, { mode: 'weight-only', blockSize: 16, speedCheck: false, nodeOverrides: every });
  assert.ok(fs.readFileSync(all8).equals(fs.readFileSync(viaOverrides)), 'byte-identical to the global 8-bit model');
});

/** Dims of the weight scale of a Conv in a static output: QDQ (scale of the DequantizeLinear feeding it) or QOperator (QLinearConv input 4). */
function staticWeightScaleDims(proto: ModelProto, conv: string): number[] {
  const producer = new Map(proto.graph!.node.flatMap((n) => n.output.map((o) => [o, n] as const)));
  const qlinear = proto.graph!.node.find((n) => n.opType === 'QLinearConv' && n.name.startsWith(conv));
  if (qlinear) return dimsOf(proto, qlinear.input[4]!);
  const dq = producer.get(nodeNamed(proto, conv).input[1]!)!;
  assert.equal(dq.opType, 'DequantizeLinear');
  return dimsOf(proto, dq.input[1]!);
}

test('weight-only transformer: the embedding Gather at 8 bits (GatherBlockQuantized bits=8), the MatMuls at 4; close to float', async () => {
  const src = path.join(dir, 'tf.onnx');
  saveModel(buildTransformer({ vocab: 120, dim: 64, layers: 1, seed: 5 }), src);
  const out = path.join(dir, 'tf_embed8.onnx');
  const r = await quantizeFile(src, out, { mode: 'weight-only', speedCheck: false, nodeOverrides: { embed: { bits: 8 } } });
  assert.equal(r.quantizedNodes, 1 + 6);
  const nodes = loadModel(out).proto.graph!.node;
  const gbq = nodes.filter((n) => n.opType === 'GatherBlockQuantized');
  assert.deepEqual(gbq.map((n) => attrInt(n, 'bits', 0)), [8]);
  const mm = nodes.filter((n) => n.opType === 'MatMulNBits');
  assert.equal(mm.length, 6);
  assert.ok(mm.every((n) => attrInt(n, 'bits', 0) === 4));
  const feeds = { ids: { type: 'int64' as const, data: tokenIds(2, 10, 120), dims: [2, 10] } };
  const sqnr = sqnrDb(await runModel(src, feeds), await runModel(out, feeds));
  assert.ok(sqnr > 15, `SQNR ${sqnr.toFixed(1)} dB`);
});

test('static QDQ and QOperator: one Conv overridden against the global perChannel; the others follow it; accuracy holds', async () => {
  const { y } = digitsTest();
  const floatAcc = accuracy(await digitsLogits(fixture('digits_cnn.onnx')), y);
  const cases = [
    { format: 'qdq' as const, perChannel: true, node: '/res1/res1.0/Conv' },
    { format: 'qoperator' as const, perChannel: true, node: '/res1/res1.0/Conv' },
    { format: 'qdq' as const, perChannel: false, node: '/stem/stem.0/Conv' },
  ];
  for (const c of cases) {
    const out = path.join(dir, `cnn_static_${c.format}_${c.perChannel}.onnx`);
    await quantizeFile(fixture('digits_cnn.onnx'), out, {
      mode: 'static',
      speedCheck: false,
      format: c.format,
      perChannel: c.perChannel,
      calibrationData: fixture('digits_calib_x.npy'),
      nodeOverrides: { [c.node]: { perChannel: !c.perChannel } },
    });
    const proto = loadModel(out).proto;
    const label = JSON.stringify(c);
    for (const conv of ['/stem/stem.0/Conv', '/res1/res1.0/Conv', '/res2/res2.0/Conv', '/down/down.0/Conv']) {
      const perChannel = conv === c.node ? !c.perChannel : c.perChannel;
      assert.equal(staticWeightScaleDims(proto, conv).length, perChannel ? 1 : 0, `${label}: ${conv}`);
    }
    assert.ok(floatAcc - accuracy(await digitsLogits(out), y) <= 1.5, label);
  }
});

test('resolveOptions validates overrides and warns when they do nothing in the mode', () => {
  assert.throws(() => resolveOptions({ mode: 'weight-only', nodeOverrides: { a: { bits: 3 as 4 } } }), InputError);
  assert.throws(() => resolveOptions({ mode: 'dynamic', nodeOverrides: { a: { perChannel: 'yes' as unknown as boolean } } }), InputError);
  const { options, warnings } = resolveOptions({ mode: 'dynamic', nodeOverrides: { a: { bits: 8 }, b: {} } });
  assert.deepEqual(options.nodeOverrides, { a: { bits: 8 } });
  assert.deepEqual(warnings, ["per-node bits apply to weight-only mode only ('a')"]);
  assert.deepEqual(resolveOptions({ mode: 'dynamic' }).options.nodeOverrides, undefined);
});
