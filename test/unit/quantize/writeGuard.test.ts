/**
 * One write guard for every path written: never an input of the run (model, its external data,
 * calibration data, data, labels), reports follow --force like -o, recipes may not force nor
 * name paths outside their folder, and external data into another folder works with true sizes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { spawnSync } from 'node:child_process';
import { quantizeFile } from '../../../src/core/quantize/index';
import { InputError } from '../../../src/core/errors';
import { outputNameProblem } from '../../../src/core/util/writeGuard';
import { saveModel } from '../../../src/core/onnx/save';
import { validateRecipe } from '../../../src/core/text/recipe';
import { commands } from '../../../src/cli/commands';
import { mlpModel } from '../../fixtures/build';
import { fixture, tempDir } from './helpers';

const dir = tempDir('write-guard');

function snapshot(folder: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fs.readdirSync(folder).sort()) {
    const p = path.join(folder, f);
    if (fs.statSync(p).isFile()) out[f] = fs.readFileSync(p).toString('base64');
  }
  return out;
}

function externalInput(name: string): { folder: string; model: string; data: string } {
  const folder = path.join(dir, name);
  fs.mkdirSync(folder);
  const model = path.join(folder, 'model.onnx');
  saveModel(mlpModel({ inDim: 64, hidden: 128, outDim: 16, layers: 3, seed: 5 }), model, { externalData: 'always' });
  return { folder, model, data: `${model}.data` };
}

/** A fresh folder under the test dir holding copies of the named fixtures; returns the folder and the copies' paths. */
function folderWith(name: string, files: Record<string, string>): { folder: string; paths: Record<string, string> } {
  const folder = path.join(dir, name);
  fs.mkdirSync(folder);
  const paths: Record<string, string> = {};
  for (const [as, from] of Object.entries(files)) {
    paths[as] = path.join(folder, as);
    fs.copyFileSync(fixture(from), paths[as]);
  }
  return { folder, paths };
}

test('-o naming the input\'s external data file is refused with --force, and the input is intact', async () => {
  const { folder, model, data } = externalInput('ext-out');
  const before = snapshot(folder);
  for (const mode of ['dynamic', 'weight-only', 'fp16'] as const) {
    await assert.rejects(quantizeFile(model, data, { mode, force: true }), (e: unknown) => e instanceof InputError && /would overwrite the input/.test((e as Error).message), mode);
  }
  assert.deepEqual(snapshot(folder), before);
});

test('-o naming the calibration data (file or a file in the folder) is refused with --force', async () => {
  const { folder, paths } = folderWith('calib', { 'mlp.onnx': 'digits_mlp.onnx', 'calib.npy': 'digits_calib_x.npy' });
  const model = paths['mlp.onnx'] as string;
  const calib = paths['calib.npy'] as string;
  const before = snapshot(folder);
  await assert.rejects(quantizeFile(model, calib, { mode: 'static', calibrationData: calib, force: true }), (e: unknown) => e instanceof InputError && /would overwrite the input/.test((e as Error).message));
  // Another mode still reads the calibration data (to validate): protected too.
  await assert.rejects(quantizeFile(model, calib, { mode: 'dynamic', calibrationData: folder, force: true }), (e: unknown) => e instanceof InputError && /would overwrite the input/.test((e as Error).message));
  assert.deepEqual(snapshot(folder), before);
});

test('external data into another folder succeeds in every streaming mode, with the input\'s true size', async () => {
  const { folder, model, data } = externalInput('ext-elsewhere');
  const inputBytes = fs.statSync(model).size + fs.statSync(data).size;
  const before = snapshot(folder);
  for (const mode of ['dynamic', 'weight-only', 'fp16'] as const) {
    const outDir = path.join(dir, `elsewhere-${mode}`);
    fs.mkdirSync(outDir);
    const out = path.join(outDir, 'q.onnx');
    const r = await quantizeFile(model, out, { mode, speedCheck: false });
    assert.equal(r.inputBytes, inputBytes, `${mode}: inputBytes is the input's model + data file`);
    const outputBytes = fs.statSync(out).size + (fs.existsSync(`${out}.data`) ? fs.statSync(`${out}.data`).size : 0);
    assert.equal(r.outputBytes, outputBytes, `${mode}: outputBytes`);
    assert.ok(r.sizeRatio > 1.5, `${mode}: size ratio ${r.sizeRatio}`);
    assert.deepEqual(snapshot(folder), before, `${mode}: input folder unchanged`);
  }
});

async function cli(args: string[]): Promise<{ code: number; err: string }> {
  const command = commands.find((c) => c.name === args[0]);
  assert.ok(command);
  let err = '';
  try {
    const code = await command.run(args.slice(1), { out: () => undefined, err: (t) => void (err += t), interactive: false }, new AbortController().signal);
    return { code, err };
  } catch (e) {
    return { code: e instanceof InputError ? 2 : 1, err: `${err}${(e as Error).message}` };
  }
}

