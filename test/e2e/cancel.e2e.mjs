// Cancelling a long quantize job from its progress notification leaves no output and no temp file.
// The workspace gets a ~200 MB float model (scripts/e2e/large-model.ts) before code-server starts.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT, waitUntil } from '../../scripts/e2e/lib.mjs';
import { quantizeFromPalette, startSession } from '../../scripts/e2e/session.mjs';

const MODEL = 'large_chain.onnx';

describe('cancel a running quantize job (UI)', () => {
  let s, before_;

  before(async () => {
    s = await startSession({
      name: 'cancel',
      prepare: (ws) => execFileSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts', 'e2e', 'large-model.ts'), path.join(ws, MODEL), '48', '1024'], { cwd: ROOT }),
    });
    before_ = fs.readdirSync(s.workspace).sort();
  });
  after(async () => { await s?.close(); });

  it('Cancel on the progress notification stops the job and nothing is written', async () => {
    const { page } = s;
    try {
      await quantizeFromPalette(page, MODEL, 'large_chain.int8.onnx');

      const toast = page.locator('.notification-toast', { hasText: 'Quantizing large_chain' }).first();
      await toast.waitFor({ timeout: 20000 }).catch(() => { throw new Error('no "Quantizing large_chain" progress notification'); });
      await toast.hover(); // keeps the toast from fading out
      await waitUntil('the progress notification to finish fading in', async () =>
        (await toast.evaluate((el) => getComputedStyle(el).opacity)) === '1', { timeout: 5000 });
      await s.shot('progress-notification');
      await toast.locator('.monaco-button', { hasText: 'Cancel' }).click();
      await toast.waitFor({ state: 'detached', timeout: 20000 }).catch(() => { throw new Error('progress notification still shown 20 s after Cancel'); });
      // The job really ended: the status bar spinner is gone.
      await page.locator('.statusbar-item', { hasText: 'Quantizing large_chain' }).waitFor({ state: 'detached', timeout: 20000 });
      assert.deepEqual(fs.readdirSync(s.workspace).sort(), before_, 'cancelled job left files in the workspace');
      assert.equal(await page.locator('.notification-toast', { hasText: /Quantized large_chain/ }).count(), 0, 'a success notification appeared');
    } catch (e) { s.markFailed(); throw e; }
  });
});
