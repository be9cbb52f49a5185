import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { perLayerErrors } from '../../../src/core/evaluate/perLayer';
import { firstSamples, loadInputData, modelInputs } from '../../../src/core/evaluate/data';
import { loadModel } from '../../../src/core/onnx/model';
import { saveModel } from '../../../src/core/onnx/save';
import { makeNode } from '../../../src/core/onnx/builder';
import { floatTensor, uint8Tensor } from '../../../src/core/onnx/tensor';
import { fixture, tempDir, TEST_X, withWeights } from './helpers';
import { summarizeModel } from '../../../src/core/analysis/summary';
import { encodeNpy } from '../../../src/core/data/npy';
import { indexModel } from '../../../src/core/onnx/graph-index';
import { quantizeFile } from '../../../src/core/quantize/index';
import { gaussian, unnamedNodesModel, writeModelFile } from '../../fixtures/build';

const MLP = fixture('digits_mlp.onnx');
const CNN = fixture('digits_cnn.onnx');
const dir = tempDir('perlayer');

async function layersOf(reference: string, candidate: string) {
  const ref = loadModel(reference);
  return perLayerErrors(ref, loadModel(candidate), firstSamples(loadInputData(TEST_X, modelInputs(ref.proto)), 128), { batch: 64 });
}

test('MLP: the Gemm whose weights were scaled ×10 comes out worst; layers before it are identical', async () => {
  const damaged = withWeights(MLP, path.join(dir, 'mlp-fc2x10.onnx'), 'fc2.weight', (v) => v * 10);
  const layers = await layersOf(MLP, damaged);
  assert.equal(layers[0]!.node, '/fc2/Gemm');
  assert.equal(layers[0]!.tensor, '/fc2/Gemm_output_0');
  assert.ok(layers[0]!.sqnrDb! < -15, `SQNR ${layers[0]!.sqnrDb}`);
  for (const t of ['/Flatten_output_0', '/fc1/Gemm_output_0', '/relu1/Relu_output_0']) {
    const l = layers.find((x) => x.tensor === t)!;
    assert.equal(l.identical, true, t);
    assert.equal(l.sqnrDb, null);
  }
  // Every float intermediate of the graph is there, the output included.
  assert.deepEqual(layers.map((l) => l.tensor).sort(), ['/Flatten_output_0', '/fc1/Gemm_output_0', '/fc2/Gemm_output_0', '/relu1/Relu_output_0', '/relu2/Relu_output_0', 'logits']);
});

test('CNN: a damaged Conv in the residual block is ranked first', async () => {
  const damaged = withWeights(CNN, path.join(dir, 'cnn-res1x10.onnx'), 'onnx::Conv_47', (v) => v * 10);
  const layers = await layersOf(CNN, damaged);
  assert.equal(layers[0]!.node, '/res1/res1.0/Conv');
  assert.equal(layers.find((l) => l.node === '/stem/stem.0/Conv')!.identical, true);
});

test('QDQ candidate: a quantized tensor is measured at its DequantizeLinear output', async () => {
  // Insert Q/DQ (uint8, scale from the observed range) on relu1's output, as static QDQ does.
  const m = loadModel(MLP);
  const g = m.proto.graph!;
  const relu = '/relu1/Relu_output_0';
  const idx = g.node.findIndex((n) => n.output[0] === relu);
  g.initializer.push(floatTensor('relu1_scale', [], [20 / 255]), uint8Tensor('relu1_zp', [], [0]));
  g.node.splice(
    idx + 1,
    0,
    makeNode('QuantizeLinear', [relu, 'relu1_scale', 'relu1_zp'], ['relu1_q'], {}, { name: 'relu1_Q' }),
    makeNode('DequantizeLinear', ['relu1_q', 'relu1_scale', 'relu1_zp'], ['relu1_dq'], {}, { name: 'relu1_DQ' }),
  );
  for (const n of g.node) if (n.opType === 'Gemm') n.input = n.input.map((i) => (i === relu ? 'relu1_dq' : i));
  const qdq = path.join(dir, 'mlp-qdq.onnx');
  saveModel(m.proto, qdq, { force: true });

  const layers = await layersOf(MLP, qdq);
  const r = layers.find((l) => l.tensor === relu)!;
  assert.equal(r.candidateTensor, 'relu1_dq');
  assert.equal(r.identical, false);
  assert.ok(r.sqnrDb! > 15 && r.sqnrDb! < 60, `SQNR ${r.sqnrDb}`);
  assert.equal(layers[0]!.tensor, relu, 'the only quantized tensor adds the error');
  assert.equal(layers.find((l) => l.tensor === '/fc1/Gemm_output_0')!.identical, true);
  assert.ok(!layers.some((l) => l.tensor === 'relu1_q'), 'integer tensors are not compared');
});

