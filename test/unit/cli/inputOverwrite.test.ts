/**
 * Every file a run reads, named as something the run writes, through the real CLI with --force:
 * the model (also as a hard link), its external data, calibration data (a file, and a file in a
 * calibration folder), evaluation data (--data), labels, `--input NAME=FILE.npy` values and the
 * recipe, as `-o`, as the output's data file, and as a report of `compare --report` or
 * `quantize --auto-exclude` (onto either model's external data too; an --input value must be a
 * `.npy`, which no report is). Each is refused with exit 2
 * before any work, and every file of the folder stays byte-identical.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { modelToBytes } from '../../../src/core/onnx/save';
import { ModelProtoSchema } from '../../../src/core/onnx/schema';
import { encodeNpy } from '../../../src/core/data/npy';
import { gaussian, makeTempDir, writeExternalDataModel } from '../../fixtures/build';
import { ROOT, buildCli, runCli } from './inspect-helpers';

const FIXTURES = path.join(ROOT, 'test/fixtures');
const tmp = makeTempDir('onnxq-input-overwrite-');
process.on('exit', tmp.cleanup);
const ws = tmp.dir;
const at = (name: string) => path.join(ws, name);
const QUIET = ['--no-speed-check'];
const REFUSED = /is the input model|would overwrite (the input|an input file|this recipe)/;

/** Writes `modelName` (x [batch, 16] → y [batch, 8]) whose weights live in `dataName`, both in `ws`. */
function externalModel(modelName: string, dataName: string): void {
  const scratch = fs.mkdtempSync(path.join(ws, '.build-'));
  const { model, data } = writeExternalDataModel(scratch, 'valid');
  const proto = fromBinary(ModelProtoSchema, fs.readFileSync(model));
  for (const t of proto.graph?.initializer ?? []) for (const e of t.externalData) if (e.key === 'location') e.value = dataName;
  fs.writeFileSync(at(modelName), modelToBytes(proto));
  fs.renameSync(data, at(dataName));
  fs.rmSync(scratch, { recursive: true });
}

before(() => {
  buildCli();
  fs.copyFileSync(path.join(FIXTURES, 'digits_mlp.onnx'), at('m.onnx'));
  fs.linkSync(at('m.onnx'), at('m-hardlink.onnx'));
  fs.copyFileSync(path.join(FIXTURES, 'digits_calib_x.npy'), at('calib.npy'));
  fs.mkdirSync(at('calib'));
  fs.copyFileSync(path.join(FIXTURES, 'digits_calib_x.npy'), at('calib/image.npy'));
  fs.copyFileSync(path.join(FIXTURES, 'digits_test_x.npy'), at('data.npy'));
  fs.copyFileSync(path.join(FIXTURES, 'digits_test_y.npy'), at('labels.npy'));
  fs.copyFileSync(path.join(FIXTURES, 'digits_test_x.npy'), at('value.npy'));
  fs.writeFileSync(at('r.quant.json'), JSON.stringify({ model: 'm.onnx', mode: 'dynamic' }));
  fs.writeFileSync(at('self.quant.json'), JSON.stringify({ model: 'm.onnx', mode: 'dynamic', output: 'self.quant.json' }));
  // An external-data model, and the evaluation data of a run whose output data file it would be.
  externalModel('ext.onnx', 'ext.weights');
  fs.writeFileSync(at('fid.onnx.data'), encodeNpy({ dtype: 'float32', shape: [4, 16], data: new Uint8Array(gaussian(64, 1, 3).buffer) }));
  // compare --report writes c.quant-report.{json,md,html}: inputs of the comparison carry those names.
  externalModel('ref-ext.onnx', 'c.quant-report.json'); // the reference's data file
  externalModel('c.onnx', 'c.quant-report.md'); // the candidate's data file
  externalModel('plain.onnx', 'plain.weights');
  fs.copyFileSync(path.join(FIXTURES, 'digits_test_x.npy'), at('c.quant-report.html')); // as --data or --labels
  // quantize --auto-exclude -o q.onnx writes q.quant-report.*: the model's data file carries one of those names.
  externalModel('auto.onnx', 'q.quant-report.json');
});

