/**
 * Dashboard exports. One complete report is rendered by the evaluation engine's own renderers
 * (src/core/report: the same files `compare` writes); several variants side by side, or a
 * partial report, by the renderers below from the DashboardDto the webview shows. JSON is the
 * reports themselves. Model-derived strings are escaped for each format. No `vscode` import.
 */
import type { DashboardDto, ExportFormat, ModelColumnDto } from '../../shared/webviewMessages';
import type { QuantReport } from '../../core/report/types';
import { escapeHtml, renderHtml } from '../../core/report/html';
import { renderMarkdown } from '../../core/report/markdown';
import { reportJson } from '../../core/report/write';

const fmt = (n: number | null, digits: number, suffix = ''): string => (n === null ? '—' : `${n.toFixed(digits)}${suffix}`);
const pct = (n: number | null): string => (n === null ? '—' : `${(n * 100).toFixed(2)} %`);
const mb = (n: number | null): string => (n === null ? '—' : `${(n / 1048576).toFixed(2)} MB`);
const sqnr = (n: number | null, identical: boolean): string => (n === null ? (identical ? '∞ (identical)' : 'n/a') : `${n.toFixed(1)} dB`);

type Metric = [label: string, value: (m: ModelColumnDto) => string];
const METRICS: Metric[] = [
  ['Size', (m) => mb(m.bytes)],
  ['Size ratio', (m) => fmt(m.sizeRatio, 2, '×')],
  ['Latency p50', (m) => fmt(m.latency?.p50Ms ?? null, 3, ' ms')],
  ['Latency p90', (m) => fmt(m.latency?.p90Ms ?? null, 3, ' ms')],
  ['Latency p99', (m) => fmt(m.latency?.p99Ms ?? null, 3, ' ms')],
  ['Speedup (p50)', (m) => fmt(m.speedup, 2, '×')],
  ['Agreement (arg-max)', (m) => (m.role === 'reference' ? '—' : pct(m.fidelity?.agreement ?? null))],
  ['Cosine', (m) => fmt(m.fidelity?.cosine ?? null, 5)],
  ['SQNR', (m) => (m.role === 'reference' ? '—' : sqnr(m.fidelity?.sqnrDb ?? null, m.fidelity?.identical ?? false))],
  ['Max abs error', (m) => fmt(m.fidelity?.maxAbsError ?? null, 5)],
  ['Labelled accuracy', (m) => pct(m.fidelity?.accuracy ?? null)],
];

const mdCell = (s: string): string => s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/[\r\n]+/g, ' ').replace(/[<>]/g, (c) => (c === '<' ? '&lt;' : '&gt;'));

export function toMarkdown(d: DashboardDto): string {
  const lines = [`# ${mdCell(d.title)}`, ''];
  lines.push(`| Metric | ${d.models.map((m) => mdCell(m.label)).join(' | ')} |`, `|---|${d.models.map(() => '---:').join('|')}|`);
  for (const [label, value] of METRICS) lines.push(`| ${label} | ${d.models.map((m) => mdCell(value(m))).join(' | ')} |`);
  for (const m of d.models.filter((c) => c.layers.length > 0)) {
    lines.push('', `## Per-layer error: ${mdCell(m.label)} (worst first)`, '', '| Node | Op | Tensor | Added error (dB) | SQNR | Cosine |', '|---|---|---|---:|---:|---:|');
    for (const l of m.layers.slice(0, 50)) {
      lines.push(`| ${mdCell(l.node)} | ${mdCell(l.opType)} | ${mdCell(l.tensor)} | ${fmt(l.localSqnrDb, 1)} | ${sqnr(l.sqnrDb, l.identical)} | ${fmt(l.cosine, 5)} |`);
    }
    if (m.layers.length > 50) lines.push(``, `(${m.layers.length - 50} more layers in the JSON report)`);
  }
  if (d.environment.length) {
    lines.push('', '## Environment', '', '| | |', '|---|---|');
    for (const e of d.environment) lines.push(`| ${mdCell(e.label)} | ${mdCell(e.value)} |`);
  }
  if (d.options.length) {
    lines.push('', '## Options', '', '| | |', '|---|---|');
    for (const e of d.options) lines.push(`| ${mdCell(e.label)} | ${mdCell(e.value)} |`);
  }
  return `${lines.join('\n')}\n`;
}

