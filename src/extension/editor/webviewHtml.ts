/**
 * The HTML shell of both webviews: a strict CSP, our stylesheets and one nonce'd module script.
 * Content is drawn by the script from messages, so nothing model-derived is ever in this HTML.
 * No `vscode` import: the unit tests load the same shell into headless Chromium.
 */
import { randomBytes } from 'node:crypto';

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
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
}

const escapeAttr = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function webviewHtml(shell: WebviewShell): string {
  const links = shell.styleUris.map((u) => `<link rel="stylesheet" href="${escapeAttr(u)}">`).join('\n    ');
  return `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <meta http-equiv="Content-Security-Policy" content="${escapeAttr(contentSecurityPolicy(shell.cspSource, shell.nonce))}">
    <meta name="viewport" content="width=device-width, initial-scale=1.0">
    <meta name="onnxq-l10n" content="${escapeAttr(JSON.stringify(shell.l10n ?? {}))}">
    ${links}
    <title>${escapeAttr(shell.title)}</title>
  </head>
  <body>
    <main id="app"></main>
    <script type="module" nonce="${escapeAttr(shell.nonce)}" src="${escapeAttr(shell.scriptUri)}"></script>
  </body>
</html>`;
}
