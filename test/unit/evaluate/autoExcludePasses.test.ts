import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { quantizeWithAutoExclude, firstGuess } from '../../../src/core/evaluate/autoExclude';
import { compareModels } from '../../../src/core/evaluate/compare';
import { writePlantedMlp } from '../../fixtures/build/planted';
import { randomInputs, writeNpy } from '../quantize/static/residualCnn';
import { tempDir } from './helpers';

const dir = tempDir('autoexclude-passes');
const WIDTH = 48;
const LAYERS = 8;
const PLANTED = [1, 3, 5];
const buildPlantedMlp = (file: string) => writePlantedMlp(file, { width: WIDTH, layers: LAYERS, planted: PLANTED });

test('static auto-exclude with 3 planted layers: target met in ≤ 4 quantize passes and 1 calibration, the planted layers float', async () => {
  const model = buildPlantedMlp(path.join(dir, 'planted.onnx'));
  const calib = writeNpy(path.join(dir, 'calib.npy'), randomInputs(64, [WIDTH], 3), [64, WIDTH]);
  const out = path.join(dir, 'planted.int8.onnx');
  const logs: string[] = [];
  const r = await quantizeWithAutoExclude(model, out, { mode: 'static', calibrationData: calib }, 'sqnr:30', { log: (l) => logs.push(l) });
  const s = r.summary;
  assert.equal(s.met, true, logs.join('\n'));
  assert.ok((s.quantizePasses ?? Infinity) <= 4, `${s.quantizePasses} passes\n${logs.join('\n')}`);
  assert.equal(s.calibrations, 1);
  assert.deepEqual(s.excluded.map((e) => e.node).sort(), PLANTED.map((l) => `planted_${l}`));
  // The points tried: the fully quantized model first (missing the target), one point per pass.
  const points = s.points ?? assert.fail('points');
  assert.equal(points.length, s.quantizePasses);
  assert.equal(points[0]?.excludedCount, 0);
  assert.equal(points[0]?.met, false);
  assert.ok(points.every((p) => p.outputBytes > 0 && p.latencyMs > 0 && p.excluded.length === p.excludedCount));
  assert.ok(points.some((p) => p.met && p.excludedCount === 3));
  assert.ok(points.filter((p) => p.excludedCount < 3).every((p) => !p.met), 'fewer than the 3 planted layers never meets the target');
  // The file written is the one measured: checked independently against the float model in ORT.
  const check = await compareModels(model, out, { data: calib, runs: 1, warmup: 0 });
  assert.ok(check.accuracy.sqnrDb === null || check.accuracy.sqnrDb >= 30, `output SQNR ${check.accuracy.sqnrDb}`);
  assert.ok(r.quantize.quantizedNodes >= LAYERS - PLANTED.length);
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.includes('.auto-')), [], 'no work folder left behind');
});

test('a target no set meets: the best model tried is written and the result warns with its figure', async () => {
  const model = buildPlantedMlp(path.join(dir, 'planted-unmet.onnx'));
  const calib = writeNpy(path.join(dir, 'calib-unmet.npy'), randomInputs(64, [WIDTH], 3), [64, WIDTH]);
  const out = path.join(dir, 'planted-unmet.int8.onnx');
  // 200 dB with at most 2 of the 8 layers kept float: no quantized model reaches it.
  const r = await quantizeWithAutoExclude(model, out, { mode: 'static', calibrationData: calib }, 'sqnr:200', {}, { maxSteps: 2 });
  assert.equal(r.summary.met, false);
  const warning = r.quantize.warnings.find((w) => w.startsWith('fidelity below the auto-exclude target sqnr:200'));
  assert.ok(warning, r.quantize.warnings.join('\n'));
  assert.match(warning, new RegExp(`reads ${(r.summary.finalSqnrDb ?? NaN).toFixed(1)} dB`));
  assert.ok(fs.existsSync(out));
});

test('firstGuess: the layers whose own noise, scaled to the measured output noise, must go for the target', () => {
  const layer = (localSqnrDb: number) => ({ tensor: 't', node: 'n', opType: 'MatMul', candidateTensor: 't', sqnrDb: 0, identical: false, cosine: 1, maxAbsError: 0, localSqnrDb });
  const full = { samples: 1, agreement: 1, cosine: 1, sqnrDb: 0, identical: false, maxAbsError: 0, output: 'y', inputs: 'data' as const };
  // Three layers at 0 dB dominate; removing them leaves the 40 dB ones (output then ≈ 35 dB).
  const ranking = [0, 0, 0, 40, 40, 40].map(layer);
  assert.equal(firstGuess({ kind: 'sqnr', db: 30, text: 'sqnr:30' }, full, ranking), 3);
  assert.equal(firstGuess({ kind: 'acc-drop', points: 1, text: 'acc-drop:1' }, full, ranking), 1);
});
