import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { QuantizeOptions } from '../../../src/core/quantize';
import { buildRunHistory, excludable, readRunHistory, runDelta, runOfReport, WORSE_TOLERANCE, type Run } from '../../../src/core/report/runs';
import { nextRunOutput } from '../../../src/core/report/runOutput';
import type { QuantReport } from '../../../src/core/report/types';
import { defined } from '../../defined';
import { FIXTURES, quantizeAndReport, STATIC } from './runReports';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oq-runs-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
for (const f of ['digits_cnn.onnx', 'digits_mlp.onnx']) fs.copyFileSync(path.join(FIXTURES, f), path.join(dir, f));
const CNN = path.join(dir, 'digits_cnn.onnx');
const MLP = path.join(dir, 'digits_mlp.onnx');
const run = (model: string, output: string, options: QuantizeOptions, withData = true): Promise<QuantReport> => quantizeAndReport(model, path.join(dir, output), options, withData);
const reports: QuantReport[] = [];

test('three runs of digits_cnn (none, one, two layers kept float) read back as a history with deltas', async () => {
  reports.push(await run(CNN, 'digits_cnn.int8.onnx', STATIC));
  reports.push(await run(CNN, 'digits_cnn.int8-2.onnx', { ...STATIC, excludeNodes: ['/res2/res2.0/Conv'] }));
  reports.push(await run(CNN, 'digits_cnn.int8-3.onnx', { ...STATIC, excludeNodes: ['/res2/res2.0/Conv', '/down/down.0/Conv'] }));
  // Another model's run in the same folder is not part of this history.
  await run(MLP, 'digits_mlp.int8.onnx', { mode: 'dynamic' });

  const history = readRunHistory(CNN);
  assert.equal(history.runs.length, 3);
  assert.deepEqual(history.runs.map((r) => path.basename(r.model)), ['digits_cnn.int8.onnx', 'digits_cnn.int8-2.onnx', 'digits_cnn.int8-3.onnx']);
  assert.deepEqual(history.runs.map((r) => r.number), [1, 2, 3]);
  assert.deepEqual(history.runs.map((r) => r.excluded), [[], ['/res2/res2.0/Conv'], ['/down/down.0/Conv', '/res2/res2.0/Conv']]);
  assert.ok(history.runs.every((r) => r.mode === 'static' && r.modelExists && r.data.inputs === 'data' && r.data.samples === 360));
  assert.equal(history.runs[0]?.delta, undefined);

  for (let i = 1; i < 3; i++) {
    const [before, after] = [defined(reports[i - 1], 'report'), defined(reports[i], 'report')];
    const d = defined(history.runs[i]?.delta, `delta of run ${i + 1}`);
    const [sqnrBefore, sqnrAfter] = [defined(before.accuracy.sqnrDb, 'SQNR'), defined(after.accuracy.sqnrDb, 'SQNR')];
    const [accBefore, accAfter] = [defined(before.accuracy.candidateAccuracy, 'accuracy'), defined(after.accuracy.candidateAccuracy, 'accuracy')];
    // Deltas are the later report's figures minus the earlier one's.
    assert.equal(d.sizeRatio, after.size.ratio - before.size.ratio);
    assert.equal(d.sqnrDb, sqnrAfter - sqnrBefore);
    assert.equal(d.speedup, after.latency.speedup - before.latency.speedup);
    assert.ok(d.sameData);
    // Each exclusion keeps a Conv's weights float: the model grew by far more than 1 %, and is flagged so.
    assert.ok(after.size.candidateBytes > before.size.candidateBytes * 1.2, `${after.size.candidateBytes} vs ${before.size.candidateBytes}`);
    assert.ok(d.worse.includes('size'));
    // Fidelity is flagged exactly when SQNR fell beyond the tolerance or accuracy lost a sample.
    const accuracyDrop = (accBefore - accAfter) * 360;
    const agreementDrop = (before.accuracy.agreement - after.accuracy.agreement) * 360;
    const cosineDrop = before.accuracy.cosine - after.accuracy.cosine;
    assert.equal(d.worse.includes('fidelity'), sqnrAfter - sqnrBefore < -WORSE_TOLERANCE.sqnrDb || accuracyDrop >= 1 || agreementDrop >= 1 || cosineDrop > WORSE_TOLERANCE.cosine);
  }
  const third = defined(history.runs[2]?.delta, 'delta of run 3');
  assert.deepEqual(third.newlyExcluded, ['/down/down.0/Conv']);
  assert.deepEqual(third.noLongerExcluded, []);
  assert.deepEqual(readRunHistory(MLP).runs.map((r) => path.basename(r.model)), ['digits_mlp.int8.onnx']);
});

