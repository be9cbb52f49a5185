// Loads the real webview bundles into headless Chromium under the same CSP as VS Code uses, with
// a stub acquireVsCodeApi that hands posted messages to a host function in Node and lets the test
// play host replies. Catches CSP violations and page errors.
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { makeNonce, webviewHtml } from '../../../src/extension/editor/webviewHtml';

const ROOT = path.join(__dirname, '../../..');
const ORIGIN = 'https://webview.test';

export async function buildWebviews(): Promise<string> {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'oq-webview-'));
  await esbuild.build({
    entryPoints: [path.join(ROOT, 'webview/editor.ts'), path.join(ROOT, 'webview/dashboard.ts'), path.join(ROOT, 'webview/graph.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    outdir: out,
    logLevel: 'error',
    loader: { '.css': 'text' },
  });
  return out;
}

export function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--headless', '--disable-gpu'] });
}

export interface WebviewPage {
  page: Page;
  /** Messages the webview posted, in order. */
  posted: unknown[];
  /** Deliver a host message to the webview. */
  send(message: unknown): Promise<void>;
  /** CSP violations and page errors seen so far. */
  problems(): Promise<string[]>;
}

export async function openWebview(
  browser: Browser,
  bundles: string,
  entry: 'editor' | 'dashboard' | 'graph',
  onMessage: (m: unknown, view: WebviewPage) => void | Promise<void>,
  l10n?: Record<string, string>,
): Promise<WebviewPage> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('dialog', (d) => {
    errors.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  const nonce = makeNonce();
  await page.route(`${ORIGIN}/**`, async (route) => {
    const url = new URL(route.request().url());
    if (url.pathname === '/index.html') {
      const html = webviewHtml({
        cspSource: ORIGIN,
        nonce,
        scriptUri: `${ORIGIN}/dist/webview/${entry}.js`,
        styleUris: [`${ORIGIN}/media/common.css`, `${ORIGIN}/media/${entry}.css`],
        title: entry,
        l10n,
      });
      return route.fulfill({ contentType: 'text/html', body: html });
    }
    const file = url.pathname.startsWith('/dist/webview/') ? path.join(bundles, path.basename(url.pathname)) : path.join(ROOT, 'media', path.basename(url.pathname));
    if (!fs.existsSync(file)) return route.fulfill({ status: 404, body: '' });
    return route.fulfill({ contentType: file.endsWith('.css') ? 'text/css' : 'text/javascript', body: fs.readFileSync(file) });
  });
  const view: WebviewPage = {
    page,
    posted: [],
    send: (message) => page.evaluate((m) => window.postMessage(m, '*'), message),
    problems: async () => [...errors, ...(await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp))],
  };
  await page.exposeFunction('__toHost', async (m: unknown) => {
    view.posted.push(m);
    await onMessage(m, view);
  });
  // A string, not a function: tsx would inject helpers (__name) the page does not have.
  await page.addInitScript(`
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push('csp: ' + e.violatedDirective + ' ' + e.blockedURI));
    let state;
    window.__state = () => state;
    window.acquireVsCodeApi = () => ({
      postMessage: (m) => void window.__toHost(m),
      getState: () => state,
      setState: (s) => { state = s; },
    });
  `);
  await page.goto(`${ORIGIN}/index.html`);
  return view;
}

/** Resolves once the webview has posted `count` messages matching `pick` (bindings are async). */
export async function postedMatching(view: WebviewPage, pick: (m: { type?: string }) => boolean, count: number, timeoutMs = 5000): Promise<unknown[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = view.posted.filter((m) => pick(m as { type?: string }));
    if (found.length >= count || Date.now() > deadline) return found;
    await new Promise((r) => setTimeout(r, 10));
  }
}