test('a model against itself: every layer identical', async () => {
  const layers = await layersOf(CNN, CNN);
  assert.ok(layers.length >= 10);
  assert.ok(layers.every((l) => l.identical && l.sqnrDb === null && l.cosine === 1 && l.localSqnrDb === null));
});

test('models with external data: per-layer copies find their data, and leave nothing behind', async () => {
  const sub = path.join(dir, 'external');
  fs.mkdirSync(sub, { recursive: true });
  const ext = path.join(sub, 'mlp.onnx');
  saveModel(loadModel(MLP).proto, ext, { force: true, externalData: 'always' });
  const damaged = withWeights(MLP, path.join(dir, 'mlp-fc1x10.onnx'), 'fc1.weight', (v) => v * 10);
  const layers = await layersOf(ext, damaged);
  assert.equal(layers[0]!.node, '/fc1/Gemm');
  assert.deepEqual(fs.readdirSync(sub).sort(), ['mlp.onnx', 'mlp.onnx.data']);
});

test('unnamed nodes: every per-layer row names its node by the key the analysis shows (the one --exclude-nodes takes)', async () => {
  const file = writeModelFile(dir, 'unnamed.onnx', unnamedNodesModel());
  const ref = loadModel(file);
  const index = indexModel(ref.proto);
  const x = gaussian(8 * 64, 1, 3);
  const data = path.join(dir, 'unnamed-x.npy');
  fs.writeFileSync(data, encodeNpy({ dtype: 'float32', shape: [8, 1, 8, 8], data: new Uint8Array(x.buffer) }));
  const out = path.join(dir, 'unnamed.int8.onnx');
  await quantizeFile(file, out, { mode: 'dynamic', force: true, validate: false, fidelity: false, speedCheck: false });
  const layers = await perLayerErrors(ref, loadModel(out), loadInputData(data, modelInputs(ref.proto)));
  assert.ok(layers.length > 0);
  const shown = new Set(summarizeModel(ref).layers.map((l) => l.node));
  for (const l of layers) {
    assert.ok(index.byKey(l.node), `row '${l.node}' is a node key`);
    assert.equal(index.byKey(l.node)?.node.output.includes(l.tensor), true, `row '${l.node}' produces '${l.tensor}'`);
  }
  // The quantized MatMuls are rows under the same keys the analysis lists.
  const matmuls = layers.filter((l) => l.opType === 'MatMul');
  assert.ok(matmuls.length >= 1);
  for (const l of matmuls) assert.ok(shown.has(l.node), `'${l.node}' is an analysis row`);
});

test("a sample whose measured tensors would pass the ranking's limit: a WorkError with the figure, before any of them is held", async () => {
  const out = path.join(dir, 'cnn.limit.int8.onnx');
  await quantizeFile(CNN, out, { mode: 'static', calibrationData: TEST_X, validate: false, fidelity: false, speedCheck: false, force: true });
  const data = firstSamples(loadInputData(TEST_X, modelInputs(loadModel(CNN).proto)), 4);
  const [ref, cand] = [loadModel(CNN), loadModel(out)];
  // The digits CNN's intermediates take some hundred KiB per sample, three copies: far over 64 KiB.
  await assert.rejects(perLayerErrors(ref, cand, data, { sampleLimit: 64 * 1024 }), (e: unknown) => e instanceof Error && e.name === 'WorkError' && /per-layer ranking needs \d+(\.\d+)? KiB for one sample/.test(e.message) && /over its 64\.0 KiB limit/.test(e.message));
  assert.ok((await perLayerErrors(ref, cand, data)).length > 0, 'under the default limit it ranks');
});
