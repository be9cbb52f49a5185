/**
 * The built fixtures are real models: onnxruntime-node loads and runs every one marked ortLoads,
 * and the float ones compute what a plain TypeScript reference computes from the same weights.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createSession, ort } from '../../../src/core/runtime/ort';
import { loadModel } from '../../../src/core/onnx/model';
import { saveModel } from '../../../src/core/onnx/save';
import { readFloat32 } from '../../../src/core/onnx/tensor';
import type { ModelProto } from '../../../src/core/onnx/schema';
import { BUILT_MODELS, makeTempDir, mlpModel, writeExternalDataModel, writeModelFile } from '../../fixtures/build';

const { dir, cleanup } = makeTempDir('onnxq-fixtures-ort-');
process.on('exit', cleanup);

/** y = relu(x W0 + b0) W1 + b1, computed from the model's own initializers. */
function mlpReference(proto: ModelProto, x: Float32Array, inDim: number): Float32Array {
  const init = new Map(proto.graph!.initializer.map((t) => [t.name, t]));
  let h = x;
  let k = inDim;
  for (let layer = 0; init.has(`W${layer}`); layer++) {
    const w = init.get(`W${layer}`)!;
    const n = Number(w.dims[1]);
    const wv = readFloat32(w);
    const bv = readFloat32(init.get(`b${layer}`)!);
    const out = new Float32Array(n);
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let i = 0; i < k; i++) s += h[i]! * wv[i * n + j]!;
      out[j] = s + bv[j]!;
      if (init.has(`W${layer + 1}`)) out[j] = Math.max(0, out[j]!);
    }
    h = out;
    k = n;
  }
  return h;
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-4): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < actual.length; i++) assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol * (1 + Math.abs(expected[i]!)), `[${i}] ${actual[i]} vs ${expected[i]}`);
}

test('onnxruntime-node loads every built fixture marked ortLoads (and refuses the custom-op one)', async () => {
  for (const m of BUILT_MODELS) {
    const file = writeModelFile(dir, m.file, m.build());
    if (m.ortLoads) await createSession(file);
    else await assert.rejects(createSession(file), /cannot load the model/);
  }
});

test('the MLP fixture computes the TypeScript reference, inline and after saving with external data', async () => {
  const proto = mlpModel();
  const file = writeModelFile(dir, 'mlp-ref.onnx', proto);
  const x = Float32Array.from({ length: 16 }, (_, i) => Math.sin(i) * 0.7);
  const expected = mlpReference(proto, x, 16);
  const run = async (p: string) => {
    const s = await createSession(p);
    const out = await s.run({ x: new (ort().Tensor)('float32', x, [1, 16]) });
    return out.y!.data as Float32Array;
  };
  assertClose(await run(file), expected);
  const src = loadModel(file);
  const ext = path.join(dir, 'mlp-ext.onnx');
  saveModel(src.proto, ext, { source: src, externalData: 'always', sizeThreshold: 256 });
  assert.ok(fs.existsSync(`${ext}.data`));
  assertClose(await run(ext), expected);
});

test('the external-data fixture runs in ORT and matches x·W + b from the data file', async () => {
  const d = path.join(dir, 'ext');
  fs.mkdirSync(d);
  const { model, weights, bias } = writeExternalDataModel(d, 'valid');
  const x = Float32Array.from({ length: 16 }, (_, i) => (i % 5) - 2);
  const expected = new Float32Array(8).map((_, j) => {
    let s = bias[j]!;
    for (let i = 0; i < 16; i++) s += x[i]! * weights[i * 8 + j]!;
    return s;
  });
  const s = await createSession(model);
  const out = await s.run({ x: new (ort().Tensor)('float32', x, [1, 16]) });
  assertClose(out.y!.data as Float32Array, expected);
});
