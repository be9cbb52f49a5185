import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { quantizeFile } from '../../../src/core/quantize/index';
import { WorkError } from '../../../src/core/errors';
import { compareModels } from '../../../src/core/evaluate/compare';
import { buildReport } from '../../../src/core/report/build';
import { quantizeFidelityOf, toDashboard } from '../../../src/extension/dashboard/reportAdapter';
import type { QuantizeResult } from '../../../src/core/quantize/types';
import type { QuantizeFidelity } from '../../../src/core/evaluate/types';
import { fixture, tempDir, unlikeCalibration } from './helpers';
import { makeGraph, makeModel, makeNode, makeValueInfo } from '../../../src/core/onnx/builder';
import { DataType } from '../../../src/core/onnx/dtype';
import { floatTensor } from '../../../src/core/onnx/tensor';
import { modelToBytes } from '../../../src/core/onnx/save';
import { encodeNpy } from '../../../src/core/data/npy';
import { seededRandom } from '../../../src/core/util/random';
import { writePlantedMlp } from '../../fixtures/build/planted';

const dir = tempDir('fidelity');
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const TEST_X = fixture('digits_test_x.npy');
const TEST_Y = fixture('digits_test_y.npy');

/** The fidelity of a result and the SQNR of its first output (both must be there). */
function firstOutput(r: QuantizeResult): { f: QuantizeFidelity; sqnr: number; cosine: number } {
  const f = r.fidelity;
  assert.ok(f, 'the result carries fidelity');
  const o = f.outputs[0];
  assert.ok(o && o.sqnrDb !== null, JSON.stringify(f.outputs));
  return { f, sqnr: o.sqnrDb, cosine: o.cosine };
}

test('every result carries per-output fidelity: digits MLP dynamic on generated inputs is above the floor, no warning', async () => {
  const r = await quantizeFile(fixture('digits_mlp.onnx'), path.join(dir, 'mlp.int8.onnx'), { mode: 'dynamic', speedCheck: false });
  const { f, sqnr, cosine } = firstOutput(r);
  assert.equal(f.inputs, 'generated inputs');
  assert.equal(f.outputs.length, 1);
  assert.ok(sqnr > 20 && cosine > 0.99, JSON.stringify(f));
  assert.equal(f.belowFloor, false);
  assert.equal(f.worstLayers, undefined);
  assert.ok(!r.warnings.some((w) => /fidelity below/.test(w)));
});

test('a CNN calibrated on data unlike its test data: accuracy collapses, fidelity is below the floor, the warning names the worst layers', async () => {
  const calib = unlikeCalibration(path.join(dir, 'dim_calib.npy'));
  const out = path.join(dir, 'cnn.int8.onnx');
  const r = await quantizeFile(fixture('digits_cnn.onnx'), out, { mode: 'static', calibrationData: calib, fidelityData: TEST_X, speedCheck: false });
  const { f, sqnr } = firstOutput(r);
  assert.equal(f.inputs, 'data');
  assert.equal(f.belowFloor, true);
  assert.ok(sqnr < 20, JSON.stringify(f.outputs));
  const worst = f.worstLayers ?? [];
  assert.ok(worst[0], 'worst layers named');
  const warning = r.warnings.find((w) => /^fidelity below the floor/.test(w));
  assert.ok(warning, r.warnings.join('\n'));
  for (const l of worst) assert.ok(warning.includes(l.node), `${l.node} named in: ${warning}`);
  assert.match(warning, /--auto-exclude sqnr:20/);
  // The collapse is real: labelled accuracy of the written model against float's.
  const c = await compareModels(fixture('digits_cnn.onnx'), out, { data: TEST_X, labels: TEST_Y, runs: 2, warmup: 0 });
  assert.ok((c.accuracy.referenceAccuracy ?? 0) > 0.9 && (c.accuracy.candidateAccuracy ?? 1) < 0.5, JSON.stringify(c.accuracy));
  // Keeping the worst layer float (what the warning offers) brings fidelity back up.
  const fixedOut = path.join(dir, 'cnn.fixed.onnx');
  const fixedR = await quantizeFile(fixture('digits_cnn.onnx'), fixedOut, { mode: 'static', calibrationData: calib, fidelityData: TEST_X, excludeNodes: [worst[0].node], speedCheck: false });
  assert.ok(firstOutput(fixedR).sqnr > sqnr);

  // The report (and so the dashboard) shows the same figure, marked below the floor.
  const report = JSON.parse(JSON.stringify(buildReport(c, { quantize: r })));
  const shown = toDashboard(report).models[1]?.quantizeFidelity;
  assert.ok(shown);
  assert.equal(shown.belowFloor, true);
  assert.ok(shown.text.startsWith(`${sqnr.toFixed(1)} dB`), shown.text);
  assert.deepEqual(quantizeFidelityOf(report), shown);

  // --min-sqnr: a WorkError, nothing written.
  const strict = path.join(dir, 'cnn.strict.onnx');
  await assert.rejects(
    quantizeFile(fixture('digits_cnn.onnx'), strict, { mode: 'static', calibrationData: calib, fidelityData: TEST_X, minSqnrDb: 20, speedCheck: false }),
    (e: unknown) => e instanceof WorkError && /below --min-sqnr 20 dB/.test(e.message) && /Nothing was written/.test(e.message),
  );
  assert.equal(fs.existsSync(strict), false);
  assert.ok(!fs.readdirSync(dir).some((n) => n.includes('.tmp-')));
});

