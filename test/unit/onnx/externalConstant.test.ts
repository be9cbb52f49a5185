import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeGraph, makeModel, makeNode, makeValueInfo } from '../../../src/core/onnx/builder';
import { DataType } from '../../../src/core/onnx/dtype';
import { isExternal, loadModel } from '../../../src/core/onnx/model';
import { saveModel } from '../../../src/core/onnx/save';
import { floatTensor, readFloat32 } from '../../../src/core/onnx/tensor';
import { createSession, ort } from '../../../src/core/runtime/ort';

// Large models keep weights in Constant nodes too (some exporters do): they must leave the
// protobuf like initializers do, and ONNX Runtime must still run the result.
test('Constant-node tensors move to external data on save, read back equal, and the model runs', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnxq-const-'));
  try {
    const k = 64;
    const n = 128;
    const w = Float32Array.from({ length: k * n }, (_, i) => Math.sin(i) * 0.1);
    const bias = Float32Array.from({ length: n }, (_, i) => i / n);
    const graph = makeGraph(
      [makeNode('Constant', [], ['w'], { value: floatTensor('w_value', [k, n], w) }, { name: 'const_w' }), makeNode('MatMul', ['x', 'w'], ['mm']), makeNode('Add', ['mm', 'b'], ['y'])],
      'g',
      [makeValueInfo('x', DataType.FLOAT, ['N', k])],
      [makeValueInfo('y', DataType.FLOAT, ['N', n])],
      [floatTensor('b', [n], bias)],
    );
    const file = path.join(dir, 'model.onnx');
    const saved = saveModel(makeModel(graph), file, { externalData: 'always', sizeThreshold: 256 });
    assert.ok(saved.dataPath && fs.existsSync(saved.dataPath), 'external data file written');

    const model = loadModel(file);
    const constant = model.proto.graph!.node[0]!.attribute[0]!.t!;
    assert.ok(isExternal(constant), 'the Constant value is stored externally');
    assert.ok(isExternal(model.proto.graph!.initializer[0]!), 'the initializer too');
    assert.ok(fs.statSync(file).size < 2048, `model file holds no weights (${fs.statSync(file).size} bytes)`);
    assert.deepEqual(readFloat32(constant, model), w);

    const session = await createSession(file);
    const x = Float32Array.from({ length: 2 * k }, (_, i) => (i % 7) - 3);
    const out = (await session.run({ x: new (ort().Tensor)('float32', x, [2, k]) })).y!.data as Float32Array;
    for (const [row, col] of [[0, 0], [1, 77]] as const) {
      let expected = bias[col]!;
      for (let i = 0; i < k; i++) expected += x[row * k + i]! * w[i * n + col]!;
      assert.ok(Math.abs(out[row * n + col]! - expected) < 1e-4, `y[${row},${col}] = ${out[row * n + col]}, expected ${expected}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
