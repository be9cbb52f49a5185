import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadModel } from '../../../src/core/onnx/model';
import { modelToBytes, saveModel } from '../../../src/core/onnx/save';
import { makeTempDir, unknownFieldBytes, unknownFieldsModelBytes, writeAllFixtures } from '../../fixtures/build';

const FIXTURES = path.join(__dirname, '../../fixtures');

for (const file of fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.onnx'))) {
  test(`load + save of ${file} gives back the same bytes`, () => {
    const p = path.join(FIXTURES, file);
    const model = loadModel(p);
    const out = modelToBytes(model.proto);
    assert.equal(Buffer.compare(fs.readFileSync(p), Buffer.from(out)), 0);
  });
}

test('load + saveModel of every built fixture gives back the same bytes (file on disk)', () => {
  const { dir, cleanup } = makeTempDir();
  try {
    const files = writeAllFixtures(dir);
    assert.ok(files.length >= 15);
    for (const file of files) {
      const model = loadModel(file);
      const out = path.join(dir, `${path.basename(file, '.onnx')}.resaved.onnx`);
      // 'never' keeps external tensors as references (they are not inline in the source either).
      const hasExternal = model.external.files(model.proto).length > 0;
      saveModel(model.proto, out, { source: model, externalData: hasExternal ? 'auto' : 'never' });
      if (hasExternal) continue; // external tensors come inline on save: compared in external-data.test.ts
      assert.equal(Buffer.compare(fs.readFileSync(file), fs.readFileSync(out)), 0, `${path.basename(file)} changed on load + save`);
    }
  } finally {
    cleanup();
  }
});

test('unknown fields (in a nested NodeProto and at the top level) survive load + save byte for byte', () => {
  const bytes = unknownFieldsModelBytes();
  const marker = Buffer.from(unknownFieldBytes());
  // The marker occurs twice: inside the first node and at the end of the model.
  const first = Buffer.from(bytes).indexOf(marker);
  assert.ok(first > 0 && first < bytes.length - marker.length, 'nested unknown field present');
  assert.equal(Buffer.compare(Buffer.from(bytes.subarray(bytes.length - marker.length)), marker), 0, 'top-level unknown field present');
  const { dir, cleanup } = makeTempDir();
  try {
    const file = path.join(dir, 'unknown.onnx');
    fs.writeFileSync(file, bytes);
    const model = loadModel(file);
    assert.ok((model.proto.$unknown ?? []).length >= 2, 'top-level unknown fields kept in the message');
    assert.ok((model.proto.graph!.node[0]!.$unknown ?? []).length >= 2, 'node unknown fields kept in the message');
    const out = path.join(dir, 'out.onnx');
    saveModel(model.proto, out, { source: model });
    assert.equal(Buffer.compare(Buffer.from(bytes), fs.readFileSync(out)), 0);
  } finally {
    cleanup();
  }
});