test('a run compared on other data is not flagged on fidelity (its figures do not compare)', async () => {
  const generated = await run(CNN, 'digits_cnn.int8-4.onnx', STATIC, false);
  const history = readRunHistory(CNN);
  const last = defined(history.runs.at(-1), 'last run');
  const delta = defined(last.delta, 'its delta');
  assert.equal(path.basename(last.model), 'digits_cnn.int8-4.onnx');
  assert.equal(last.data.inputs, 'generated');
  assert.equal(delta.sameData, false);
  assert.ok(!delta.worse.includes('fidelity'));
  assert.equal(last.metrics.sqnrDb, generated.accuracy.sqnrDb);
});

test('a removed report leaves the history; a missing model is marked', () => {
  fs.rmSync(path.join(dir, 'digits_cnn.int8-4.quant-report.json'));
  fs.rmSync(path.join(dir, 'digits_cnn.int8-3.onnx'));
  const history = readRunHistory(CNN);
  assert.equal(history.runs.length, 3);
  assert.deepEqual(history.runs.map((r) => r.modelExists), [true, true, false]);
});

const base = (over: Partial<Run['metrics']>, data: Run['data'] = { inputs: 'data', samples: 100, file: 'test_x.npy' }, excluded: string[] = []): Omit<Run, 'number' | 'delta'> => ({
  reportFile: 'r.json',
  model: 'm.onnx',
  modelExists: true,
  createdMs: 0,
  mode: 'static',
  excluded,
  skipped: [],
  options: {},
  data,
  metrics: { candidateBytes: 1000, sizeRatio: 4, sqnrDb: 40, identical: false, cosine: 0.9999, agreement: 1, accuracy: 0.99, referenceAccuracy: 0.99, latencyP50Ms: 1, speedup: 2, latencyNoise: 0, ...over },
});

test('worse flags: each dimension past its tolerance, and only then', () => {
  const a = base({});
  assert.deepEqual(runDelta(a, base({ candidateBytes: 1005, sqnrDb: 39.95, speedup: 1.85 })).worse, [], 'within the tolerances');
  assert.deepEqual(runDelta(a, base({ candidateBytes: 1100 })).worse, ['size']);
  assert.deepEqual(runDelta(a, base({ sqnrDb: 39.5 })).worse, ['fidelity']);
  assert.deepEqual(runDelta(a, base({ accuracy: 0.98 })).worse, ['fidelity'], 'one sample of 100 lost');
  assert.deepEqual(runDelta(a, base({ speedup: 1.5 })).worse, ['speed']);
  assert.deepEqual(runDelta(a, base({ speedup: 1.5, latencyNoise: 0.3 })).worse, [], 'within the timing noise');
  assert.deepEqual(runDelta(a, base({ sqnrDb: null, identical: true })).worse, [], 'identical outputs are no loss');
  assert.deepEqual(runDelta(base({ sqnrDb: null, identical: true }), a).worse, ['fidelity']);
  assert.deepEqual(runDelta(a, base({ sqnrDb: 30 }, { inputs: 'generated', samples: 64, file: null })).worse, [], 'other data');
  assert.deepEqual(runDelta(a, base({ sqnrDb: 30 }, { inputs: 'data', samples: 100, file: 'other_x.npy' })).worse, [], 'another file of as many samples');
  const h = buildRunHistory('m.onnx', [{ ...base({}), createdMs: 5, reportFile: 'b' }, { ...base({ sqnrDb: 30 }), createdMs: 1, reportFile: 'a' }]);
  assert.deepEqual(h.runs.map((r) => r.reportFile), ['a', 'b'], 'oldest first');
  assert.equal(h.runs[1]?.delta?.sqnrDb, 10);
});

