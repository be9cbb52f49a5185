/**
 * The HTML shell of both webviews: a strict CSP, our stylesheets and one nonce'd module script.
 * Content is drawn by the script from messages, so nothing model-derived is ever in this HTML.
 * No `vscode` import: the unit tests load the same shell into headless Chromium.
 */
import { randomBytes } from 'node:crypto';
import { escapeHtml } from '../../core/report/html';

export interface WebviewShell {
  /** `webview.cspSource`. */
  cspSource: string;
  scriptUri: string;
  styleUris: string[];
  title: string;
  /** Fresh per render. */
  nonce: string;
  /** Translations of the webview's strings (vscode.l10n.bundle); English when absent. */
  l10n?: Record<string, string> | undefined;
}

export function makeNonce(): string {
  return randomBytes(16).toString('base64');
}

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `img-src ${cspSource} data:`,
    `style-src ${cspSource}`,
    `font-src ${cspSource}`,
    // The webview's own resources only: the graph view fetches the graph file the worker wrote.
    `connect-src ${cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
}

export function webviewHtml(shell: WebviewShell): string {
  const links = shell.styleUris.map((u) => `<link rel="stylesheet" href="${escapeHtml(u)}">`).join('\n    ');
  return `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <meta http-equiv="Content-Security-Policy" content="${escapeHtml(contentSecurityPolicy(shell.cspSource, shell.nonce))}">
    <meta name="viewport" content="width=device-width, initial-scale=1.0">
    <meta name="onnxq-l10n" content="${escapeHtml(JSON.stringify(shell.l10n ?? {}))}">
    ${links}
    <title>${escapeHtml(shell.title)}</title>
  </head>
  <body>
    <main id="app"></main>
    <script type="module" nonce="${escapeHtml(shell.nonce)}" src="${escapeHtml(shell.scriptUri)}"></script>
  </body>
</html>`;
}
