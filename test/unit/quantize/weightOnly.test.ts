import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { quantizeFile } from '../../../src/core/quantize/index';
import { quantizeBlocks, dequantizeBlocks, quantizeWeightOnly } from '../../../src/core/quantize/weightOnly';
import { resolveOptions } from '../../../src/core/quantize/options';
import { makeSelection } from '../../../src/core/quantize/selection';
import { makeGraph, makeModel, makeNode, makeValueInfo, attrInt } from '../../../src/core/onnx/builder';
import { DataType } from '../../../src/core/onnx/dtype';
import { loadModel } from '../../../src/core/onnx/model';
import { saveModel } from '../../../src/core/onnx/save';
import { floatTensor, readFloat32, tensorByteSize } from '../../../src/core/onnx/tensor';
import { accuracy, digitsLogits, digitsTest, fixture, maxAbsDiff, opCounts, runModel, sqnrDb, tempDir } from './helpers';
import { buildTransformer, randomWeights, tokenIds } from './models';
import { seededRandom } from '../../../src/core/util/random';

const dir = tempDir('wo');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('4-bit blocks: hand-worked asymmetric and symmetric values (MLAS rounding, nibble order)', () => {
  // K = 16, N = 1, one block: values 0..15 × 0.1 → min 0, max 1.5 → scale 0.1, zp 0, q = i.
  const w = Float32Array.from({ length: 16 }, (_, i) => i * 0.1);
  const a = quantizeBlocks(w, 16, 1, 4, 16, false);
  assert.equal(a.scales[0], Math.fround(0.1));
  assert.deepEqual([...a.zeroPoints!], [0]);
  assert.deepEqual([...a.data], [0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe]);
  // Symmetric: the largest magnitude (-8 here, negative) maps to q = 0, scale = -m/8 = 1, zp 8.
  const s = quantizeBlocks(Float32Array.from([-8, 7, 2.5, -2.5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 16, 1, 4, 16, true);
  assert.equal(s.scales[0], 1);
  assert.equal(s.zeroPoints, undefined);
  // MLAS rounds after adding the zero point, half away from zero: 2.5 → roundf(10.5) = 11
  // (half to even would give 10); -2.5 → roundf(5.5) = 6.
  assert.deepEqual([...s.data.slice(0, 2)], [0x0 | (15 << 4), 11 | (6 << 4)]);
  // Positive extreme: m = 4 → scale -0.5, 4 maps to q 0, -4 clips at 15 (= 3.5).
  const p = quantizeBlocks(Float32Array.from([4, -4, ...new Array(14).fill(0)]), 16, 1, 4, 16, true);
  assert.equal(p.scales[0], -0.5);
  assert.deepEqual(Array.from(dequantizeBlocks(p, 16, 1, 4, 16).slice(0, 2)), [4, -3.5]);
  // K not a multiple of the block: zero padding, two blocks, zero points packed low nibble first.
  const t = quantizeBlocks(Float32Array.from({ length: 20 }, (_, i) => i - 10), 20, 1, 4, 16, false);
  assert.equal(t.kBlocks, 2);
  assert.equal(t.zeroPoints!.length, 1);
  // Block 0 holds -10..5: scale 1, zp 10 (low nibble); block 1 holds 6..9 and padding: zp 0.
  assert.equal(t.zeroPoints![0], 10);
  assert.deepEqual([...t.scales], [1, Math.fround(9 / 15)]);
});

function singleMatMul(K: number, N: number, seed: number): { model: ReturnType<typeof makeModel>; w: Float32Array } {
  const w = randomWeights(K * N, 0.3, seededRandom(seed));
  const graph = makeGraph(
    [makeNode('MatMul', ['a', 'w'], ['y'], {}, { name: 'mm' })],
    'mm',
    [makeValueInfo('a', DataType.FLOAT, ['m', K])],
    [makeValueInfo('y', DataType.FLOAT, ['m', N])],
    [floatTensor('w', [K, N], w)],
  );
  return { model: makeModel(graph, { '': 17 }), w };
}

test('MatMulNBits in ORT computes exactly A × dequantized(B), for 4/8 bits, symmetric and asymmetric, K not a block multiple', async () => {
  const K = 72;
  const N = 24;
  const M = 3;
  const a = randomWeights(M * K, 1, seededRandom(9));
  for (const bits of [4, 8] as const) {
    for (const symmetric of [false, true]) {
      const { model } = singleMatMul(K, N, bits * 10 + (symmetric ? 1 : 0));
      const src = path.join(dir, `mm_${bits}_${symmetric}.onnx`);
      saveModel(model, src);
      const loaded = loadModel(src);
      const { options } = resolveOptions({ mode: 'weight-only', weightBits: bits, blockSize: 16 });
      const r = await quantizeWeightOnly(loaded, options, makeSelection(options), {}, undefined, { symmetric });
      assert.equal(r.quantizedNodes, 1);
      const out = path.join(dir, `mm_${bits}_${symmetric}_q.onnx`);
      saveModel(r.proto, out);
      const node = r.proto.graph!.node[0]!;
      assert.equal(node.opType, 'MatMulNBits');
      assert.equal(node.domain, 'com.microsoft');
      assert.equal(attrInt(node, 'K', 0), K);
      assert.equal(attrInt(node, 'N', 0), N);
      assert.equal(node.input.length, symmetric ? 3 : 4);
      // Reference: dequantize what we stored and multiply in float64.
      const inits = new Map(r.proto.graph!.initializer.map((t) => [t.name, t]));
      const q = {
        data: inits.get(node.input[1]!)!.rawData,
        scales: readFloat32(inits.get(node.input[2]!)!),
        zeroPoints: symmetric ? undefined : inits.get(node.input[3]!)!.rawData,
        kBlocks: Math.ceil(K / 16),
      };
      const wq = dequantizeBlocks(q, K, N, bits, 16);
      const ref = new Float32Array(M * N);
      for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a[m * K + k]! * wq[k * N + n]!;
        ref[m * N + n] = s;
      }
      const got = await runModel(out, { a: { type: 'float32', data: a, dims: [M, K] } });
      assert.ok(maxAbsDiff(ref, got) < 1e-4, `${bits}-bit sym=${symmetric}: ${maxAbsDiff(ref, got)}`);
      const floatOut = await runModel(src, { a: { type: 'float32', data: a, dims: [M, K] } });
      const sqnr = sqnrDb(floatOut, got);
      assert.ok(sqnr > (bits === 8 ? 35 : 14), `${bits}-bit sym=${symmetric} SQNR ${sqnr.toFixed(1)} dB`);
    }
  }
});

test('weight-only MLP (Gemm → MatMulNBits + bias Add): 4-bit and 8-bit keep accuracy', async () => {
  const { y } = digitsTest();
  const floatAcc = accuracy(await digitsLogits(fixture('digits_mlp.onnx')), y);
  for (const weightBits of [4, 8] as const) {
    const out = path.join(dir, `mlp_w${weightBits}.onnx`);
    const r = await quantizeFile(fixture('digits_mlp.onnx'), out, { mode: 'weight-only', weightBits, speedCheck: false });
    assert.equal(r.quantizedNodes, 3);
    assert.equal(opCounts(out).get('MatMulNBits'), 3);
    const acc = accuracy(await digitsLogits(out), y);
    assert.ok(floatAcc - acc <= (weightBits === 8 ? 0.5 : 2), `${weightBits}-bit: ${acc}% vs float ${floatAcc}%`);
  }
});

test('weight-only 4-bit transformer: MatMul weight bytes drop ≥ 6×, output close to float', async () => {
  const spec = { vocab: 300, dim: 128, layers: 2, seed: 21 };
  const src = path.join(dir, 'tf.onnx');
  saveModel(buildTransformer(spec), src);
  const out = path.join(dir, 'tf_w4.onnx');
  const r = await quantizeFile(src, out, { mode: 'weight-only', speedCheck: false });
  assert.equal(r.quantizedNodes, 1 + 2 * 6); // embedding + 6 weight MatMuls per layer
  assert.equal(opCounts(out).get('GatherBlockQuantized'), 1);
  assert.ok(r.sizeRatio > 5.5, `whole model ${r.sizeRatio.toFixed(2)}× smaller`);
  const before = loadModel(src).proto.graph!;
  const floatBytes = before.initializer.filter((t) => /_w(q|k|v|o|1|2)$/.test(t.name)).reduce((s, t) => s + tensorByteSize(t), 0);
  const after = loadModel(out).proto.graph!;
  const inits = new Map(after.initializer.map((t) => [t.name, t]));
  let qBytes = 0;
  for (const n of after.node.filter((n) => n.opType === 'MatMulNBits')) for (const i of n.input.slice(1)) qBytes += tensorByteSize(inits.get(i)!);
  assert.ok(floatBytes / qBytes >= 6, `MatMul weights ${floatBytes} → ${qBytes} bytes (${(floatBytes / qBytes).toFixed(2)}×)`);
  const ids = tokenIds(2, 12, spec.vocab);
  const feeds = { ids: { type: 'int64' as const, data: ids, dims: [2, 12] } };
  const sqnr = sqnrDb(await runModel(src, feeds), await runModel(out, feeds));
  assert.ok(sqnr > 15, `SQNR ${sqnr.toFixed(1)} dB`);
});

test('embedding Gather → GatherBlockQuantized: ORT returns exactly the dequantized rows (4 and 8 bits)', async () => {
  const V = 50;
  const D = 64;
  const table = randomWeights(V * D, 0.5, seededRandom(12));
  const graph = makeGraph(
    [makeNode('Gather', ['table', 'ids'], ['y'], { axis: 0 }, { name: 'embed' })],
    'emb',
    [makeValueInfo('ids', DataType.INT64, ['n'])],
    [makeValueInfo('y', DataType.FLOAT, ['n', D])],
    [floatTensor('table', [V, D], table)],
  );
  const src = path.join(dir, 'emb.onnx');
  saveModel(makeModel(graph, { '': 17 }), src);
  const ids = BigInt64Array.from([3n, 0n, 49n, 3n, 17n]);
  for (const weightBits of [4, 8] as const) {
    const out = path.join(dir, `emb_${weightBits}.onnx`);
    const r = await quantizeFile(src, out, { mode: 'weight-only', weightBits, blockSize: 32, speedCheck: false });
    assert.equal(r.quantizedNodes, 1);
    const got = await runModel(out, { ids: { type: 'int64', data: ids, dims: [5] } });
    // Reference: the same block quantization done here (the default MSE-optimal ranges), rows dequantized.
    const t = new Float32Array(V * D);
    for (let v = 0; v < V; v++) for (let d = 0; d < D; d++) t[d * V + v] = table[v * D + d]!;
    const deq = dequantizeBlocks(quantizeBlocks(t, D, V, weightBits, 32, false, 'mse'), D, V, weightBits, 32);
    const ref = new Float32Array(5 * D);
    ids.forEach((id, j) => {
      for (let d = 0; d < D; d++) ref[j * D + d] = deq[d * V + Number(id)]!;
    });
    assert.ok(maxAbsDiff(ref, got) < 1e-6, `${weightBits}-bit: ${maxAbsDiff(ref, got)}`);
    const exact = Float32Array.from({ length: 5 * D }, (_, k) => table[Number(ids[Math.floor(k / D)]!) * D + (k % D)]!);
    assert.ok(sqnrDb(exact, got) > (weightBits === 8 ? 40 : 18), `${weightBits}-bit SQNR ${sqnrDb(exact, got).toFixed(1)}`);
  }
});
