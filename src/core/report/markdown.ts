/** The report as Markdown (for pull requests, wikis, terminals). */
import type { QuantReport } from './types';
import { baseName, evaluationDataText, inertText, formatBytes, formatMs, formatPct, formatRatio, formatSqnr } from './format';

/** Model-derived text inside a table cell: no pipes, backticks or line breaks can break out. */
export function mdCell(text: string): string {
  // Also inert: control, bidi and zero-width characters, and link/image syntax ([x](y), ![x](y)).
  return inertText(text.replace(/[\r\n]+/g, ' '))
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/`/g, "'")
    .replace(/</g, '&lt;')
    .replace(/([[\]()!])/g, '\\$1');
}

const row = (cells: string[]) => `| ${cells.join(' | ')} |`;
const header = (cells: string[]) => [row(cells), row(cells.map(() => '---'))].join('\n');

export function renderMarkdown(report: QuantReport, maxLayers = 20): string {
  const { size, latency, accuracy: a } = report;
  const out: string[] = [];
  out.push(`# Quantization report: ${mdCell(baseName(report.candidate))}`, '');
  out.push(`Reference \`${mdCell(report.reference)}\`, candidate \`${mdCell(report.candidate)}\`. Created ${report.createdAt}.`, '');
  out.push('## Summary', '');
  out.push(header(['', 'reference', 'candidate', 'change']));
  out.push(row(['size', formatBytes(size.referenceBytes), formatBytes(size.candidateBytes), `${formatRatio(size.ratio)} smaller`]));
  for (const k of ['p50Ms', 'p90Ms', 'p99Ms'] as const) {
    const change = k === 'p50Ms' ? `${formatRatio(latency.speedup)} faster` : '';
    out.push(row([`latency ${k.slice(0, 3)}`, formatMs(latency.reference[k]), formatMs(latency.candidate[k]), change]));
  }
  if (a.referenceAccuracy !== undefined && a.candidateAccuracy !== undefined) {
    const drop = (a.referenceAccuracy - a.candidateAccuracy) * 100;
    out.push(row(['accuracy', formatPct(a.referenceAccuracy), formatPct(a.candidateAccuracy), `${drop >= 0 ? '−' : '+'}${Math.abs(drop).toFixed(2)} points`]));
  }
  out.push('', `Latency: ${latency.runs} runs per model, alternating, batch ${latency.batch}, ${latency.threads} threads.`, '');
  out.push('## Fidelity of the output', '');
  out.push(`On output \`${mdCell(a.output)}\` (${mdCell(evaluationDataText(a))}):`, '');
  out.push(header(['arg-max agreement', 'cosine', 'SQNR', 'max abs error']));
  out.push(row([formatPct(a.agreement), a.cosine.toFixed(6), formatSqnr(a.sqnrDb, a.identical), a.maxAbsError.toPrecision(4)]));
  out.push('');
  if (report.autoExclude) {
    const ae = report.autoExclude;
    out.push('## Auto-exclusion', '');
    out.push(`Target \`${mdCell(ae.target)}\`: ${ae.met ? 'met' : `not met${ae.stoppedBecause ? ` (${mdCell(ae.stoppedBecause)})` : ''}`}. Final output SQNR ${formatSqnr(ae.finalSqnrDb)}${ae.finalAccuracy !== undefined ? `, accuracy ${formatPct(ae.finalAccuracy)} (float ${formatPct(ae.referenceAccuracy)})` : ''}.`, '');
    if (ae.excluded.length) {
      out.push(header(['step', 'node kept in float', 'op', 'added error (local SQNR)', 'tensor SQNR', 'output SQNR before', 'accuracy before']));
      ae.excluded.forEach((s, i) =>
        out.push(row([String(i + 1), mdCell(s.node), mdCell(s.opType), formatSqnr(s.localSqnrDb), formatSqnr(s.sqnrDb), formatSqnr(s.outputSqnrDb), formatPct(s.candidateAccuracy)])),
      );
    } else out.push('No node had to be excluded.');
    out.push('');
    if (ae.points?.length) {
      out.push(`Points tried (${ae.quantizePasses ?? ae.points.length} quantize passes, ${ae.calibrations ?? 0} calibrations):`, '');
      out.push(header(['layers kept float', 'size', 'output SQNR', 'latency (1 sample)', 'target']));
      for (const p of ae.points) out.push(row([String(p.excludedCount), formatBytes(p.outputBytes), formatSqnr(p.sqnrDb), `${p.latencyMs} ms`, p.met ? 'met' : 'missed']));
      out.push('');
    }
  }
  if (report.layers) {
    out.push(`## Per-layer error (worst ${Math.min(maxLayers, report.layers.length)} of ${report.layers.length})`, '');
    out.push('Ranked by the error each node adds itself (local SQNR), then by the SQNR of its output.', '');
    out.push(header(['tensor', 'node', 'op', 'SQNR', 'local SQNR', 'cosine']));
    for (const l of report.layers.slice(0, maxLayers)) {
      out.push(row([`\`${mdCell(l.tensor)}\``, mdCell(l.node), mdCell(l.opType), formatSqnr(l.sqnrDb, l.identical), l.localSqnrDb === null ? '–' : formatSqnr(l.localSqnrDb), l.cosine.toFixed(6)]));
    }
    out.push('');
  }
  if (report.quantize) {
    const q = report.quantize;
    out.push('## Quantization', '');
    out.push(`Mode ${mdCell(q.mode)}: ${q.quantizedNodes} nodes quantized, ${q.skippedNodes.length} skipped, ${q.seconds.toFixed(2)} s.`);
    for (const w of q.warnings) out.push(`- ${mdCell(w)}`);
    out.push('');
  }
  const e = report.environment;
  out.push('## Environment', '');
  out.push(`ONNX Runtime ${mdCell(e.ortVersion)} (CPU), Node ${e.nodeVersion}, ${e.platform}/${e.arch}, ${mdCell(e.cpuModel)}, ${e.logicalCpus} logical CPUs, ${e.threads} threads.`);
  const flags = Object.entries(e.cpuFlags).map(([k, v]) => `${k} ${v ? 'yes' : 'no'}`).join(', ');
  out.push(`CPU features: ${flags}.`, '');
  return out.join('\n');
}
