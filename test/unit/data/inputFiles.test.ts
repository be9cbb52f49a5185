// A data folder's file per input: calibration writes and reads it, and quantize's fidelity check
// reads the same folder, so an input whose name a file system cannot hold must be found by both.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileNameForInput, inputFileNames } from '../../../src/core/data/inputs';
import { encodeNpy } from '../../../src/core/data/npy';
import { generateInputData, modelInputs } from '../../../src/core/evaluate/data';
import { loadModel } from '../../../src/core/onnx/model';
import { quantizeFile } from '../../../src/core/quantize/index';
import { makeTempDir, markupModel, writeModelFile } from '../../fixtures/build';

const { dir, cleanup } = makeTempDir('oq-input-files-');
after(cleanup);

test('the names tried for an input start with its own and include the written one', () => {
  assert.deepEqual(inputFileNames('image'), ['image.npy']);
  const name = 'x<img src=x onerror=alert(1)>';
  assert.equal(fileNameForInput(name), 'x_img src=x onerror=alert(1)_.npy');
  assert.deepEqual(inputFileNames(name), [`${name}.npy`, 'x_img src=x onerror=alert(1)_.npy', 'x_img_src_x_onerror_alert_1__.npy']);
});

test('static quantization calibrates and checks fidelity on a folder written with fileNameForInput for a markup-named input', async () => {
  const file = writeModelFile(dir, 'markup_names.onnx', markupModel());
  const proto = loadModel(file).proto;
  const folder = path.join(dir, 'calib');
  fs.mkdirSync(folder);
  for (const [name, arr] of generateInputData(proto, modelInputs(proto), 8).arrays) fs.writeFileSync(path.join(folder, fileNameForInput(name)), encodeNpy(arr));
  const r = await quantizeFile(file, path.join(dir, 'markup_names.int8.onnx'), { mode: 'static', calibrationData: folder, speedCheck: false });
  assert.equal(r.quantizedNodes, 1, 'the MatMul (its Relu folded)');
  assert.equal(r.fidelity?.inputs, 'calibration data');
  assert.ok((r.fidelity?.outputs[0]?.cosine ?? 0) > 0.99, JSON.stringify(r.fidelity?.outputs));
});
