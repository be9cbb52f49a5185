// Hostile recipes in the UI: a committed recipe naming the zero device as its model and an output
// outside the workspace, one with a good model and an absolute output onto a file outside, one
// whose model is a real model outside the workspace, and one naming a FIFO, each get an Error from
// the language server on that path (Problems panel); "Quantize with Recipe" refuses each with the
// reason, writes nothing and replaces nothing outside; the editor stays responsive (the text view
// of another model renders).
// In Restricted Mode the server reads no path a recipe names and says so.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCommand, waitUntil } from '../../scripts/e2e/lib.mjs';
import { startSession } from '../../scripts/e2e/session.mjs';

const HOSTILE = { model: '/dev/zero', mode: 'dynamic', output: '../victim.onnx' };
const PIPE = { model: 'pipe.onnx', mode: 'dynamic' };

function prepare(ws) {
  fs.writeFileSync(path.join(ws, 'hostile.quant.json'), JSON.stringify(HOSTILE, null, 2));
  fs.writeFileSync(path.join(ws, 'pipe.quant.json'), JSON.stringify(PIPE, null, 2));
  execFileSync('mkfifo', [path.join(ws, 'pipe.onnx')]);
  fs.writeFileSync(path.join(path.dirname(ws), 'victim.onnx'), 'precious');
  // Each alone in its recipe, so the refusal of the path under test is not hidden behind another's.
  fs.writeFileSync(path.join(ws, 'absolute.quant.json'), JSON.stringify({ model: 'digits_mlp.onnx', mode: 'dynamic', output: path.join(path.dirname(ws), 'victim.onnx') }, null, 2));
  fs.copyFileSync(path.join(ws, 'digits_mlp.onnx'), path.join(path.dirname(ws), 'outside.onnx'));
  fs.writeFileSync(path.join(ws, 'outside.quant.json'), JSON.stringify({ model: '../outside.onnx', mode: 'dynamic', output: 'from-outside.int8.onnx' }, null, 2));
}

/** Every entry of the workspace and its parent with its size (a FIFO as such). */
function listing(ws) {
  const out = [];
  for (const dir of [ws, path.dirname(ws)]) {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (dir !== ws && e.name === path.basename(ws)) continue;
      // code-server's own data lives beside the workspace; only model-like files count.
      if (dir !== ws && !/\.(onnx|json|npy)$/.test(e.name)) continue;
      out.push(`${path.relative(path.dirname(ws), path.join(dir, e.name))}:${e.isFile() ? fs.statSync(path.join(dir, e.name)).size : e.isFIFO() ? 'fifo' : 'other'}`);
    }
  }
  return out.sort();
}

async function openFromExplorer(page, name) {
  const row = page.locator('.explorer-folders-view .monaco-list-row', { hasText: name }).first();
  await row.waitFor({ timeout: 30000 });
  await row.click();
  await page.locator('.tabs-container .tab.active', { hasText: name }).waitFor({ timeout: 20000 });
}

/** Texts of the Problems panel's rows once one matches `re`. */
async function problemMatching(page, re, timeout = 30000) {
  await runCommand(page, 'Problems: Focus on Problems View');
  return waitUntil(`a Problems entry matching ${re}`, async () => {
    const rows = await page.locator('.markers-panel .monaco-list-row').allInnerTexts();
    return rows.find((r) => re.test(r.replace(/\s+/g, ' '))) ?? null;
  }, { timeout, interval: 250 });
}

/** The error notification of a refused run, its text. */
async function errorToast(page, re, timeout = 20000) {
  const toast = page.locator('.notification-toast:has(.codicon-error)', { hasText: re }).first();
  await toast.waitFor({ timeout }).catch(() => { throw new Error(`no error notification matching ${re} within ${timeout} ms`); });
  return (await toast.innerText()).replace(/\s+/g, ' ').trim();
}

