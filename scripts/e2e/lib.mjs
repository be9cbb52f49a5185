// Helpers shared by the code-server test runners (integration, e2e, `npm run try`):
// setup, throwaway workspace, code-server in its own process group, chromium via playwright-core,
// payload URLs, webview frame lookup and waits that say what they were waiting for.
import { packageVsix as buildPlatformVsix } from '../package.mjs';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CS_VERSION = process.env.CS_VERSION || '4.100.3';
export const CODE_SERVER_DIR = process.env.CODE_SERVER_DIR
  || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'vscode-e2e', `code-server-${CS_VERSION}`);
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const EXTENSION_ID = 'onnx-quantizer.onnx-quantizer';

const t0 = Date.now();
export const seconds = (from = t0) => ((Date.now() - from) / 1000).toFixed(1) + 's';
export const log = (...a) => console.log(`[e2e ${seconds()}]`, ...a);

/**
 * Wait until `check()` returns a truthy value (returned), polling every `interval` ms.
 * On timeout the error names `what` and the last error `check` threw, if any.
 */
export async function waitUntil(what, check, { timeout = 30000, interval = 100 } = {}) {
  const deadline = Date.now() + timeout;
  let lastError;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) { lastError = e; }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${lastError ? `: ${lastError.message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** Race a promise against a timeout; the timer is always cleared (a pending one keeps node alive). */
export async function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try { return await Promise.race([promise, timeout]); } finally { clearTimeout(timer); }
}

// Cleanups to run if this process is interrupted (Ctrl-C, a CI timeout's SIGTERM): code-server
// runs detached in its own process group, so nobody else would stop it.
const cleanups = new Set();
let interrupted = false;
async function onInterrupt(signal) {
  if (interrupted) return;
  interrupted = true;
  console.error(`[e2e] ${signal}: stopping ${cleanups.size} code-server instance(s)`);
  await Promise.allSettled([...cleanups].map((fn) => fn()));
  process.exit(signal === 'SIGINT' ? 130 : 143);
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => { void onInterrupt(sig); });
/** Run `fn` if the process is interrupted; returns a function that unregisters it. */
export function onInterruptCleanup(fn) {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

/** Install code-server + system packages if needed (idempotent, cached); returns the binary path. */
export function ensureCodeServer() {
  const bin = path.join(CODE_SERVER_DIR, 'node_modules', '.bin', 'code-server');
  const stamp = path.join(CODE_SERVER_DIR, '.install-ok');
  const ready = fs.existsSync(bin) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8').trim() === CS_VERSION
    && fs.existsSync(CHROMIUM);
  if (ready) return bin;
  const t = Date.now();
  const r = spawnSync('bash', [path.join(ROOT, 'scripts', 'install-code-server.sh'), CODE_SERVER_DIR],
    { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', env: { ...process.env, CS_VERSION } });
  if (r.status !== 0) throw new Error(`scripts/install-code-server.sh failed (exit ${r.status})`);
  log(`setup done in ${seconds(t)}`);
  return r.stdout.trim().split('\n').pop();
}

/** Package the extension as users get it: the same code as `npm run package` (host platform's VSIX). */
export function packageVsix(outFile) {
  return buildPlatformVsix({ out: outFile });
}

/** `npm run build` unless E2E_NO_BUILD=1 (the caller already built). */
export function buildExtension() {
  if (process.env.E2E_NO_BUILD === '1') return;
  const t = Date.now();
  const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('npm run build failed');
  if (!fs.existsSync(path.join(ROOT, 'dist', 'extension.js'))) throw new Error('npm run build made no dist/extension.js');
  log(`extension built in ${seconds(t)}`);
}

/** A throwaway root for one run: user data, extensions, XDG dirs and a copy of the test workspace. */
export function makeRunDir(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `onnxq-${prefix}-`));
  const workspace = path.join(dir, 'workspace');
  copyFixtures(workspace);
  return { dir, workspace };
}

/** Copy the models and data of test/fixtures (not the README) into `dest`. */
export function copyFixtures(dest, from = path.join(ROOT, 'test', 'fixtures')) {
  fs.mkdirSync(dest, { recursive: true });
  for (const name of fs.readdirSync(from)) {
    if (/\.(onnx|npy|data|json)$/.test(name)) fs.copyFileSync(path.join(from, name), path.join(dest, name));
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

// Quiet, deterministic workbench: no welcome page, tips, updates, gallery or telemetry.
const QUIET_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'git.enabled': false,
  'npm.autoDetect': 'off',
  'typescript.disableAutomaticTypeAcquisition': true,
  'chat.disableAIFeatures': true,
  'window.confirmBeforeClose': 'never',
  'files.hotExit': 'off',
};

/**
 * Start code-server in its own process group (detached) so stop() ends its whole tree:
 * server, extension host, language server, worker and file watcher.
 * opts: { dir, folder, trusted = true, env, settings, port, quiet, vsix (a .vsix to install first) }
 * Returns { port, url, pid, logFile, stop(), ready (ms from spawn to listening) }.
 */
export async function startCodeServer(opts) {
  const bin = path.join(CODE_SERVER_DIR, 'node_modules', '.bin', 'code-server');
  if (!fs.existsSync(bin)) throw new Error(`no code-server at ${bin}: run scripts/install-code-server.sh`);
  const { dir, trusted = true } = opts;
  const userDataDir = path.join(dir, 'user-data');
  const extensionsDir = path.join(dir, 'extensions');
  fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  fs.mkdirSync(extensionsDir, { recursive: true });
  const trustSettings = trusted
    ? { 'security.workspace.trust.enabled': false }
    // Restricted Mode without the startup modal: the folder simply opens untrusted.
    : { 'security.workspace.trust.enabled': true, 'security.workspace.trust.startupPrompt': 'never',
        'security.workspace.trust.banner': 'never', 'security.workspace.trust.untrustedFiles': 'open' };
  fs.writeFileSync(path.join(userDataDir, 'User', 'settings.json'),
    JSON.stringify({ ...QUIET_SETTINGS, ...trustSettings, ...(opts.settings || {}) }, null, 2));

  const port = opts.port || await freePort();
  const args = ['--bind-addr', `127.0.0.1:${port}`, '--auth', 'none',
    '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir,
    '--disable-telemetry', '--disable-update-check', '--disable-getting-started-override', '--ignore-last-opened'];
  if (trusted) args.push('--disable-workspace-trust');
  if (opts.folder) args.push(opts.folder);
  // XDG_* keep code-server's config.yaml, heartbeat and logs inside the throwaway dir.
  const env = { ...process.env, XDG_CONFIG_HOME: path.join(dir, 'xdg-config'), XDG_DATA_HOME: path.join(dir, 'xdg-data'),
    ...(opts.env || {}) };
  if (opts.vsix) {
    const r = spawnSync(bin, ['--user-data-dir', userDataDir, '--extensions-dir', extensionsDir, '--install-extension', opts.vsix],
      { env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`code-server --install-extension ${opts.vsix} failed: ${(r.stderr || r.stdout).trim()}`);
  }
  const logFile = path.join(dir, 'code-server.log');
  const logStream = fs.createWriteStream(logFile);
  const started = Date.now();
  const proc = spawn(bin, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
  let exited = null;
  const exitPromise = new Promise((resolve) => proc.once('exit', (code, signal) => { exited = { code, signal }; resolve(exited); }));

  const listening = new Promise((resolve, reject) => {
    let seen = '';
    const onData = (chunk) => {
      logStream.write(chunk);
      if (!opts.quiet && process.env.E2E_VERBOSE) process.stderr.write(chunk);
      if (seen !== null) {
        seen = (seen + chunk.toString()).slice(-4096);
        if (/HTTP server listening on/.test(seen)) { seen = null; resolve(); }
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    exitPromise.then((e) => reject(new Error(`code-server exited before listening (${JSON.stringify(e)}); see ${logFile}`)));
  });
  await withTimeout(listening, 60000, `code-server to print "HTTP server listening" (log: ${logFile})`);

  const unregister = onInterruptCleanup(() => stop());
  async function stop() {
    unregister();
    if (!exited) {
      try { process.kill(-proc.pid, 'SIGTERM'); } catch { /* already gone */ }
      let killTimer;
      await Promise.race([exitPromise, new Promise((r) => { killTimer = setTimeout(r, 5000); })]);
      clearTimeout(killTimer);
      if (!exited) { try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* gone */ } await exitPromise; }
    }
    // Children that outlive the server (worker, language server) are in the same group.
    try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* group empty: expected */ }
    logStream.end();
  }
  return { port, url: `http://127.0.0.1:${port}/`, pid: proc.pid, logFile, stop, ready: Date.now() - started, started };
}

