/**
 * The report as one standalone HTML file: inline CSS and SVG bar charts, no scripts, no external
 * resources (a Content-Security-Policy forbids them). Every model-derived string is escaped.
 */
import type { QuantReport } from './types';
import { baseName, evaluationDataText, formatBytes, formatMs, formatPct, formatRatio, formatSqnr } from './format';

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

interface Bar {
  label: string;
  value: number;
  text: string;
  color: string;
}

const REF = '#8a8f98';
const CAND = '#2f80ed';

/** Horizontal bars, scaled to `max` (default: the largest value). */
function barChart(title: string, bars: Bar[], max?: number): string {
  const width = 520;
  const labelW = 150;
  const rowH = 26;
  const scale = max ?? Math.max(...bars.map((b) => b.value), 1e-12);
  const h = bars.length * rowH + 30;
  const rows = bars
    .map((b, i) => {
      const y = 28 + i * rowH;
      const w = Math.max(1, ((width - labelW - 110) * Math.max(0, b.value)) / scale);
      return (
        `<text x="0" y="${y + 14}" class="l">${escapeHtml(b.label)}</text>` +
        `<rect x="${labelW}" y="${y}" width="${w.toFixed(1)}" height="18" fill="${b.color}" rx="2"/>` +
        `<text x="${(labelW + w + 6).toFixed(1)}" y="${y + 14}" class="v">${escapeHtml(b.text)}</text>`
      );
    })
    .join('');
  return `<figure><svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${h}" viewBox="0 0 ${width} ${h}" role="img" aria-label="${escapeHtml(title)}"><text x="0" y="16" class="t">${escapeHtml(title)}</text>${rows}</svg></figure>`;
}

/**
 * One row of ticks per model, one tick per timed run, on a shared millisecond axis: the spread
 * and outliers the percentiles summarise. Non-numbers (hand-edited reports) are skipped.
 */
function stripChart(title: string, rows: { label: string; samples: readonly unknown[]; color: string }[]): string {
  const clean = rows.map((r) => ({ ...r, samples: r.samples.filter((v): v is number => typeof v === 'number' && Number.isFinite(v)) }));
  const all = clean.flatMap((r) => r.samples);
  if (!all.length) return '';
  const lo = all.reduce((a, b) => Math.min(a, b));
  const hi = all.reduce((a, b) => Math.max(a, b));
  const width = 520;
  const labelW = 150;
  const plotW = width - labelW - 20;
  const rowH = 26;
  // A few stalls (other processes) can be 100× the typical run: past 10× spread, a log axis
  // keeps the bulk of the runs readable.
  const log = lo > 0 && hi / lo >= 10;
  const f = log ? Math.log : (v: number) => v;
  const x = (v: number): string => (labelW + ((f(v) - f(lo)) / (f(hi) - f(lo) || 1)) * plotW).toFixed(1);
  const body = clean
    .map((r, i) => {
      const y = 28 + i * rowH;
      const ticks = r.samples.map((v) => `<line x1="${x(v)}" x2="${x(v)}" y1="${y}" y2="${y + 18}" stroke="${r.color}" stroke-opacity="0.6"/>`).join('');
      return `<text x="0" y="${y + 14}" class="l">${escapeHtml(r.label)}</text><g class="ticks">${ticks}</g>`;
    })
    .join('');
  const axisY = 28 + clean.length * rowH + 12;
  const h = axisY + 8;
  const axis =
    `<text x="${labelW}" y="${axisY}" class="v">${escapeHtml(formatMs(lo))}</text>` +
    `<text x="${labelW + plotW}" y="${axisY}" class="v" text-anchor="end">${escapeHtml(formatMs(hi))}</text>` +
    (log ? `<text x="${labelW + plotW / 2}" y="${axisY}" class="v" text-anchor="middle">log scale</text>` : '');
  return `<figure><svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${h}" viewBox="0 0 ${width} ${h}" role="img" aria-label="${escapeHtml(title)}" data-chart="latency-distribution"><text x="0" y="16" class="t">${escapeHtml(title)}</text>${body}${axis}</svg></figure>`;
}

