import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadCalibrationData, modelInputs } from '../../../src/core/calibrate/data';
import { collectRanges, type CalibrationTarget } from '../../../src/core/calibrate/run';
import { planStages, weightBytesOf } from '../../../src/core/calibrate/stages';
import { DataType } from '../../../src/core/onnx/dtype';
import { isExternal, loadModel } from '../../../src/core/onnx/model';
import { saveModel } from '../../../src/core/onnx/save';
import { quantizeFile } from '../../../src/core/quantize/index';
import { buildResidualCnn, randomInputs, writeNpy } from '../quantize/static/residualCnn';
import { runModel } from '../quantize/static/helpers';
import { writeModelFile } from '../../fixtures/build/files';
import { tensorByteSize } from '../../../src/core/onnx/tensor';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'calib-stages-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

const built = buildResidualCnn({ channels: [16, 24], blocks: 2, size: 24, seed: 7 });
const SAMPLES = 10;
const calibValues = randomInputs(SAMPLES, built.inputShape, 3);
const calib = writeNpy(path.join(tmp, 'calib.npy'), calibValues, [SAMPLES, ...built.inputShape]);
const inlineFile = writeModelFile(tmp, 'inline.onnx', built.proto);
// The same model with every weight of 1 KiB or more in an external data file.
const externalFile = path.join(tmp, 'external.onnx');
saveModel(loadModel(inlineFile).proto, externalFile, { externalData: 'always' });
const external = loadModel(externalFile, { lazyWeights: true });
const graph = built.proto.graph ?? assert.fail('no graph');
const data = loadCalibrationData(calib, modelInputs(graph));
const targets: CalibrationTarget[] = [{ name: 'input', elemType: DataType.FLOAT }, ...graph.node.map((n) => ({ name: n.output[0] ?? '', elemType: DataType.FLOAT }))];

test('planStages: consecutive nodes under the weight cap; a stage reads what earlier stages pass on', () => {
  const g = external.proto.graph ?? assert.fail('no graph');
  assert.ok(g.initializer.some(isExternal));
  const largest = Math.max(...g.initializer.map(tensorByteSize));
  const stages = planStages(g, largest);
  assert.ok(stages.length > 3, `${stages.length} stages`);
  assert.deepEqual(stages.flatMap((s) => s.nodes), g.node);
  const produced = new Set<string>(g.input.map((i) => i.name));
  for (const s of stages) {
    // Only a node whose own weights pass the cap makes a stage over it.
    assert.ok(s.weightBytes <= largest || s.nodes.length === 1, `${s.weightBytes} > ${largest} in ${s.nodes.length} nodes`);
    for (const i of s.inputs) assert.ok(produced.has(i), `'${i}' read before anything computes it`);
    for (const n of s.nodes) for (const o of n.output) produced.add(o);
  }
  assert.equal(planStages(g, Infinity).length, 1);
  assert.equal(stages.reduce((a, s) => a + s.weightBytes, 0), weightBytesOf(g));
});

test('staged calibration of an external-data model gives the one-session ranges, every method', async () => {
  const cap = 20 * 1024;
  for (const method of ['minmax', 'percentile', 'entropy'] as const) {
    for (const movingAverage of method === 'minmax' ? [false, true] : [false]) {
      const lines: string[] = [];
      const staged = await collectRanges(external.proto, targets, data, { method, movingAverage, batchSize: 4, memoryBudget: Infinity, stageWeightBytes: cap }, { log: (l) => lines.push(l) }, external);
      const whole = await collectRanges(loadModel(inlineFile).proto, targets, data, { method, movingAverage, batchSize: 4, memoryBudget: Infinity });
      assert.ok(staged.slices > 3, lines.join('\n'));
      assert.ok(lines.some((l) => /calibration in \d+ stage\(s\)/.test(l)), lines.join('\n'));
      assert.equal(whole.slices, 1);
      assert.equal(staged.ranges.size, targets.length);
      assert.deepEqual(staged.ranges, whole.ranges, `${method}${movingAverage ? ' moving average' : ''}`);
    }
  }
});