/** Workbench URL opening `folder`, with optional payload entries ([name, value] pairs). */
export function workbenchUrl(server, folder, payload = []) {
  let url = `${server.url}?folder=${encodeURIComponent(folder)}`;
  if (payload.length) url += `&payload=${encodeURIComponent(JSON.stringify(payload))}`;
  return url;
}

/** Payload that loads this repo as a development extension (+ a tests module, for integration runs). */
export function devExtensionPayload(server, testsModule, extensionPath = ROOT) {
  const remote = (p) => `vscode-remote://127.0.0.1:${server.port}${p}`;
  const payload = [['extensionDevelopmentPath', remote(extensionPath)], ['skipWelcome', 'true']];
  if (testsModule) payload.push(['extensionTestsPath', remote(testsModule)]);
  return payload;
}

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

export async function launchChromium() {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: run scripts/install-code-server.sh or set CHROMIUM`);
  process.env.PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD = '1';
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

// ---------------------------------------------------------------------------------------------
// Workbench UI helpers (playwright page)

export async function waitForWorkbench(page, timeout = 60000) {
  for (const sel of ['.monaco-workbench', '.part.activitybar', '.part.statusbar']) {
    await page.locator(sel).first().waitFor({ timeout }).catch((e) => {
      throw new Error(`workbench did not render ${sel} within ${timeout} ms: ${e.message.split('\n')[0]}`);
    });
  }
}

// VS Code's perf mark for "Restored-phase workbench contributions created" (LifecyclePhase.Restored = 3).
const RESTORED_CONTRIBUTIONS_MARK = 'code/didCreateWorkbenchContributions/3';

/** Whether the workbench has bound its workspace-trust context keys yet (see waitForTrustContextKeys). */
export function trustContextKeysBound(page) {
  return page.evaluate((mark) => performance.getEntriesByName(mark).length > 0, RESTORED_CONTRIBUTIONS_MARK);
}

/** When (ms on the page's clock) the workbench bound its workspace-trust context keys, or undefined. */
function trustContextKeysBoundAt(page) {
  return page.evaluate((mark) => performance.getEntriesByName(mark)[0]?.startTime, RESTORED_CONTRIBUTIONS_MARK);
}

/**
 * Wait until the workbench has bound `isWorkspaceTrusted` / `isWorkspaceTrustEnabled`. Until then
 * both are unset, whatever the folder's trust: a Restored-phase contribution binds them, created in
 * idle time and not ordered with extension registration, so an extension's activity-bar entry and
 * menus can be on screen before it. What the palette shows in Restricted Mode is only decided after it.
 */
export async function waitForTrustContextKeys(page, timeout = 30000) {
  await page.waitForFunction((mark) => performance.getEntriesByName(mark).length > 0, RESTORED_CONTRIBUTIONS_MARK, { timeout, polling: 100 })
    .catch(() => { throw new Error(`the workbench did not bind its workspace-trust context keys (perf mark ${RESTORED_CONTRIBUTIONS_MARK}) within ${timeout} ms`); });
}

/**
 * Run a command from the palette by its label ("Category: Title"). The palette computes its list
 * once per input change (a command that becomes available later does not appear in an open
 * palette), so this queries once: callers wait for what makes the entry available first.
 */
export async function runCommand(page, label, { timeout = 15000 } = {}) {
  const input = page.locator('.quick-input-widget input');
  // A webview that takes focus just then (a graph revealing its selection) closes the palette as it
  // opens: open it again, up to three times, as a person would.
  for (let attempt = 1; ; attempt++) {
    await page.keyboard.press('F1');
    await input.waitFor({ state: 'visible', timeout });
    try {
      await input.fill('>' + label, { timeout: 3000 });
      break;
    } catch (e) {
      if (attempt === 3 || (await input.isVisible())) throw e;
    }
  }
  const typedAt = await page.evaluate(() => performance.now());
  const row = page.locator('.quick-input-widget .monaco-list-row', { hasText: label }).first();
  await row.waitFor({ state: 'visible', timeout }).catch(async () => {
    const shown = await paletteRowLabels(page).catch(() => []);
    const boundAt = await trustContextKeysBoundAt(page).catch(() => undefined);
    const trust = boundAt === undefined ? 'not bound yet'
      : `bound ${Math.round(boundAt - typedAt)} ms ${boundAt > typedAt ? 'after' : 'before'} the query was typed`;
    throw new Error(`command palette has no entry "${label}" (it lists ${JSON.stringify(shown.slice(0, 8))}; workspace-trust context keys ${trust})`);
  });
  await row.click();
}

/** Labels of the rows an open palette / quick pick lists. */
function paletteRowLabels(page) {
  return page.locator('.quick-input-widget .monaco-list-row .label-name').allInnerTexts().then((rows) => rows.map((r) => r.trim()));
}

/**
 * Labels of the palette rows matching `query`; `control` is an entry present whatever the state
 * (once it shows, filtering has finished). The palette is closed again afterwards.
 */
export async function paletteRows(page, query, { control, timeout = 15000 } = {}) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout });
  await input.fill('>' + query);
  await page.locator('.quick-input-widget .monaco-list-row', { hasText: control }).first().waitFor({ timeout })
    .catch(() => { throw new Error(`command palette has no control entry "${control}" for "${query}"`); });
  const rows = await paletteRowLabels(page);
  await page.keyboard.press('Escape');
  return rows;
}

/** Pick an item in an open quick pick (e.g. the second step of a command). */
export async function pickQuickItem(page, text, { timeout = 15000 } = {}) {
  const row = page.locator('.quick-input-widget .monaco-list-row', { hasText: text }).first();
  await row.waitFor({ state: 'visible', timeout }).catch(() => {
    throw new Error(`quick pick has no item "${text}" within ${timeout} ms`);
  });
  await row.click();
}

/**
 * The frame holding a webview's content: the workbench page nests
 * <iframe class="webview"> → <iframe id="active-frame">. With several webviews open, scan every
 * frame for the one containing `selector` (e.g. '[data-testid="dashboard"]').
 */
export async function findWebviewFrame(page, selector, { timeout = 30000 } = {}) {
  return waitUntil(`a webview frame containing ${selector}`, async () => {
    for (const frame of page.frames()) {
      if (frame === page.mainFrame()) continue;
      try { if (await frame.locator(selector).count()) return frame; } catch { /* frame detached meanwhile */ }
    }
    return null;
  }, { timeout, interval: 200 });
}

/** Text of a data-testid element inside a webview frame. */
export async function testIdText(frame, id, { timeout = 15000 } = {}) {
  const loc = frame.locator(`[data-testid="${id}"]`).first();
  await loc.waitFor({ timeout }).catch(() => { throw new Error(`webview has no [data-testid="${id}"] within ${timeout} ms`); });
  return (await loc.innerText()).trim();
}

/**
 * A notification (toast, or the Notifications Center when toasts are hidden) with `text`.
 * Fails at once, quoting it, if an error notification shows up meanwhile.
 */
export async function expectNotification(page, text, { timeout = 20000 } = {}) {
  const toast = page.locator('.notification-toast', { hasText: text }).first();
  const error = page.locator('.notification-toast:has(.codicon-error)').first();
  const which = await Promise.race([
    toast.waitFor({ timeout }).then(() => 'toast', () => 'none'),
    error.waitFor({ timeout }).then(() => 'error', () => 'none'),
  ]);
  if (which === 'toast') return toast;
  if (which === 'error' && !(await toast.count())) {
    throw new Error(`error notification instead of "${text}": ${(await error.innerText()).replace(/\s+/g, ' ').trim()}`);
  }
  if (await toast.count()) return toast;
  await runCommand(page, 'Notifications: Show Notifications');
  const item = page.locator('.notifications-center .notification-list-item', { hasText: text }).first();
  await item.waitFor({ timeout: 5000 }).catch(() => { throw new Error(`no notification "${text}" within ${timeout} ms`); });
  return item;
}

/**
 * Record the text of every notification toast shown from now on (a MutationObserver in the page),
 * so a test can assert that a short-lived progress notification appeared even if it is gone by
 * the time the test looks. Returns `seen()` → array of texts.
 */
export async function recordNotifications(page) {
  await page.evaluate(() => {
    const seen = (window.__e2eToasts = window.__e2eToasts || []);
    const scan = () => {
      for (const el of document.querySelectorAll('.notification-toast')) {
        const text = el.innerText.replace(/\s+/g, ' ').trim();
        if (text && !seen.includes(text)) seen.push(text);
      }
    };
    new MutationObserver(scan).observe(document.body, { childList: true, subtree: true, characterData: true });
    scan();
  });
  return () => page.evaluate(() => window.__e2eToasts.slice());
}

/** Computed style values of `selector` in a frame (e.g. colours of a webview element). */
export async function computedStyle(frame, selector, props) {
  return frame.locator(selector).first().evaluate((el, names) => {
    const cs = getComputedStyle(el);
    return Object.fromEntries(names.map((n) => [n, cs.getPropertyValue(n)]));
  }, props);
}
