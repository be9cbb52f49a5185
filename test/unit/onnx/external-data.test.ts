import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../../../src/core/errors';
import { isExternal, loadModel } from '../../../src/core/onnx/model';
import { saveModel } from '../../../src/core/onnx/save';
import { bytesOf, readFloat32 } from '../../../src/core/onnx/tensor';
import { walkTensors } from '../../../src/core/onnx/walk';
import { largeMlpModel, makeTempDir, writeExternalDataModel, writeModelFile, type ExternalCase } from '../../fixtures/build';

function withDir<T>(fn: (dir: string) => T): T {
  const { dir, cleanup } = makeTempDir();
  try {
    return fn(dir);
  } finally {
    cleanup();
  }
}

function modelDir(root: string): string {
  const d = path.join(root, 'model');
  fs.mkdirSync(d);
  return d;
}

test('valid external data: values match, and bytes are read at access time, not at load', () =>
  withDir((root) => {
    const { model: file, data, weights, bias } = writeExternalDataModel(modelDir(root), 'valid');
    const model = loadModel(file);
    const [w, b] = model.proto.graph!.initializer;
    assert.ok(isExternal(w!) && isExternal(b!));
    assert.deepEqual(readFloat32(b!, model), bias);
    // Rewrite W's bytes in place after load: a lazy reader sees the new values.
    const blob = fs.readFileSync(data);
    const doubled = weights.map((v) => v * 2);
    blob.set(bytesOf(doubled), 64);
    fs.writeFileSync(data, blob);
    assert.deepEqual(readFloat32(w!, model), doubled);
    model.external.close();
  }));

test('external data without a length runs to the end of the file', () =>
  withDir((root) => {
    const { model: file, weights } = writeExternalDataModel(modelDir(root), 'no-length');
    const model = loadModel(file);
    assert.deepEqual(readFloat32(model.proto.graph!.initializer[0]!, model), weights);
    model.external.close();
  }));

const unsafe: [ExternalCase, RegExp][] = [
  ['absolute', /absolute path .*only files inside the model's folder/],
  ['dotdot', /points outside the model's folder/],
  ['symlink', /symlink outside the model's folder/],
  ['missing', /is missing: 'not-there\.bin' does not exist/],
  ['past-eof', /reaches byte \d+ of 'weights\.bin', which has only \d+/],
  ['offset-past-eof', /reaches byte \d+ of 'weights\.bin', which has only \d+/],
];
for (const [kind, message] of unsafe) {
  test(`external data '${kind}' is refused at load with an InputError`, () =>
    withDir((root) => {
      const { model: file } = writeExternalDataModel(modelDir(root), kind);
      assert.throws(
        () => loadModel(file),
        (e: unknown) => e instanceof InputError && message.test(e.message) && !e.message.includes('\n'),
      );
    }));
}

test("saveModel externalData 'always' writes tensors ≥ threshold to one data file; reload gives the same tensors", () =>
  withDir((dir) => {
    const src = loadModel(writeModelFile(dir, 'mlp.onnx', largeMlpModel(0, 64)));
    const out = path.join(dir, 'out.onnx');
    const res = saveModel(src.proto, out, { source: src, externalData: 'always', sizeThreshold: 1024 });
    assert.equal(res.dataPath, path.join(dir, 'out.onnx.data'));
    const back = loadModel(out);
    const orig = new Map(src.proto.graph!.initializer.map((t) => [t.name, t]));
    let external = 0;
    for (const { tensor } of walkTensors(back.proto.graph!)) {
      const o = orig.get(tensor.name)!;
      const size = readFloat32(o).byteLength;
      assert.equal(isExternal(tensor), size >= 1024, `${tensor.name} (${size} bytes) external iff ≥ threshold`);
      if (isExternal(tensor)) external++;
      assert.deepEqual(readFloat32(tensor, back), readFloat32(o));
    }
    assert.ok(external >= 2);
    // The input's own message is left as it was (all inline).
    assert.ok(src.proto.graph!.initializer.every((t) => !isExternal(t)));
    back.external.close();
  }));

test('saveModel with a size threshold keeps small tensors inline; external sources re-save inline and compare equal', () =>
  withDir((root) => {
    const { model: file, weights, bias } = writeExternalDataModel(modelDir(root), 'valid');
    const src = loadModel(file);
    const out = path.join(root, 'resaved.onnx');
    // W is 512 bytes, b 32 bytes: threshold 100 moves only W.
    saveModel(src.proto, out, { source: src, externalData: 'always', sizeThreshold: 100 });
    const back = loadModel(out);
    const [w, b] = back.proto.graph!.initializer;
    assert.ok(isExternal(w!) && !isExternal(b!));
    assert.deepEqual(readFloat32(w!, back), weights);
    assert.deepEqual(readFloat32(b!, back), bias);
    const inline = path.join(root, 'inline.onnx');
    saveModel(src.proto, inline, { source: src, externalData: 'never' });
    const again = loadModel(inline);
    assert.ok(again.proto.graph!.initializer.every((t) => !isExternal(t)));
    assert.deepEqual(readFloat32(again.proto.graph!.initializer[0]!), weights);
    src.external.close();
    back.external.close();
  }));
