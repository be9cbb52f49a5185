/**
 * A deterministic sample of the backend sweep (every 10th ONNX backend test model, plus all of
 * pytorch-converted and simple), one test per model: quantized in dynamic mode and in static mode
 * (the test's inputs as calibration data), each written model run in ONNX Runtime on the test's
 * inputs against float. `npm run sweep` runs them all.
 *
 * What fails a test (the gate): a crash (an exception that is not one of our stated errors, or a
 * timeout), a wrong output (the written model fails in ONNX Runtime, changes shape or type, falls
 * below 20 dB of float, or changes although nothing was quantized), and, in a mode where the
 * quantizer converts old opsets, a refusal for the model's opset alone. Whether it converts is
 * found by behaviour, not by a list of models: an opset-9 MatMul probe is quantized in each mode
 * before the sweep (summary.ts convertsOldOpsets). Other refusals are reported, not failed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { listBackendModels } from './backendData';
import type { Outcome, SweepMode } from './outcome';
import { sweepModel } from './sweepModel';
import { convertsOldOpsets, formatText, gateFailures, sampleModels, summarize, type Gate } from './summary';

const models = sampleModels(listBackendModels());
const modes: SweepMode[] = ['dynamic', 'static'];
const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'oq-sweep-sample-'));
const gate: Gate = { opset: { dynamic: false, static: false } };
const outcomes: Outcome[] = [];

before(async () => {
  for (const mode of modes) gate.opset[mode] = await convertsOldOpsets(mode, tempDir);
});

after(() => {
  fs.rmSync(tempDir, { recursive: true, force: true });
  const summary = summarize(outcomes, models.length);
  console.log(`\n${formatText(summary, gateFailures(outcomes, gate), gate)}\n`);
});

test('the backend test models are installed (libonnx-testdata, from the test setup)', () => {
  assert.ok(models.length >= 150, `only ${models.length} sample models found: apt-get install libonnx-testdata`);
});

for (const m of models) {
  test(`backend ${m.id}: no crash, no wrong output${''}`, async () => {
    const results = await sweepModel(m, { modes, timeoutMs: 60_000, tempDir });
    outcomes.push(...results);
    const failed = gateFailures(results, gate);
    assert.deepEqual(
      failed.map((o) => `${o.mode} ${o.verdict}: ${o.cls}${o.detail ? ` (${o.detail})` : ''}`),
      [],
      results.map((o) => `${o.mode}: ${o.verdict}${o.cls ? ` ${o.cls}` : ''}`).join('; '),
    );
  });
}