function table(headers: string[], rows: string[][]): string {
  const th = headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  // Figures never wrap; names may break anywhere (long tensor paths).
  const cell = (c: string) => (/^[-−+\d∞–.]/.test(c) ? `<td class="n">${escapeHtml(c)}</td>` : `<td>${escapeHtml(c)}</td>`);
  const body = rows.map((r) => `<tr>${r.map(cell).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

export function renderHtml(report: QuantReport, maxLayers = 30): string {
  const { size, latency, accuracy: a } = report;
  const parts: string[] = [];
  parts.push(`<h1>Quantization report: ${escapeHtml(baseName(report.candidate))}</h1>`);
  parts.push(`<p class="meta">Reference <code>${escapeHtml(report.reference)}</code><br>Candidate <code>${escapeHtml(report.candidate)}</code><br>Created ${escapeHtml(report.createdAt)}</p>`);

  const headline = [
    `${formatRatio(size.ratio)} smaller`,
    `${formatRatio(latency.speedup)} faster (p50)`,
    a.candidateAccuracy !== undefined ? `accuracy ${formatPct(a.referenceAccuracy)} → ${formatPct(a.candidateAccuracy)}` : `agreement ${formatPct(a.agreement)}`,
    `SQNR ${formatSqnr(a.sqnrDb, a.identical)}`,
  ];
  parts.push(`<ul class="headline">${headline.map((h) => `<li>${escapeHtml(h)}</li>`).join('')}</ul>`);

  parts.push('<h2>Size</h2>');
  parts.push(
    barChart('Size on disk (model + external data)', [
      { label: 'reference', value: size.referenceBytes, text: formatBytes(size.referenceBytes), color: REF },
      { label: 'candidate', value: size.candidateBytes, text: formatBytes(size.candidateBytes), color: CAND },
    ]),
  );

  parts.push('<h2>Latency</h2>');
  const lat: Bar[] = [];
  for (const k of ['p50Ms', 'p90Ms', 'p99Ms'] as const) {
    lat.push({ label: `reference ${k.slice(0, 3)}`, value: latency.reference[k], text: formatMs(latency.reference[k]), color: REF });
    lat.push({ label: `candidate ${k.slice(0, 3)}`, value: latency.candidate[k], text: formatMs(latency.candidate[k]), color: CAND });
  }
  parts.push(barChart(`Milliseconds per run (batch ${latency.batch}, ${latency.threads} threads, ${latency.runs} runs each, alternating)`, lat));
  const refSamples = latency.reference.samplesMs ?? [];
  const candSamples = latency.candidate.samplesMs ?? [];
  if (Array.isArray(refSamples) && Array.isArray(candSamples) && (refSamples.length || candSamples.length)) {
    const kept = Math.max(refSamples.length, candSamples.length);
    parts.push(
      stripChart(`Run timings (${kept < latency.runs ? `${kept} of ${latency.runs} runs, evenly spaced` : `all ${latency.runs} runs`})`, [
        { label: 'reference', samples: refSamples, color: REF },
        { label: 'candidate', samples: candSamples, color: CAND },
      ]),
    );
  }

  parts.push('<h2>Fidelity</h2>');
  const fid: Bar[] = [
    { label: 'arg-max agreement', value: a.agreement, text: formatPct(a.agreement), color: CAND },
    { label: 'cosine', value: a.cosine, text: a.cosine.toFixed(6), color: CAND },
  ];
  if (a.referenceAccuracy !== undefined) fid.push({ label: 'accuracy reference', value: a.referenceAccuracy, text: formatPct(a.referenceAccuracy), color: REF });
  if (a.candidateAccuracy !== undefined) fid.push({ label: 'accuracy candidate', value: a.candidateAccuracy, text: formatPct(a.candidateAccuracy), color: CAND });
  parts.push(barChart(`Output '${a.output}' (${evaluationDataText(a)})`, fid, 1));
  parts.push(table(['SQNR', 'max abs error'], [[formatSqnr(a.sqnrDb, a.identical), a.maxAbsError.toPrecision(4)]]));

  if (report.autoExclude) {
    const ae = report.autoExclude;
    parts.push('<h2>Auto-exclusion</h2>');
    parts.push(
      `<p>Target <code>${escapeHtml(ae.target)}</code>: <strong>${ae.met ? 'met' : 'not met'}</strong>${ae.stoppedBecause ? ` (${escapeHtml(ae.stoppedBecause)})` : ''}. Final output SQNR ${escapeHtml(formatSqnr(ae.finalSqnrDb))}${ae.finalAccuracy !== undefined ? `, accuracy ${escapeHtml(formatPct(ae.finalAccuracy))} (float ${escapeHtml(formatPct(ae.referenceAccuracy))})` : ''}.</p>`,
    );
    if (ae.excluded.length) {
      parts.push(
        table(
          ['step', 'node kept in float', 'op', 'added error (local SQNR)', 'tensor SQNR', 'output SQNR before', 'accuracy before'],
          ae.excluded.map((s, i) => [String(i + 1), s.node, s.opType, formatSqnr(s.localSqnrDb), formatSqnr(s.sqnrDb), formatSqnr(s.outputSqnrDb), formatPct(s.candidateAccuracy)]),
        ),
      );
    }
    if (ae.points?.length) {
      parts.push(`<p>Points tried (${ae.quantizePasses ?? ae.points.length} quantize passes, ${ae.calibrations ?? 0} calibrations):</p>`);
      parts.push(table(['layers kept float', 'size', 'output SQNR', 'latency (1 sample)', 'target'], ae.points.map((p) => [String(p.excludedCount), formatBytes(p.outputBytes), formatSqnr(p.sqnrDb), `${p.latencyMs} ms`, p.met ? 'met' : 'missed'])));
    }
  }

  if (report.layers?.length) {
    const shown = report.layers.slice(0, maxLayers);
    parts.push(`<h2>Per-layer error (worst ${shown.length} of ${report.layers.length})</h2>`);
    parts.push('<p>Ranked by the error each node adds itself (local SQNR), then by the SQNR of its output. Shorter bars are worse.</p>');
    const finite = shown.filter((l) => l.sqnrDb !== null);
    const top = Math.max(60, ...finite.map((l) => l.sqnrDb!));
    parts.push(
      barChart(
        'Output SQNR per tensor (dB)',
        shown.map((l) => ({
          label: l.tensor.length > 22 ? `…${l.tensor.slice(-21)}` : l.tensor,
          value: l.sqnrDb === null ? (l.identical ? top : 0) : Math.max(0, l.sqnrDb),
          text: formatSqnr(l.sqnrDb, l.identical),
          color: l.sqnrDb !== null && l.sqnrDb < 20 ? '#eb5757' : CAND,
        })),
        top,
      ),
    );
    parts.push(
      table(
        ['tensor', 'node', 'op', 'SQNR', 'local SQNR', 'cosine', 'max abs error'],
        shown.map((l) => [l.tensor, l.node, l.opType, formatSqnr(l.sqnrDb, l.identical), l.localSqnrDb === null ? '–' : formatSqnr(l.localSqnrDb), l.cosine.toFixed(6), l.maxAbsError.toPrecision(4)]),
      ),
    );
  }

  if (report.quantize) {
    const q = report.quantize;
    parts.push('<h2>Quantization</h2>');
    parts.push(`<p>Mode ${escapeHtml(q.mode)}: ${q.quantizedNodes} nodes quantized, ${q.skippedNodes.length} skipped, ${q.seconds.toFixed(2)} s.</p>`);
    if (q.warnings.length) parts.push(`<ul>${q.warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join('')}</ul>`);
    if (q.skippedNodes.length) parts.push(table(['skipped node', 'reason'], q.skippedNodes.slice(0, 50).map((s) => [s.node, s.reason])));
  }
  if (report.options) {
    parts.push('<h2>Options</h2>');
    parts.push(`<pre>${escapeHtml(JSON.stringify(report.options, null, 2))}</pre>`);
  }
  const e = report.environment;
  parts.push('<h2>Environment</h2>');
  parts.push(
    table(
      ['ONNX Runtime', 'Node', 'platform', 'CPU', 'logical CPUs', 'threads', 'AVX2', 'AVX-512', 'VNNI', 'AMX'],
      [[e.ortVersion, e.nodeVersion, `${e.platform}/${e.arch}`, e.cpuModel, String(e.logicalCpus), String(e.threads), yes(e.cpuFlags.avx2), yes(e.cpuFlags.avx512f), yes(e.cpuFlags.avx512vnni || e.cpuFlags.avxvnni), yes(e.cpuFlags.amx)]],
    ),
  );
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Quantization report: ${escapeHtml(baseName(report.candidate))}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:980px;padding:0 1rem;color:#222;background:#fff}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
.meta{color:#555}code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
pre{background:#f6f8fa;padding:.6rem;overflow:auto}
table{border-collapse:collapse;margin:.6rem 0}th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td{overflow-wrap:anywhere}td.n{white-space:nowrap}
.headline{display:flex;gap:1rem;flex-wrap:wrap;list-style:none;padding:0}.headline li{background:#eef4fd;border-radius:4px;padding:.4rem .7rem;font-weight:600}
figure{margin:.5rem 0}svg .t{font-weight:600;font-size:13px}svg .l,svg .v{font-size:12px}
@media (prefers-color-scheme:dark){body{background:#1e1e1e;color:#ddd}th{background:#2a2a2a}pre{background:#2a2a2a}th,td{border-color:#444}.headline li{background:#23344d}svg text{fill:#ddd}.meta{color:#aaa}}
</style>
</head>
<body>
${parts.join('\n')}
</body>
</html>
`;
}

function yes(b: boolean): string {
  return b ? 'yes' : 'no';
}
