import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadCalibrationData, modelInputs } from '../../../src/core/calibrate/data';
import { collectRanges, planSlices, type CalibrationTarget } from '../../../src/core/calibrate/run';
import { DataType } from '../../../src/core/onnx/dtype';
import { loadModel } from '../../../src/core/onnx/model';
import { quantizeFile } from '../../../src/core/quantize/index';
import { parseQuantizeArgs } from '../../../src/cli/commands/quantize';
import { buildResidualCnn, randomInputs, writeNpy } from '../quantize/static/residualCnn';
import { runModel } from '../quantize/static/helpers';
import { writeModelFile } from '../../fixtures/build/files';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'calib-budget-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

// 32×48×48 floats = 288 KiB per tensor and sample, ~20 tensors: several MiB per sample.
const built = buildResidualCnn({ channels: [32, 48], blocks: 2, size: 48, seed: 5 });
const SAMPLES = 12;
const calib = writeNpy(path.join(tmp, 'calib.npy'), randomInputs(SAMPLES, built.inputShape, 11), [SAMPLES, ...built.inputShape]);
const modelFile = writeModelFile(tmp, 'cnn.onnx', built.proto);
const model = loadModel(modelFile);
const graph = built.proto.graph ?? assert.fail('no graph');
const data = loadCalibrationData(calib, modelInputs(graph));
/** Every float activation: the input and each node's output. */
const targets: CalibrationTarget[] = [{ name: 'input', elemType: DataType.FLOAT }, ...graph.node.map((n) => ({ name: n.output[0] ?? '', elemType: DataType.FLOAT }))];
const BUDGET = 6 * 2 ** 20;

test('planSlices packs tensors in order under the cap; a tensor over the cap is a slice alone', () => {
  const t = (name: string): CalibrationTarget => ({ name });
  const bytes = new Map([['a', 4], ['b', 4], ['c', 10], ['d', 1], ['e', 1]]);
  const slices = planSlices(['a', 'b', 'c', 'd', 'e'].map(t), bytes, 8);
  assert.deepEqual(slices.map((s) => s.map((x) => x.name)), [['a', 'b'], ['c'], ['d', 'e']]);
  assert.equal(planSlices(['a', 'b'].map(t), bytes, Infinity).length, 1);
});

test('a small budget splits the graph into slices; every method gives the unbounded run\'s ranges at the same batch', async () => {
  for (const method of ['minmax', 'percentile', 'entropy'] as const) {
    const lines: string[] = [];
    const bounded = await collectRanges(model.proto, targets, data, { method, batchSize: 1, memoryBudget: BUDGET }, { log: (l) => lines.push(l) });
    const unbounded = await collectRanges(model.proto, targets, data, { method, batchSize: 1, memoryBudget: Infinity });
    if (method === 'minmax') {
      // MinMax reduces every float tensor in the graph: nothing is exposed, one pass.
      assert.equal(bounded.reducedInGraph, targets.length);
      assert.equal(bounded.slices, 1);
    } else assert.ok(bounded.slices > 1, `${method}: ${bounded.slices} slice(s)\n${lines.join('\n')}`);
    assert.equal(unbounded.slices, 1);
    assert.equal(bounded.ranges.size, targets.length);
    // Slices only change which session exposes a tensor, not the batches it sees: identical statistics.
    assert.deepEqual(bounded.ranges, unbounded.ranges, method);
  }
});

test('MinMax ranges are identical whatever batch the budget chose; percentile within 1 % of the range', async () => {
  for (const method of ['minmax', 'percentile'] as const) {
    const bounded = await collectRanges(model.proto, targets, data, { method, batchSize: 16, memoryBudget: BUDGET });
    const unbounded = await collectRanges(model.proto, targets, data, { method, batchSize: 16, memoryBudget: Infinity });
    assert.equal(unbounded.batchSize, SAMPLES);
    for (const { name } of targets) {
      const a = bounded.ranges.get(name) ?? assert.fail(name);
      const b = unbounded.ranges.get(name) ?? assert.fail(name);
      if (method === 'minmax') assert.deepEqual(a, b, name);
      else {
        const tolerance = 0.01 * (b.max - b.min);
        assert.ok(Math.abs(a.min - b.min) <= tolerance && Math.abs(a.max - b.max) <= tolerance, `${name}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
      }
    }
  }
});

test('--calibration-batch and --memory-budget reach static quantization: same model as unbounded, close to float in ORT', async () => {
  const args = parseQuantizeArgs([modelFile, '-o', path.join(tmp, 'small.onnx'), '--mode', 'static', '--calibration-data', calib, '--calibration-batch', '4', '--memory-budget', '16']);
  assert.equal(args.options.calibrationBatch, 4);
  assert.equal(args.options.memoryBudget, 16);
  const logs: string[] = [];
  const small = await quantizeFile(args.input, args.output, { ...args.options, fidelity: false, speedCheck: false }, { log: (l) => logs.push(l) });
  assert.equal(small.effectiveOptions.memoryBudget, 16);
  assert.ok(logs.some((l) => /calibration footprint: .*\(budget 16\.0 MiB\)/.test(l)), logs.join('\n'));
  const big = await quantizeFile(modelFile, path.join(tmp, 'big.onnx'), { mode: 'static', calibrationData: calib, calibrationBatch: 4, memoryBudget: 1048576, fidelity: false, speedCheck: false });
  assert.ok(small.quantizedNodes > 0 && small.quantizedNodes === big.quantizedNodes);
  // MinMax ranges do not depend on the batching: the two outputs compute the same values.
  const x = randomInputs(4, built.inputShape, 23);
  const dims = [4, ...built.inputShape];
  const ys = await runModel(fs.readFileSync(args.output), x, dims, 'input');
  const yb = await runModel(fs.readFileSync(path.join(tmp, 'big.onnx')), x, dims, 'input');
  const yf = await runModel(fs.readFileSync(modelFile), x, dims, 'input');
  assert.deepEqual(ys, yb);
  let err = 0;
  let sig = 0;
  yf.forEach((f, i) => {
    err += ((ys[i] ?? 0) - f) ** 2;
    sig += f ** 2;
  });
  assert.ok(10 * Math.log10(sig / err) > 20, `SQNR ${(10 * Math.log10(sig / err)).toFixed(1)} dB`);
  assert.throws(() => parseQuantizeArgs([modelFile, '-o', 'x.onnx', '--memory-budget', '4']), /memory-budget/);
});

test('MinMax reduced in the graph gives exactly the extremes of the exposed tensors, moving average included', async () => {
  const untyped = targets.map((t) => ({ name: t.name })); // no element type: exposed, reduced in JS
  for (const movingAverage of [false, true]) {
    const inGraph = await collectRanges(model.proto, targets, data, { method: 'minmax', movingAverage, batchSize: 4, memoryBudget: Infinity });
    const exposed = await collectRanges(model.proto, untyped, data, { method: 'minmax', movingAverage, batchSize: 4, memoryBudget: Infinity });
    assert.equal(inGraph.reducedInGraph, targets.length);
    assert.equal(exposed.reducedInGraph, 0);
    assert.deepEqual(inGraph.ranges, exposed.ranges);
  }
});