test('excludable: only nodes the run quantized, not those it kept float or skipped', () => {
  const dynamic = { mode: 'dynamic', excluded: ['/fc2/Gemm'], skipped: ['/emb/Gather'], options: {} };
  assert.equal(excludable(dynamic, { node: '/fc1/Gemm', opType: 'Gemm' }), true);
  assert.equal(excludable(dynamic, { node: '/fc2/Gemm', opType: 'Gemm' }), false, 'already float');
  assert.equal(excludable(dynamic, { node: '/emb/Gather', opType: 'Gather' }), false, 'skipped');
  assert.equal(excludable(dynamic, { node: '/Flatten', opType: 'Flatten' }), false);
  assert.equal(excludable(dynamic, { node: '/pool/GlobalAveragePool', opType: 'GlobalAveragePool' }), false);
  assert.equal(excludable(dynamic, { node: '/c/Conv', opType: 'Conv' }), false, 'Conv only on request');
  assert.equal(excludable({ ...dynamic, options: { quantizeConv: true } }, { node: '/c/Conv', opType: 'Conv' }), true);
  const stat = { mode: 'static', excluded: [], skipped: [], options: {} };
  assert.equal(excludable(stat, { node: '/c/Conv', opType: 'Conv' }), true);
  assert.equal(excludable(stat, { node: '/pool', opType: 'GlobalAveragePool' }), true);
  assert.equal(excludable(stat, { node: '/Flatten', opType: 'Flatten' }), false, 'follows its neighbours');
  assert.equal(excludable(stat, { node: '/Relu', opType: 'Relu' }), false, 'folded');
  assert.equal(excludable(stat, { node: '', opType: 'Conv' }), false, 'no name to exclude by');
  // The real runs: every layer the first static run ranked that it can exclude is a compute op.
  const first = runOfReport(reports[0], 'x', 0);
  const offered = defined(reports[0]?.layers, 'per-layer errors').filter((l) => excludable(first, l)).map((l) => l.opType);
  assert.ok(offered.length > 0 && offered.every((op) => ['Conv', 'Gemm', 'Add', 'GlobalAveragePool'].includes(op)), offered.join());
});

test('nextRunOutput: the first free run number, always a derived output of the float model', () => {
  // int8-2 exists; int8-3's model was removed but its report stays; int8-4's report was removed but its model stays.
  assert.equal(nextRunOutput(CNN, path.join(dir, 'digits_cnn.int8.onnx'), ''), path.join(dir, 'digits_cnn.int8-5.onnx'));
  assert.equal(nextRunOutput(CNN, path.join(dir, 'digits_cnn.int8-2.onnx'), ''), path.join(dir, 'digits_cnn.int8-5.onnx'));
  fs.rmSync(path.join(dir, 'digits_cnn.int8-4.onnx'));
  assert.equal(nextRunOutput(CNN, path.join(dir, 'digits_cnn.int8-2.onnx'), ''), path.join(dir, 'digits_cnn.int8-4.onnx'));
  // Another source model, another folder, or the float model itself: numbered after the fallback.
  for (const previous of [MLP, path.join(os.tmpdir(), 'digits_cnn.int8.onnx'), CNN]) {
    assert.equal(nextRunOutput(CNN, previous, path.join(dir, 'digits_cnn.fp16.onnx')), path.join(dir, 'digits_cnn.fp16-2.onnx'));
  }
  assert.equal(nextRunOutput(CNN, MLP, MLP), path.join(dir, 'digits_cnn.run-2.onnx'));
});