test('compare --report replaces existing reports only with --force, and never an input', async () => {
  const { folder, paths } = folderWith('report', { 'ref.onnx': 'digits_mlp.onnx', 'cand.onnx': 'digits_mlp.onnx' });
  const ref = paths['ref.onnx'] as string;
  const cand = paths['cand.onnx'] as string;
  const json = path.join(folder, 'cand.quant-report.json');
  fs.writeFileSync(json, 'keep me');
  const refused = await cli(['compare', ref, cand, '--runs', '1', '--warmup', '0', '--report']);
  assert.equal(refused.code, 2, refused.err);
  assert.match(refused.err, /already exists; use --force/);
  assert.equal(fs.readFileSync(json, 'utf8'), 'keep me');
  // The data file happens to carry the report's name: never replaced, even with --force.
  const data = path.join(folder, 'cand.quant-report.md');
  fs.copyFileSync(fixture('digits_test_x.npy'), data);
  const asInput = await cli(['compare', ref, cand, '--runs', '1', '--warmup', '0', '--data', data, '--report', '--force']);
  assert.equal(asInput.code, 2, asInput.err);
  assert.match(asInput.err, /would overwrite the input/);
  fs.rmSync(data);
  const forced = await cli(['compare', ref, cand, '--runs', '1', '--warmup', '0', '--report', '--force']);
  assert.equal(forced.code, 0, forced.err);
  assert.notEqual(fs.readFileSync(json, 'utf8'), 'keep me');
});

test('a recipe may not force, nor name a model, output or calibration data outside its folder', () => {
  const bad: unknown[] = [
    { model: 'm.onnx', mode: 'dynamic', options: { force: true } },
    { model: 'm.onnx', mode: 'dynamic', output: '/etc/passwd' },
    { model: 'm.onnx', mode: 'dynamic', output: '../elsewhere/q.onnx' },
    { model: 'sub/../../m.onnx', mode: 'dynamic' },
    { model: '/dev/zero', mode: 'dynamic' },
    { model: 'm.onnx', mode: 'static', options: { calibrationData: '../../x.npy' } },
  ];
  for (const r of bad) assert.throws(() => validateRecipe(r), (e: unknown) => e instanceof InputError && /not allowed|leaves the recipe's folder/.test((e as Error).message), JSON.stringify(r));
  assert.doesNotThrow(() => validateRecipe({ model: 'sub/m.onnx', mode: 'static', output: 'out/q.onnx', options: { calibrationData: 'data/x.npy' } }));
});

test('temporaries left by killed runs are swept by the next run; those of live runs and other files stay', async () => {
  const folder = path.join(dir, 'sweep');
  fs.mkdirSync(folder);
  const model = path.join(folder, 'mlp.onnx');
  fs.copyFileSync(fixture('digits_mlp.onnx'), model);
  const dead = spawnSync(process.execPath, ['-e', '']).pid;
  assert.ok(dead && dead !== process.pid);
  fs.writeFileSync(path.join(folder, `.q.onnx.tmp-${dead}-0badc0de`), 'partial');
  fs.writeFileSync(path.join(folder, `.q.onnx.data.tmp-${dead}-0badc0de`), 'partial');
  fs.mkdirSync(path.join(folder, `.q.onnx.auto-${dead}-Ab12Cd`));
  const live = `.other.onnx.tmp-${process.pid}-11112222`;
  fs.writeFileSync(path.join(folder, live), 'in progress');
  fs.writeFileSync(path.join(folder, '.notes.tmp-x'), 'the user\'s');
  const r = await quantizeFile(model, path.join(folder, 'q.onnx'), { mode: 'dynamic', speedCheck: false });
  assert.ok(r.warnings.some((w) => /removed 3 temporary/.test(w)), r.warnings.join('\n'));
  assert.deepEqual(fs.readdirSync(folder).sort(), ['.notes.tmp-x', live, 'mlp.onnx', 'q.onnx'].sort());
});

test('an output name typed for a model: another source model in the folder or a path out of it is refused, its own outputs are not', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oq-outname-'));
  try {
    for (const f of ['digits_cnn.onnx', 'digits_mlp.onnx', 'digits_cnn.int8.onnx']) fs.copyFileSync(path.join(__dirname, '../../fixtures', f.replace('.int8', '')), path.join(dir, f));
    const model = path.join(dir, 'digits_cnn.onnx');
    assert.match(outputNameProblem(model, 'digits_mlp.onnx') ?? '', /another model in this folder, not an output of digits_cnn\.onnx/);
    assert.match(outputNameProblem(model, '../outside.onnx') ?? '', /outside the model's folder/);
    assert.match(outputNameProblem(model, 'sub/x.onnx') ?? '', /outside the model's folder/);
    assert.match(outputNameProblem(model, 'digits_cnn.onnx') ?? '', /differ from the input model/);
    assert.equal(outputNameProblem(model, 'digits_cnn.int8.onnx'), undefined, 'its own earlier output may be replaced');
    assert.equal(outputNameProblem(model, 'fresh.onnx'), undefined, 'a new name is fine');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
