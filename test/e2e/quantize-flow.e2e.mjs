// The main flow as a person does it: Command Palette → "ONNX Quantizer: Quantize…" on a sample →
// progress notification → the output and its report appear in the ONNX Quantizer explorer →
// the dashboard shows the size ratio, speedup and agreement of the JSON report → switching the
// colour theme changes the dashboard's colours.
// Screenshots: explorer-dark/-light.png, dashboard-dark/-light.png, quantize-done.png.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  computedStyle, expectNotification, findWebviewFrame, recordNotifications, testIdText, waitUntil,
} from '../../scripts/e2e/lib.mjs';
import { quantizeFromPalette, setColorTheme, startSession } from '../../scripts/e2e/session.mjs';

const MODEL = 'digits_mlp.onnx';
const OUTPUT = 'digits_mlp.int8.onnx';
const REPORT = 'digits_mlp.int8.quant-report.json';

describe('quantize flow (UI)', () => {
  let broken = false;
  let s, seenToasts, dashboard;

  before(async () => {
    s = await startSession({
      name: 'quantize-flow',
      // Compare on the real test set so agreement and accuracy are meaningful.
      settings: { 'onnxQuantizer.compare.data': 'digits_test_x.npy', 'onnxQuantizer.compare.labels': 'digits_test_y.npy', 'onnxQuantizer.compare.runs': 20 },
    });
    seenToasts = await recordNotifications(s.page);
  });
  after(async () => { await s?.close(); });

  it('Quantize… from the Command Palette shows progress and writes the output', async (t) => {
    if (broken) return t.skip('an earlier step failed');
    const { page } = s;
    try {
      await quantizeFromPalette(page, MODEL, OUTPUT);
      const done = await expectNotification(page, `Quantized ${MODEL} → ${OUTPUT}`, { timeout: 60000 });
      assert.ok((await seenToasts()).some((t) => t.includes('Quantizing digits_mlp')), `no progress notification among ${JSON.stringify(await seenToasts())}`);
      assert.ok(fs.existsSync(path.join(s.workspace, OUTPUT)), `${OUTPUT} not written`);
      await s.shot('quantize-done');
      // Ask for the comparison from the notification (writes the report, opens the dashboard).
      await done.locator('.monaco-button', { hasText: 'Compare' }).click();
    } catch (e) { s.markFailed(); broken = true; throw e; }
  });

  it('the dashboard shows the figures of the JSON report', async (t) => {
    if (broken) return t.skip('an earlier step failed');
    try {
      dashboard = await findWebviewFrame(s.page, '[data-testid="summary-table"]', { timeout: 120000 });
      const reportPath = path.join(s.workspace, REPORT);
      await waitUntil(`${REPORT} to be written`, () => fs.existsSync(reportPath), { timeout: 60000 });
      const report = JSON.parse(fs.readFileSync(reportPath, 'utf8'));
      // Exactly what the report says, at the precision the dashboard shows.
      assert.equal(await testIdText(dashboard, 'size-ratio'), `${report.size.ratio.toFixed(2)}×`);
      assert.equal(await testIdText(dashboard, 'speedup'), `${report.latency.speedup.toFixed(2)}×`);
      assert.equal(await testIdText(dashboard, 'agreement'), `${(report.accuracy.agreement * 100).toFixed(2)} %`);
      assert.ok(report.accuracy.agreement >= 0.95, `agreement only ${report.accuracy.agreement}`);
      await s.shot('dashboard-dark');
    } catch (e) { s.markFailed(); broken = true; throw e; }
  });

  it('the output and its report appear in the ONNX Quantizer explorer', async (t) => {
    if (broken) return t.skip('an earlier step failed');
    const { page } = s;
    try {
      await page.locator('.activitybar .action-item a[aria-label^="ONNX Quantizer"]').click();
      const rows = page.locator('.pane-body .monaco-list-row');
      const model = rows.filter({ hasText: MODEL }).first();
      await model.waitFor({ timeout: 20000 });
      if ((await model.getAttribute('aria-expanded')) !== 'true') await model.locator('.monaco-tl-twistie').click();
      const derived = rows.filter({ hasText: 'Derived files' }).first();
      await derived.waitFor({ timeout: 30000 });
      if ((await derived.getAttribute('aria-expanded')) !== 'true') await derived.locator('.monaco-tl-twistie').click();
      await rows.filter({ hasText: OUTPUT }).first().waitFor({ timeout: 30000 });
      await rows.filter({ hasText: REPORT }).first().waitFor({ timeout: 30000 });
      await s.shot('explorer-dark');
    } catch (e) { s.markFailed(); broken = true; throw e; }
  });

  it('switching to a light theme changes the dashboard colours', async (t) => {
    if (broken) return t.skip('an earlier step failed');
    const { page } = s;
    try {
      const dark = await computedStyle(dashboard, 'body', ['background-color', 'color']);
      await setColorTheme(page, 'Light Modern');
      await waitUntil('the dashboard webview to switch to the light theme', async () => (await dashboard.locator('body.vscode-light').count()) > 0, { timeout: 15000 });
      const light = await computedStyle(dashboard, 'body', ['background-color', 'color']);
      assert.notDeepEqual(light, dark, 'dashboard colours did not change with the theme');
      await s.shot('explorer-light');
      // Bring the dashboard to the front for its own light screenshot.
      await page.locator('.tabs-container .tab', { hasText: /^Runs: |Report|Quantization report/ }).first().click();
      await s.shot('dashboard-light');
    } catch (e) { s.markFailed(); broken = true; throw e; }
  });
});
