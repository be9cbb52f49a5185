// The commands that run models are in the Command Palette as soon as the extension's contributions
// are, also while the workbench has not bound its workspace-trust context keys yet. It binds them
// in a Restored-phase contribution created in idle time, unordered with extension registration:
// on a busy renderer the extension's menus come first, and an entry gated on plain
// `isWorkspaceTrusted` was missing then (an open palette does not refresh its list, so it stayed
// missing until the user typed again). Holding back the renderer's idle callbacks makes that
// window wide and certain here.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { paletteRows, pickQuickItem, runCommand, trustContextKeysBound } from '../../scripts/e2e/lib.mjs';
import { startSession } from '../../scripts/e2e/session.mjs';

// Longer than extension registration takes after the workbench restored, even on a loaded machine.
const HOLD_IDLE_MS = 10000;
const RUN_COMMANDS = ['Quantize…', 'Quantize with Defaults', 'Benchmark', 'Compare With…'];

describe('palette before the workbench has resolved workspace trust (UI)', () => {
  let s;
  before(async () => {
    s = await startSession({
      name: 'palette-before-trust',
      waitForTrust: false,
      beforeLoad: (page) => page.addInitScript((ms) => {
        const request = window.requestIdleCallback.bind(window);
        window.requestIdleCallback = (callback, options) => setTimeout(() => request(callback, options), ms);
      }, HOLD_IDLE_MS),
    });
  });
  after(async () => { await s?.close(); });

  it('offers Quantize… and the other run commands, and Quantize… runs', async () => {
    const { page } = s;
    try {
      assert.equal(await trustContextKeysBound(page), false, 'trust context keys already bound: this run did not reach the early window');
      const rows = await paletteRows(page, 'ONNX Quantizer:', { control: 'ONNX Quantizer: Show as Text' });
      for (const title of RUN_COMMANDS) {
        assert.ok(rows.includes(`ONNX Quantizer: ${title}`), `"${title}" missing from the palette before trust is resolved: ${JSON.stringify(rows)}`);
      }
      assert.equal(await trustContextKeysBound(page), false, 'trust context keys bound meanwhile: the palette was not checked inside the early window');
      // The early entry works: it activates the extension and asks for a model.
      await runCommand(page, 'ONNX Quantizer: Quantize…');
      await pickQuickItem(page, 'digits_mlp.onnx');
      await page.keyboard.press('Escape');
    } catch (e) { s.markFailed(); throw e; }
  });
});
