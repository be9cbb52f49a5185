// The dashboard as a run history: three real static runs of digits_cnn (none, one, two Convs kept
// float) read back from their report files by the host logic (runColumns.ts) and drawn by the
// real webview bundle in headless Chromium: a column per run with its delta against the one
// before, a warning on the run that got worse, Remove run, multi-select exclusion, and no
// Exclude on layers the run kept float or never quantized.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Browser } from 'playwright-core';
import { buildWebviews, launch, openWebview, postedMatching } from './browser';
import { runsView } from '../../../src/extension/dashboard/runColumns';
import { readRunSources } from '../../../src/core/report/runs';
import { isDashboardToHostMessage, isHostToDashboardMessage, type DashboardDto } from '../../../src/shared/webviewMessages';
import type { QuantReport } from '../../../src/core/report/types';
import { FIXTURES, quantizeAndReport, STATIC } from '../report/runReports';
import { defined } from '../../defined';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oq-runs-view-'));
const CNN = path.join(dir, 'digits_cnn.onnx');
const FIRST = '/res2/res2.0/Conv';
const SECOND = '/down/down.0/Conv';
let browser: Browser;
let bundles: string;
const reports: QuantReport[] = [];
let dto: DashboardDto;

before(async () => {
  fs.copyFileSync(path.join(FIXTURES, 'digits_cnn.onnx'), CNN);
  [bundles, browser] = await Promise.all([buildWebviews(), launch()]);
  reports.push(await quantizeAndReport(CNN, path.join(dir, 'digits_cnn.int8.onnx'), STATIC));
  reports.push(await quantizeAndReport(CNN, path.join(dir, 'digits_cnn.int8-2.onnx'), { ...STATIC, excludeNodes: [FIRST] }));
  reports.push(await quantizeAndReport(CNN, path.join(dir, 'digits_cnn.int8-3.onnx'), { ...STATIC, excludeNodes: [FIRST, SECOND] }));
  dto = runsView(CNN, readRunSources(CNN)).dto;
});
after(async () => {
  await browser?.close();
  if (bundles) fs.rmSync(bundles, { recursive: true, force: true });
  fs.rmSync(dir, { recursive: true, force: true });
});

test('host: one column per run, oldest first, with deltas, float layers and what can still be excluded', () => {
  assert.ok(isHostToDashboardMessage({ v: 1, type: 'report', report: dto, persist: {} }), 'the DTO passes the webview validator');
  assert.equal(dto.title, 'Runs: digits_cnn.onnx');
  assert.deepEqual(dto.models.map((m) => m.label), ['digits_cnn.onnx (float)', 'Run 1: digits_cnn.int8.onnx (static)', 'Run 2: digits_cnn.int8-2.onnx (static)', 'Run 3: digits_cnn.int8-3.onnx (static)']);
  const [, one, two, three] = dto.models;
  assert.equal(one?.run?.delta, null);
  assert.deepEqual(two?.run?.excluded, [FIRST]);
  assert.equal(two?.run?.delta?.sizeRatio, defined(reports[1], 'run 2').size.ratio - defined(reports[0], 'run 1').size.ratio);
  assert.ok(two?.run?.delta?.worse.includes('size'), 'a Conv kept float made the model larger');
  const layers = defined(three, 'run 3').layers;
  const byNode = (node: string) => defined(layers.find((l) => l.node === node), node);
  for (const node of [FIRST, SECOND]) assert.deepEqual([byNode(node).excluded, byNode(node).excludable], [true, false], node);
  assert.equal(byNode('/Flatten').excludable, false, 'static mode never quantizes Flatten');
  assert.equal(byNode('/res1/res1.0/Conv').excludable, true);
});

test('webview: runs as columns with deltas, a warning on the worse run, multi-select exclusion, Remove run', async () => {
  const view = await openWebview(browser, bundles, 'dashboard', async (m, v) => {
    if (!isDashboardToHostMessage(m)) throw new Error(`malformed: ${JSON.stringify(m)}`);
    if (m.type === 'ready') await v.send({ v: 1, type: 'report', report: dto, persist: {} });
  });
  const { page } = view;
  await page.getByTestId('summary-table').waitFor();
  assert.equal(await page.getByTestId('run-header').count(), 3);
  // The size-ratio delta of runs 2 and 3, as the reports' own figures give it.
  const ratioDelta = (i: number): number => defined(reports[i], 'run').size.ratio - defined(reports[i - 1], 'run').size.ratio;
  const deltas = await page.getByTestId('delta-size-ratio').allTextContents();
  assert.deepEqual(deltas, [1, 2].map((i) => `−${Math.abs(ratioDelta(i)).toFixed(2)}×`));
  assert.equal(await page.locator('[data-testid=delta-size-ratio].worse').count(), 2);
  // Run 2 is larger than run 1: its column warns, naming the run it is measured against.
  const warning = page.locator('[data-testid=run-change][data-model="2"] [data-testid=run-warning]');
  assert.match(defined(await warning.textContent(), 'warning'), /larger.* than run 1/);
  assert.equal(await page.locator('[data-testid=run-change][data-model="3"]').locator('.added').allTextContents().then((t) => t.join()), `+ ${SECOND}`);
  assert.equal(await page.locator('[data-testid=run-excluded][data-model="3"]').textContent(), '2 layers');

  // The newest run's layers are open; kept-float and never-quantized layers offer no Exclude.
  const section = page.locator('[data-testid=per-layer][data-model="3"]');
  assert.equal(await section.getAttribute('open'), '');
  const row = (node: string) => section.locator(`[data-testid=layer-error-row][data-node="${node}"]`);
  for (const node of [FIRST, SECOND]) {
    assert.equal(await row(node).getByTestId('btn-exclude').count(), 0, node);
    assert.equal(await row(node).getByTestId('layer-kept-float').count(), 1, node);
  }
  assert.equal(await row('/Flatten').getByTestId('btn-exclude').count(), 0);
  assert.equal(await row('/Flatten').getByTestId('layer-select').count(), 0);
  // Bars draw the figure the list is ranked by: a layer without its own added error has none.
  const addRow = row('/Add');
  const addLocal = defined(reports[2]?.layers?.find((l) => l.node === '/Add'), '/Add').localSqnrDb;
  assert.equal(await addRow.locator('rect.bar').count(), addLocal === null ? 0 : 1);

  const picked = ['/res1/res1.0/Conv', '/fc/Gemm'];
  assert.equal(await section.getByTestId('btn-exclude-selected').getAttribute('disabled'), '');
  for (const node of picked) await row(node).getByTestId('layer-select').check();
  assert.equal(await section.getByTestId('btn-exclude-selected').textContent(), 'Exclude 2 selected and re-quantize');
  // The host sends the history again (a report changed beside the model): the ticks stay.
  await view.send({ v: 1, type: 'report', report: dto, persist: {} });
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=layer-select]:checked').length === 2);
  assert.equal(await section.getByTestId('btn-exclude-selected').textContent(), 'Exclude 2 selected and re-quantize');
  await section.getByTestId('btn-exclude-selected').click();
  await page.locator('[data-testid=run-header][data-model="2"]').getByTestId('btn-remove-run').click();
  const sent = await postedMatching(view, (m) => m.type !== 'ready', 2);
  assert.deepEqual(sent, [
    { v: 1, type: 'excludeNodes', model: 3, nodes: picked },
    { v: 1, type: 'removeRun', model: 2 },
  ]);
  assert.deepEqual(await view.problems(), []);
  await page.close();
});
