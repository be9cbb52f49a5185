/**
 * Diagnostics for a model, published on its text view only (server.ts publishModel): ranges
 * point at node lines of the text view, which a binary `.onnx` does not have.
 */
import { DiagnosticSeverity, type Diagnostic, type Range } from 'vscode-languageserver/node';
import { formatBytes } from '../core/report/format';
import type { LayerInfo, LayerMode } from '../core/analysis/layers';
import type { ModelState } from './models';
import { showInGraphLink, type DiagnosticsSettings, type NodeDiagnosticData, type SeveritySetting } from '../shared/lsp/documents';
import { fileUri } from './uris';

export const SOURCE = 'onnx-quantizer';

const MODE_LABEL: Record<LayerMode, string> = { dynamic: 'int8 dynamic', static: 'int8 static', 'weight-only': 'int4 weight-only' };

export function severityOf(s: SeveritySetting): DiagnosticSeverity | undefined {
  switch (s) {
    case 'error':
      return DiagnosticSeverity.Error;
    case 'warning':
      return DiagnosticSeverity.Warning;
    case 'information':
      return DiagnosticSeverity.Information;
    case 'hint':
      return DiagnosticSeverity.Hint;
    default:
      return undefined;
  }
}

/** "MatMul → int8 dynamic: 4.00 MiB → 1.00 MiB (also: static)"; undefined when nothing would shrink. */
export function layerMessage(info: LayerInfo): string | undefined {
  const mode = info.modes.find((m) => info.savings[m] !== undefined);
  if (!mode || info.weightBytes === 0 || info.quantized) return undefined;
  const others = info.modes.filter((m) => m !== mode);
  const also = others.length ? ` (also: ${others.join(', ')})` : '';
  return `${info.opType} → ${MODE_LABEL[mode]}: ${formatBytes(info.weightBytes)} → ${formatBytes(info.savings[mode]!)}${also}`;
}

/** The code of node diagnostics: a link that opens the model's graph on the node (Problems panel). */
export const GRAPH_CODE = 'show in graph';

export function modelDiagnostics(state: ModelState, settings: DiagnosticsSettings): Diagnostic[] {
  const modelUri = fileUri(state.path);
  return findings(state, settings).map((d) => {
    const node = (d.data as NodeDiagnosticData | undefined)?.node;
    return node ? { ...d, code: GRAPH_CODE, codeDescription: { href: showInGraphLink(modelUri, node) } } : d;
  });
}

function findings(state: ModelState, settings: DiagnosticsSettings): Diagnostic[] {
  if (state.error || !state.rendered) {
    return [{ range: lineRange(0, 0, 1), severity: DiagnosticSeverity.Error, source: SOURCE, message: state.error ?? 'model could not be read' }];
  }
  const out: Diagnostic[] = [];
  const layerSeverity = severityOf(settings.layerSeverity);
  const riskSeverity = severityOf(settings.riskSeverity);
  const accuracySeverity = severityOf(settings.accuracySeverity);
  for (const { info, line } of state.layers) {
    if (!line) continue;
    const range = lineRange(line.line, line.opStart, line.opEnd);
    const data = (kind: NodeDiagnosticData['kind']): NodeDiagnosticData => ({ node: info.node, kind });
    const message = layerSeverity !== undefined ? layerMessage(info) : undefined;
    if (message) out.push({ range, severity: layerSeverity, source: SOURCE, message, data: data('layer') });
    if (riskSeverity !== undefined) {
      for (const note of info.notes) out.push({ range, severity: riskSeverity, source: SOURCE, message: note, data: data('risk') });
    }
  }
  if (state.report && accuracySeverity !== undefined) {
    const label = state.report.label ? `after ${state.report.label}` : 'after quantization';
    for (const row of state.report.layers) {
      if (!(row.sqnrDb < settings.sqnrThresholdDb)) continue;
      const located = locate(state, row.node, row.tensor);
      if (!located) continue;
      const cos = typeof row.cosine === 'number' ? `, cosine ${row.cosine.toFixed(4)}` : '';
      out.push({
        range: located.range,
        severity: accuracySeverity,
        source: SOURCE,
        message: `SQNR ${row.sqnrDb.toFixed(1)} dB ${label} (tensor '${row.tensor}'${cos}): consider keeping float`,
        data: { node: located.node, kind: 'accuracy' } satisfies NodeDiagnosticData,
      });
    }
  }
  if (state.reportError && accuracySeverity !== undefined) {
    out.push({ range: lineRange(0, 0, 1), severity: DiagnosticSeverity.Warning, source: SOURCE, message: state.reportError });
  }
  return out;
}

/** The line of a report row: its node, else the producer of its tensor. */
function locate(state: ModelState, node: string, tensor: string): { range: Range; node: string } | undefined {
  const r = state.rendered!;
  let line = r.nodeByKey.get(node);
  if (!line) {
    const producer = r.defs.get(tensor)?.find((d) => d.node !== undefined)?.node;
    line = producer !== undefined ? r.nodeByKey.get(producer) : undefined;
  }
  if (!line) return undefined;
  return { range: lineRange(line.line, line.opStart, line.opEnd), node: line.key };
}

export function lineRange(line: number, start: number, end: number): Range {
  return { start: { line, character: start }, end: { line, character: end } };
}
