import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InputError } from '../../../../src/core/errors';
import { loadModel } from '../../../../src/core/onnx/model';
import { quantizeFile } from '../../../../src/core/quantize';
import { argmaxAccuracy, digitsTest, FIXTURES, runModel } from './helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'static-file-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

test('quantizeFile --mode static: saved, validated, smaller, accurate; progress goes through calibration', async () => {
  const out = path.join(tmp, 'cnn.int8.onnx');
  const stages: string[] = [];
  const r = await quantizeFile(path.join(FIXTURES, 'digits_cnn.onnx'), out, { mode: 'static', calibrationData: path.join(FIXTURES, 'digits_calib_x.npy'), speedCheck: false }, {
    onProgress: (p) => stages.push(p.stage),
  });
  assert.ok(fs.existsSync(out));
  assert.ok(r.sizeRatio >= 3.5, `ratio ${r.sizeRatio}`);
  assert.equal(r.quantizedNodes, 8);
  assert.ok(stages.includes('calibrating') && stages.includes('validating'));
  const t = digitsTest();
  const acc = argmaxAccuracy(await runModel(loadModel(out).proto, t.x, [t.n, 1, 8, 8]), t.y, 10);
  assert.ok(acc >= 0.99, `accuracy ${acc}`);
});

test('quantizeFile --mode static without calibration data: InputError, nothing written', async () => {
  const out = path.join(tmp, 'none.onnx');
  await assert.rejects(quantizeFile(path.join(FIXTURES, 'digits_cnn.onnx'), out, { mode: 'static' }), (e: unknown) => e instanceof InputError && /--calibration-data/.test(e.message));
  assert.ok(!fs.existsSync(out));
});