export function toHtml(d: DashboardDto): string {
  const e = escapeHtml;
  const table = (head: string[], rows: string[][]): string =>
    `<table><thead><tr>${head.map((h) => `<th>${e(h)}</th>`).join('')}</tr></thead><tbody>${rows
      .map((r) => `<tr>${r.map((c) => `<td>${e(c)}</td>`).join('')}</tr>`)
      .join('')}</tbody></table>`;
  const parts = [`<h1>${e(d.title)}</h1>`, table(['Metric', ...d.models.map((m) => m.label)], METRICS.map(([label, value]) => [label, ...d.models.map(value)]))];
  for (const m of d.models.filter((c) => c.layers.length > 0)) {
    parts.push(
      `<h2>Per-layer error: ${e(m.label)} (worst first)</h2>`,
      table(
        ['Node', 'Op', 'Tensor', 'Added error (dB)', 'SQNR', 'Cosine'],
        m.layers.map((l) => [l.node, l.opType, l.tensor, fmt(l.localSqnrDb, 1), sqnr(l.sqnrDb, l.identical), fmt(l.cosine, 5)]),
      ),
    );
  }
  if (d.environment.length) parts.push('<h2>Environment</h2>', table(['', ''], d.environment.map((x) => [x.label, x.value])));
  if (d.options.length) parts.push('<h2>Options</h2>', table(['', ''], d.options.map((x) => [x.label, x.value])));
  // Static file: no scripts, inline CSS only (it is opened outside VS Code).
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${e(d.title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}</style>
</head><body>
${parts.join('\n')}
</body></html>
`;
}

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);
const allNumbers = (o: unknown, keys: string[]): boolean => isObj(o) && keys.every((k) => typeof o[k] === 'number');

/** Has every field the engine's renderers read (a report file may be partial or hand-edited). */
export function isCompleteReport(x: unknown): x is QuantReport {
  if (!isObj(x) || typeof x.reference !== 'string' || typeof x.candidate !== 'string' || typeof x.createdAt !== 'string') return false;
  const l = x.latency;
  const a = x.accuracy;
  return (
    allNumbers(x.size, ['referenceBytes', 'candidateBytes', 'ratio']) &&
    allNumbers(l, ['speedup', 'runs', 'batch', 'threads']) &&
    allNumbers((l as Obj).reference, ['p50Ms', 'p90Ms', 'p99Ms']) &&
    allNumbers((l as Obj).candidate, ['p50Ms', 'p90Ms', 'p99Ms']) &&
    allNumbers(a, ['samples', 'agreement', 'cosine', 'maxAbsError']) &&
    typeof (a as Obj).output === 'string' &&
    (x.layers === undefined || (Array.isArray(x.layers) && x.layers.every((e) => isObj(e) && typeof e.node === 'string' && typeof e.cosine === 'number')))
  );
}

export function exportText(format: ExportFormat, dto: DashboardDto, reports: unknown[]): string {
  const single = reports.length === 1 && isCompleteReport(reports[0]) ? reports[0] : undefined;
  if (single) {
    try {
      if (format === 'markdown') return renderMarkdown(single);
      if (format === 'html') return renderHtml(single);
      return reportJson(single);
    } catch {
      // A field the check above does not cover is off: fall back to the dashboard's renderers.
    }
  }
  switch (format) {
    case 'markdown':
      return toMarkdown(dto);
    case 'html':
      return toHtml(dto);
    case 'json':
      return `${JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2)}\n`;
  }
}

export const EXPORT_EXTENSIONS: Record<ExportFormat, { ext: string; name: string }> = {
  markdown: { ext: 'md', name: 'Markdown' },
  html: { ext: 'html', name: 'HTML' },
  json: { ext: 'json', name: 'JSON' },
};