test('static quantize of an external-data model: weights streamed to external data, the same outputs as from the inline model', async () => {
  const opts = { mode: 'static' as const, calibrationData: calib, fidelity: false, speedCheck: false };
  const fromInline = await quantizeFile(inlineFile, path.join(tmp, 'q-inline.onnx'), opts);
  const fromExternal = await quantizeFile(externalFile, path.join(tmp, 'q-external.onnx'), opts);
  assert.equal(fromExternal.quantizedNodes, fromInline.quantizedNodes);
  assert.ok(fromExternal.quantizedNodes > 0);
  const out = loadModel(fromExternal.output);
  assert.ok(fs.existsSync(`${fromExternal.output}.data`), 'external data file of the output');
  assert.ok(out.proto.graph?.initializer.some(isExternal));
  const dims = [SAMPLES, ...built.inputShape];
  const a = await runModel(fs.readFileSync(fromInline.output), calibValues, dims, 'input');
  // An external-data output is run from its file (its data file is found next to it).
  const { createSession, ort } = await import('../../../src/core/runtime/ort');
  const session = await createSession(fromExternal.output, { threads: 1 });
  const b = (await session.run({ input: new (ort().Tensor)('float32', calibValues, dims) }))[session.outputNames[0] ?? '']?.data as Float32Array;
  await session.release();
  assert.deepEqual(Array.from(b), Array.from(a));
});

test('the float model run in stages gives the one-session outputs; validation and fidelity take the staged reference', async () => {
  const { runInStages } = await import('../../../src/core/calibrate/stages');
  const { createSession, ort } = await import('../../../src/core/runtime/ort');
  const { runFloatOnProbe, makeProbe } = await import('../../../src/core/quantize/validate');
  const { quantizationFidelity, DEFAULT_FIDELITY_FLOOR } = await import('../../../src/core/evaluate/fidelity');
  const { loadInputData, modelInputs: specsOf } = await import('../../../src/core/evaluate/data');
  const dims = [SAMPLES, ...built.inputShape];
  const feeds = { input: new (ort().Tensor)('float32', calibValues, dims) };
  const staged = (await runInStages(external.proto, external, [feeds], 20 * 1024))[0] ?? assert.fail('no run');
  const session = await createSession(externalFile, { threads: 1, optimization: 'disabled' });
  const whole = await session.run(feeds);
  await session.release();
  const name = graph.output[0]?.name ?? '';
  const a = staged[name]?.data as Float32Array;
  const b = whole[name]?.data as Float32Array;
  assert.equal(a.length, b.length);
  assert.deepEqual(Array.from(a), Array.from(b));

  const probe = makeProbe(external.proto, calib, undefined);
  const floatStaged = await runFloatOnProbe(externalFile, probe, { model: external, capBytes: 20 * 1024 });
  const floatWhole = await runFloatOnProbe(externalFile, probe);
  assert.equal(floatStaged.problem, undefined);
  const s = floatStaged.outputs?.[name]?.data as Float32Array;
  const w = floatWhole.outputs?.[name]?.data as Float32Array;
  w.forEach((v, i) => assert.ok(Math.abs((s[i] ?? NaN) - v) <= 1e-4 * Math.max(1, Math.abs(v)), `${i}: ${s[i]} vs ${v}`));

  const q = await quantizeFile(externalFile, path.join(tmp, 'q-fid.onnx'), { mode: 'static', calibrationData: calib, fidelity: false, speedCheck: false });
  const data = loadInputData(calib, specsOf(external.proto));
  const run = { reference: external, candidate: q.output, data, origin: 'calibration data' as const, floor: DEFAULT_FIDELITY_FLOOR };
  const viaStages = await quantizationFidelity({ ...run, stageWeightBytes: 20 * 1024 });
  const viaSession = await quantizationFidelity(run);
  const sq = (f: typeof viaStages) => f.outputs[0]?.sqnrDb ?? assert.fail('no SQNR');
  assert.ok(sq(viaSession) > 20, `${sq(viaSession)} dB`);
  assert.ok(Math.abs(sq(viaStages) - sq(viaSession)) < 0.05, `${sq(viaStages)} vs ${sq(viaSession)} dB`);
});
