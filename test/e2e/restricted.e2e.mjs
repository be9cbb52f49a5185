// Restricted Mode in the UI: with workspace trust enabled and the folder untrusted, the Command
// Palette offers no way to run a model (the isWorkspaceTrusted when-clauses really evaluate),
// while viewing commands stay available and the model editor still opens, with its Quantize /
// Benchmark / Compare buttons disabled and Show as Text enabled.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { findWebviewFrame, paletteRows, testIdText } from '../../scripts/e2e/lib.mjs';
import { startSession } from '../../scripts/e2e/session.mjs';

describe('Restricted Mode (UI)', () => {
  let s;
  // The session waits for the workbench to bind its trust context keys: before that, the palette's
  // trust-gated entries are decided by an unbound key, not by Restricted Mode.
  before(async () => { s = await startSession({ name: 'restricted', trusted: false }); });
  after(async () => { await s?.close(); });

  it('the palette hides the commands that run models', async () => {
    try {
      // The viewing command is present in both modes: once it shows, filtering has finished.
      const rows = await paletteRows(s.page, 'ONNX Quantizer:', { control: 'ONNX Quantizer: Show as Text' });
      for (const hidden of ['Quantize…', 'Quantize with Defaults', 'Benchmark', 'Compare With…']) {
        assert.ok(!rows.some((r) => r === `ONNX Quantizer: ${hidden}`), `"${hidden}" offered in Restricted Mode: ${JSON.stringify(rows)}`);
      }
      assert.ok(rows.includes('ONNX Quantizer: Show as Text'), `viewing command missing: ${JSON.stringify(rows)}`);
    } catch (e) { s.markFailed(); throw e; }
  });

  it('the model editor still opens, its run buttons disabled', async () => {
    try {
      await s.page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'digits_mlp.onnx' }).first().click();
      const frame = await findWebviewFrame(s.page, '[data-testid="card-nodes"]', { timeout: 60000 });
      assert.equal(await testIdText(frame, 'model-title'), 'digits_mlp.onnx');
      // Buttons that run models are disabled, and say why; viewing stays possible.
      for (const id of ['btn-quantize', 'btn-benchmark', 'btn-compare']) {
        const b = frame.locator(`[data-testid="${id}"]`);
        await frame.waitForFunction((sel) => document.querySelector(sel)?.hasAttribute('disabled'), `[data-testid="${id}"]`, { timeout: 15000 });
        assert.equal(await b.getAttribute('title'), 'Requires a trusted workspace', `${id} tooltip`);
      }
      assert.equal(await frame.locator('[data-testid="btn-show-as-text"]').getAttribute('disabled'), null, 'Show as Text stays enabled');
      await s.shot('restricted-mode');
    } catch (e) { s.markFailed(); throw e; }
  });
});