describe('hostile recipes (UI)', () => {
  let s, before_;
  before(async () => {
    s = await startSession({ name: 'hostile-recipe', prepare });
    before_ = listing(s.workspace);
  });
  after(async () => { await s?.close(); });

  it('a recipe naming the zero device and an output outside gets an Error on each path', async () => {
    try {
      await openFromExplorer(s.page, 'hostile.quant.json');
      const model = await problemMatching(s.page, /"model" '\/dev\/zero' leaves the recipe's folder/);
      assert.match(model, /hostile\.quant\.json|leaves the recipe's folder/);
      await problemMatching(s.page, /"output" '\.\.\/victim\.onnx' leaves the recipe's folder/);
      await s.shot('hostile-recipe-problems');
    } catch (e) { s.markFailed(); throw e; }
  });

  it('Quantize with Recipe refuses it with the reason and writes nothing', async () => {
    try {
      await openFromExplorer(s.page, 'hostile.quant.json');
      const started = Date.now();
      await runCommand(s.page, 'ONNX Quantizer: Quantize with Recipe');
      const text = await errorToast(s.page, /leaves the recipe's folder/);
      assert.match(text, /hostile\.quant\.json: "model" '\/dev\/zero' leaves the recipe's folder/);
      assert.ok(Date.now() - started < 15000, `refused after ${Date.now() - started} ms`);
    } catch (e) { s.markFailed(); throw e; }
  });

  it('a recipe naming a FIFO gets an Error and is refused, without blocking', async () => {
    try {
      await openFromExplorer(s.page, 'pipe.quant.json');
      await problemMatching(s.page, /"model" 'pipe\.onnx' is a FIFO \(named pipe\), not a regular file; refused/);
      await openFromExplorer(s.page, 'pipe.quant.json');
      await runCommand(s.page, 'ONNX Quantizer: Quantize with Recipe');
      await errorToast(s.page, /is a FIFO \(named pipe\), not a regular file/);
    } catch (e) { s.markFailed(); throw e; }
  });

  it('an absolute output onto a file outside, and a real model outside: an Error on that path, and Quantize with Recipe refuses each', async () => {
    try {
      for (const [file, reason] of [
        ['absolute.quant.json', /"output" '[^']*victim\.onnx' leaves the recipe's folder/],
        ['outside.quant.json', /"model" '\.\.\/outside\.onnx' leaves the recipe's folder/],
      ]) {
        await openFromExplorer(s.page, file);
        await problemMatching(s.page, reason);
        await openFromExplorer(s.page, file);
        const started = Date.now();
        await runCommand(s.page, 'ONNX Quantizer: Quantize with Recipe');
        const text = await errorToast(s.page, reason);
        assert.ok(text.includes(`${file}: `), `the refusal names the recipe: ${text}`);
        assert.ok(Date.now() - started < 15000, `${file}: refused after ${Date.now() - started} ms`);
      }
    } catch (e) { s.markFailed(); throw e; }
  });

  it('the editor stays responsive: another model\'s text view renders; nothing was written or replaced', async () => {
    try {
      await openFromExplorer(s.page, 'digits_mlp.onnx');
      await runCommand(s.page, 'ONNX Quantizer: Show as Text');
      await s.page.locator('.tabs-container .tab.active', { hasText: 'digits_mlp.onnx.txt' }).waitFor({ timeout: 30000 });
      // Monaco renders spaces as no-break spaces.
      const shown = async () => (await s.page.locator('.editor-group-container.active .view-lines').allInnerTexts()).join('\n').replace(/\u00a0/g, ' ');
      await waitUntil('the text view to show the Gemm nodes', async () => /= Gemm/.test(await shown()), { timeout: 30000 });
      assert.deepEqual(listing(s.workspace), before_, 'the refused runs added or changed files');
      assert.equal(fs.readFileSync(path.join(path.dirname(s.workspace), 'victim.onnx'), 'utf8'), 'precious');
    } catch (e) { s.markFailed(); throw e; }
  });
});

describe('hostile recipe in Restricted Mode (UI)', () => {
  let s;
  before(async () => { s = await startSession({ name: 'hostile-recipe-restricted', trusted: false, prepare }); });
  after(async () => { await s?.close(); });

  it('the server reads no path the recipe names and says why', async () => {
    try {
      await openFromExplorer(s.page, 'pipe.quant.json');
      await problemMatching(s.page, /Restricted Mode: the files this recipe names are not read until the workspace is trusted/);
      const rows = await s.page.locator('.markers-panel .monaco-list-row').allInnerTexts();
      assert.ok(!rows.some((r) => /FIFO/.test(r)), `the FIFO was looked at: ${rows.join(' | ')}`);
    } catch (e) { s.markFailed(); throw e; }
  });
});