test('dynamic and weight-only below the floor name the worst layers of the float graph (the engine rewrote the loaded one in place)', async () => {
  // One planted layer: huge weights that only ever meet zeros stretch its scales until its ordinary weights round to 0.
  const model = writePlantedMlp(path.join(dir, 'planted.onnx'), { width: 32, layers: 4, planted: [2] });
  for (const mode of ['dynamic', 'weight-only'] as const) {
    const r = await quantizeFile(model, path.join(dir, `planted.${mode}.onnx`), { mode, speedCheck: false, ...(mode === 'weight-only' ? { blockSize: 32 } : {}) });
    const { f } = firstOutput(r);
    assert.equal(f.belowFloor, true, `${mode}: ${JSON.stringify(f.outputs)}`);
    assert.equal(f.worstLayers?.[0]?.node, 'planted_2', `${mode}: ${JSON.stringify(f.worstLayers)}`);
    assert.ok(r.warnings.some((w) => /^fidelity below the floor/.test(w) && w.includes('--exclude-nodes planted_2')), r.warnings.join('\n'));
  }
});

const ROOT = path.join(__dirname, '../../..');
const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), ...args], { encoding: 'utf8', cwd: ROOT });

test('CLI: fidelity table and JSON; below the floor a loud warning; --min-sqnr exits 1 and writes nothing', () => {
  const calib = unlikeCalibration(path.join(dir, 'dim_calib_cli.npy'));
  const out = path.join(dir, 'cnn_cli.int8.onnx');
  const args = ['quantize', fixture('digits_cnn.onnx'), '-o', out, '--mode', 'static', '--calibration-data', calib, '--data', TEST_X, '--no-speed-check'];
  let r = cli([...args, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const json = JSON.parse(r.stdout);
  assert.equal(json.fidelity.belowFloor, true);
  assert.equal(json.fidelity.outputs[0].output, 'logits');
  assert.match(r.stderr, /warning: FIDELITY BELOW THE FLOOR .*Worst layers/);

  r = cli([...args, '--force']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /output vs float\s+SQNR\s+cosine\s+arg-max agreement/);
  assert.match(r.stdout, /worst layer/);

  const strict = path.join(dir, 'cnn_cli.strict.onnx');
  r = cli(['quantize', fixture('digits_cnn.onnx'), '-o', strict, '--mode', 'static', '--calibration-data', calib, '--data', TEST_X, '--min-sqnr', '20', '--no-speed-check']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^error: fidelity below --min-sqnr 20 dB/m);
  assert.equal(fs.existsSync(strict), false);

  // A settable floor: the same model above a floor of -10 dB / cosine 0 gives no warning.
  r = cli([...args, '--force', '--fidelity-floor=-10,0', '--json']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).fidelity.belowFloor, false);
  assert.doesNotMatch(r.stderr, /FIDELITY BELOW/);
});

test('a model whose first dim is fixed at 2: fidelity and the per-layer ranking run 2 samples at a time (5 calibration samples: the short last run is dropped)', async () => {
  const rand = seededRandom(11);
  const w = Array.from({ length: 8 * 4 }, () => rand() - 0.5);
  const graph = makeGraph(
    [makeNode('MatMul', ['x', 'w'], ['h'], {}, { name: 'mm' }), makeNode('Softmax', ['h'], ['y'], { axis: -1 }, { name: 'sm' })],
    'fixed_batch',
    [makeValueInfo('x', DataType.FLOAT, [2, 8])],
    [makeValueInfo('y', DataType.FLOAT, [2, 4])],
    [floatTensor('w', [8, 4], w)],
  );
  const model = path.join(dir, 'fixed2.onnx');
  fs.writeFileSync(model, modelToBytes(makeModel(graph, { '': 13 })));
  const calib = path.join(dir, 'fixed2_x.npy');
  const x = Float32Array.from({ length: 5 * 8 }, () => rand() * 4 - 2);
  fs.writeFileSync(calib, encodeNpy({ dtype: 'float32', shape: [5, 8], data: new Uint8Array(x.buffer) }));
  // A floor no int8 model reaches, so that the per-layer ranking runs too.
  const r = await quantizeFile(model, path.join(dir, 'fixed2.int8.onnx'), { mode: 'static', calibrationData: calib, fidelityFloor: { sqnrDb: 200 }, speedCheck: false });
  assert.ok(!r.warnings.some((w) => /fidelity not measured/.test(w)), r.warnings.join('\n'));
  const { f, sqnr } = firstOutput(r);
  assert.equal(f.inputs, 'calibration data');
  assert.ok(sqnr > 10 && sqnr < 200, String(sqnr));
  assert.equal(f.belowFloor, true);
  assert.ok(f.worstLayers && f.worstLayers.length > 0, JSON.stringify(f));
});
