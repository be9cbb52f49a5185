// One UI test session: a throwaway code-server with the extension loaded from this repo (payload
// extensionDevelopmentPath), a chromium page on the workbench, and a throwaway copy of the fixtures.
import fs from 'node:fs';
import path from 'node:path';
import {
  ROOT, log, makeRunDir, startCodeServer, launchChromium, workbenchUrl, devExtensionPayload, waitForWorkbench,
  runCommand, pickQuickItem, waitUntil, waitForTrustContextKeys,
} from './lib.mjs';

export const SCREENSHOTS = path.join(ROOT, 'test', 'e2e', 'screenshots');

/**
 * Ready means: the workbench rendered, the extension's contributions are registered (its activity-bar
 * entry) and the workbench has bound its workspace-trust context keys (which decide the
 * trust-gated menu entries).
 * opts: { name, settings, env, viewport, prepare(workspace) (runs before code-server starts), trusted = true,
 *         beforeLoad(page) (runs before the workbench page loads, e.g. page.addInitScript),
 *         waitForTrust = true (false: return as soon as the extension's contributions are registered) }
 * Returns { page, browser, server, workspace, dir, shot(name), close() }.
 */
export async function startSession(opts = {}) {
  const name = opts.name || 'e2e';
  const { dir, workspace } = makeRunDir(name);
  let server, browser;
  try {
    if (opts.prepare) await opts.prepare(workspace);
    // E2E_VSIX_FILE (set by `run-e2e.mjs --vsix`): install the packaged extension instead of
    // loading the repo as a development extension, so packaging is tested too.
    const vsix = process.env.E2E_VSIX_FILE || undefined;
    server = await startCodeServer({
      dir, folder: workspace, trusted: opts.trusted ?? true, vsix,
      env: { ONNX_QUANTIZER_TEST_HOOKS: '1', ...(opts.env || {}) },
      settings: { 'workbench.colorTheme': 'Default Dark Modern', ...(opts.settings || {}) },
    });
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: opts.viewport || { width: 1400, height: 900 } });
    const consoleLines = [];
    page.on('console', (m) => consoleLines.push(`[${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => consoleLines.push(`[pageerror] ${e.message}`));
    if (opts.beforeLoad) await opts.beforeLoad(page);
    await page.goto(workbenchUrl(server, workspace, vsix ? [] : devExtensionPayload(server)));
    await waitForWorkbench(page);
    // The dev extension's contributions (custom editor, views) register after the workbench renders:
    // clicking a .onnx before that opens it as text. Its activity-bar entry marks that point.
    await page.locator('.activitybar .action-item a[aria-label^="ONNX Quantizer"]').waitFor({ timeout: 60000 })
      .catch(() => { throw new Error('the ONNX Quantizer activity-bar entry never appeared (extension not loaded?)'); });
    if (opts.waitForTrust ?? true) await waitForTrustContextKeys(page);
    log(`[${name}] workbench ready with the ${vsix ? 'installed VSIX' : 'development'} extension ${Date.now() - server.started} ms after spawn (${server.url})`);
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    let failed = false;
    return {
      page, browser, server, workspace, dir,
      /** Save test/e2e/screenshots/<name>.png (stable names: curated ones go into the README). */
      shot: (shotName) => page.screenshot({ path: path.join(SCREENSHOTS, `${shotName}.png`) }),
      markFailed() { failed = true; },
      async close() {
        fs.writeFileSync(path.join(dir, 'browser-console.log'), consoleLines.join('\n'));
        if (failed) await page.screenshot({ path: path.join(SCREENSHOTS, `failure-${name}.png`) }).catch(() => {});
        await browser.close().catch(() => {});
        await server.stop();
        if (failed || process.env.E2E_KEEP) log(`[${name}] logs kept in ${dir}`);
        else fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    if (browser) await browser.close().catch(() => {});
    if (server) await server.stop();
    log(`[${name}] session failed to start; logs in ${dir}`);
    throw e;
  }
}

/** Switch the colour theme through the palette (Preferences: Color Theme → `theme`). */
export async function setColorTheme(page, theme) {
  await runCommand(page, 'Preferences: Color Theme');
  const input = page.locator('.quick-input-widget input');
  await input.fill(theme);
  const row = page.locator('.quick-input-widget .monaco-list-row', { hasText: theme }).first();
  await row.waitFor({ state: 'visible', timeout: 10000 }).catch(() => { throw new Error(`no colour theme "${theme}" in the picker`); });
  await page.keyboard.press('Enter');
  await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 10000 });
}

/**
 * The guided flow a person goes through: Command Palette → Quantize… → model → Dynamic (int8) →
 * x86 CPU → accept the proposed output name (checked to be `output`). Returns once Enter is pressed.
 */
export async function quantizeFromPalette(page, model, output) {
  await runCommand(page, 'ONNX Quantizer: Quantize…');
  await pickQuickItem(page, model);
  await pickQuickItem(page, 'Dynamic (int8)');
  await pickQuickItem(page, 'x86 CPU');
  const box = page.locator('.quick-input-widget input');
  await waitUntil(`the output name box to propose ${output}`, async () => (await box.inputValue()) === output, { timeout: 10000 });
  await page.keyboard.press('Enter');
}
