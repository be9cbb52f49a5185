import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { quantizeFile } from '../../../src/core/quantize/index';
import { InputError } from '../../../src/core/errors';
import { DataType } from '../../../src/core/onnx/dtype';
import { loadModel } from '../../../src/core/onnx/model';
import { saveModel } from '../../../src/core/onnx/save';
import { accuracy, digitsLogits, digitsTest, fixture, maxAbsDiff, opCounts, runModel, sqnrDb, tempDir } from './helpers';
import { buildQatMlp, buildTransformer, tokenIds } from './models';

const dir = tempDir('fp16');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('fp16: weights stored as float16 with a Cast back, I/O stays float32, ~2× smaller, outputs within fp16 rounding', async () => {
  const { y } = digitsTest();
  for (const name of ['digits_mlp', 'digits_cnn', 'digits_lstm']) {
    const out = path.join(dir, `${name}_fp16.onnx`);
    const r = await quantizeFile(fixture(`${name}.onnx`), out, { mode: 'fp16', speedCheck: false });
    assert.ok(r.sizeRatio > 1.9, `${name}: ratio ${r.sizeRatio}`);
    assert.ok(r.quantizedNodes > 0);
    const m = loadModel(out);
    const g = m.proto.graph!;
    assert.equal(g.input[0]!.type?.value.case === 'tensorType' && g.input[0]!.type.value.value.elemType, DataType.FLOAT);
    assert.ok(g.initializer.filter((t) => t.dims.length > 1).every((t) => t.dataType === DataType.FLOAT16), `${name}: all weights fp16`);
    const ref = await digitsLogits(fixture(`${name}.onnx`));
    const got = await digitsLogits(out);
    assert.ok(sqnrDb(ref, got) > 40, `${name}: SQNR ${sqnrDb(ref, got)}`);
    assert.equal(accuracy(got, y), accuracy(ref, y));
  }
});

test('fp16 transformer: embedding and projections halved, output close', async () => {
  const src = path.join(dir, 'tf.onnx');
  saveModel(buildTransformer({ vocab: 200, dim: 32, layers: 1, seed: 2 }), src);
  const out = path.join(dir, 'tf_fp16.onnx');
  const r = await quantizeFile(src, out, { mode: 'fp16', speedCheck: false });
  assert.ok(r.sizeRatio > 1.9);
  const feeds = { ids: { type: 'int64' as const, data: tokenIds(1, 10, 200), dims: [1, 10] } };
  assert.ok(sqnrDb(await runModel(src, feeds), await runModel(out, feeds)) > 40);
});

test('QAT finishing: Q→DQ on float weights becomes integer weights → DQ, outputs bit-identical, weights ~4× smaller', async () => {
  const src = path.join(dir, 'qat.onnx');
  saveModel(buildQatMlp(128), src);
  const out = path.join(dir, 'qat_done.onnx');
  const r = await quantizeFile(src, out, { mode: 'static', speedCheck: false });
  assert.equal(r.quantizedNodes, 2);
  assert.ok(r.warnings.some((w) => /quantization-aware/.test(w)));
  assert.ok(r.sizeRatio > 3, `ratio ${r.sizeRatio}`);
  const before = opCounts(src);
  const afterOps = opCounts(out);
  assert.equal(afterOps.get('QuantizeLinear'), before.get('QuantizeLinear')! - 2); // activation Q stays
  assert.equal(afterOps.get('DequantizeLinear'), before.get('DequantizeLinear'));
  const g = loadModel(out).proto.graph!;
  assert.ok(!g.initializer.some((t) => t.name === 'fc1_w' || t.name === 'fc2_w'), 'float weights removed');
  assert.equal(g.initializer.filter((t) => t.dataType === DataType.INT8 && t.dims.length === 2).length, 2);
  const { x, n } = digitsTest();
  const feeds = { image: { type: 'float32' as const, data: x, dims: [n, 1, 8, 8] } };
  assert.equal(maxAbsDiff(await runModel(src, feeds), await runModel(out, feeds)), 0);
});

test('already quantized (PyTorch static export, int8 weights): refused with a clear InputError, nothing written', async () => {
  const out = path.join(dir, 'again.onnx');
  for (const mode of ['dynamic', 'weight-only', 'fp16'] as const) {
    await assert.rejects(quantizeFile(fixture('digits_cnn_static_qnnpack_torch.onnx'), out, { mode }), (e: unknown) => {
      assert.ok(e instanceof InputError);
      assert.match((e as Error).message, /already quantized/);
      return true;
    });
    assert.equal(fs.existsSync(out), false);
  }
});

test('fp16 twice: the second run is refused (already float16), nothing written', async () => {
  const once = path.join(dir, 'mlp_fp16_once.onnx');
  await quantizeFile(fixture('digits_mlp.onnx'), once, { mode: 'fp16', speedCheck: false });
  const twice = path.join(dir, 'mlp_fp16_twice.onnx');
  await assert.rejects(quantizeFile(once, twice, { mode: 'fp16' }), (e: unknown) => e instanceof InputError && /already float16/.test((e as Error).message));
  assert.equal(fs.existsSync(twice), false);
});
