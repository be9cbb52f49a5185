import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadModel } from '../../../src/core/onnx/model';
import { saveModel } from '../../../src/core/onnx/save';
import { InputError } from '../../../src/core/errors';

const MLP = path.join(__dirname, '../../fixtures/digits_mlp.onnx');

function scratch(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'onnxq-guards-'));
}

test('an output whose external data file would be the input model is refused, and the input is intact', () => {
  const dir = scratch();
  try {
    // The input model happens to be named like the output's data file: OUT.onnx.data.
    const input = path.join(dir, 'model.onnx.data');
    fs.copyFileSync(MLP, input);
    const before = fs.readFileSync(input);
    const model = loadModel(input);
    assert.throws(
      () => saveModel(model.proto, path.join(dir, 'model.onnx'), { source: model, externalData: 'always', force: true }),
      (e: unknown) => e instanceof InputError && /would overwrite the input/.test(e.message),
    );
    assert.deepEqual(fs.readFileSync(input), before);
    assert.deepEqual(fs.readdirSync(dir), ['model.onnx.data'], 'no output and no temp file left');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an existing external data file is replaced only with force', () => {
  const dir = scratch();
  try {
    const model = loadModel(MLP);
    const out = path.join(dir, 'out.onnx');
    fs.writeFileSync(`${out}.data`, 'somebody else\'s file');
    assert.throws(
      () => saveModel(model.proto, out, { source: model, externalData: 'always' }),
      (e: unknown) => e instanceof InputError && /already exists; use --force/.test(e.message),
    );
    assert.equal(fs.readFileSync(`${out}.data`, 'utf8'), 'somebody else\'s file');
    assert.ok(!fs.existsSync(out), 'no model written');
    const saved = saveModel(model.proto, out, { source: model, externalData: 'always', force: true });
    assert.ok(saved.dataBytes > 300_000, `weights went to the data file (${saved.dataBytes} bytes)`);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['out.onnx', 'out.onnx.data'], 'no temp file left');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
