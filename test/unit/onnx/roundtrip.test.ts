import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadModel } from '../../../src/core/onnx/model';
import { modelToBytes } from '../../../src/core/onnx/save';

const FIXTURES = path.join(__dirname, '../../fixtures');

for (const file of fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.onnx'))) {
  test(`load + save of ${file} gives back the same bytes`, () => {
    const p = path.join(FIXTURES, file);
    const model = loadModel(p);
    const out = modelToBytes(model.proto);
    assert.equal(Buffer.compare(fs.readFileSync(p), Buffer.from(out)), 0);
  });
}