/** Every regular file under the folder with a digest of its bytes. */
function snapshot(): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(path.relative(ws, p), createHash('sha1').update(fs.readFileSync(p)).digest('hex'));
    }
  };
  walk(ws);
  return out;
}

const CASES: [string, string[]][] = [
  ['-o the model', ['quantize', at('m.onnx'), '-o', at('m.onnx'), ...QUIET]],
  ['-o a hard link to the model', ['quantize', at('m.onnx'), '-o', at('m-hardlink.onnx'), ...QUIET]],
  ['-o the model\'s external data', ['quantize', at('ext.onnx'), '-o', at('ext.weights'), '--mode', 'weight-only', ...QUIET]],
  ['the output\'s data file onto --data', ['quantize', at('ext.onnx'), '-o', at('fid.onnx'), '--mode', 'fp16', '--data', at('fid.onnx.data'), ...QUIET]],
  ['-o the calibration data', ['quantize', at('m.onnx'), '-o', at('calib.npy'), '--mode', 'static', '--calibration-data', at('calib.npy'), ...QUIET]],
  ['-o a file of the calibration folder', ['quantize', at('m.onnx'), '-o', at('calib/image.npy'), '--mode', 'static', '--calibration-data', at('calib'), ...QUIET]],
  ['-o the evaluation data (--data)', ['quantize', at('m.onnx'), '-o', at('data.npy'), '--data', at('data.npy'), ...QUIET]],
  ['-o the evaluation data with --require-speedup', ['quantize', at('m.onnx'), '-o', at('data.npy'), '--data', at('data.npy'), '--require-speedup', '1.2']],
  ['-o an --input value file', ['quantize', at('m.onnx'), '-o', at('value.npy'), '--input', `image=${at('value.npy')}`, ...QUIET]],
  ['-o the recipe', ['quantize', '--recipe', at('r.quant.json'), '-o', at('r.quant.json'), ...QUIET]],
  ['a recipe whose output is itself', ['quantize', '--recipe', at('self.quant.json'), ...QUIET]],
  ['--auto-exclude: -o the labels', ['quantize', at('m.onnx'), '-o', at('labels.npy'), '--auto-exclude', 'sqnr:30', '--data', at('data.npy'), '--labels', at('labels.npy'), ...QUIET]],
  ['--auto-exclude: -o the data', ['quantize', at('m.onnx'), '-o', at('data.npy'), '--auto-exclude', 'sqnr:30', '--data', at('data.npy'), ...QUIET]],
  ['--auto-exclude: a report onto the model\'s external data', ['quantize', at('auto.onnx'), '-o', at('q.onnx'), '--auto-exclude', 'sqnr:30', ...QUIET]],
  ['compare --report onto the reference\'s external data', ['compare', at('ref-ext.onnx'), at('c.onnx'), '--report', '--runs', '1']],
  ['compare --report onto the candidate\'s external data', ['compare', at('plain.onnx'), at('c.onnx'), '--report', '--runs', '1']],
  ['compare --report onto --data', ['compare', at('m.onnx'), at('c.onnx'), '--data', at('c.quant-report.html'), '--report', '--runs', '1']],
  ['compare --report onto --labels', ['compare', at('m.onnx'), at('c.onnx'), '--data', at('data.npy'), '--labels', at('c.quant-report.html'), '--report', '--runs', '1']],
];

for (const [what, args] of CASES) {
  test(`${what} is refused with --force, and every file stays as it was`, () => {
    const before = snapshot();
    const r = runCli([...args, '--force'], { timeoutMs: 30_000 });
    assert.notEqual(r.signal, 'SIGKILL', `${what}: hung`);
    assert.equal(r.code, 2, `${what}: exit ${r.code}\n${r.stderr}`);
    assert.match(r.stderr, REFUSED, what);
    assert.ok((r.ms ?? Infinity) < 5000, `${what}: refused after ${r.ms?.toFixed(0)} ms, not before the work`);
    assert.deepEqual(snapshot(), before, `${what}: files added, removed or changed`);
  });
}
