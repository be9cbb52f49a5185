/**
 * Webview strings. The host puts the extension's l10n bundle (vscode.l10n.bundle: English text →
 * translation) in a <meta name="onnxq-l10n"> of the shell, so no message is needed before the
 * first paint. Keys are the English strings, as with vscode.l10n.t; `{0}` placeholders as there.
 */
let table: Record<string, string> | undefined;

function load(): Record<string, string> {
  const raw = document.querySelector('meta[name="onnxq-l10n"]')?.getAttribute('content');
  try {
    const parsed: unknown = raw ? JSON.parse(raw) : {};
    if (typeof parsed !== 'object' || parsed === null) return {};
    return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch {
    return {};
  }
}

export function t(message: string, ...args: (string | number)[]): string {
  table ??= load();
  const text = Object.prototype.hasOwnProperty.call(table, message) ? table[message]! : message;
  return text.replace(/\{(\d+)\}/g, (m, i: string) => (args[Number(i)] !== undefined ? String(args[Number(i)]) : m));
}
