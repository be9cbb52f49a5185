/**
 * Diagnostics for a model, published on its text view only (server.ts publishModel): ranges
 * point at node lines of the text view, which a binary `.onnx` does not have.
 */
import { DiagnosticSeverity, type Diagnostic, type Range } from 'vscode-languageserver/node';
import { formatBytes } from '../core/report/format';
import { modeQuantizes, type LayerInfo, type LayerMode } from '../core/analysis/layers';
import type { QuantMode } from '../core/quantize/types';
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

/**
 * `mode` is the model's chosen mode (its recipe's, else the settings'): a risk that matters only
 * in another mode is a hint, and a top-level finding says when the mode leaves most weights float.
 */
export function modelDiagnostics(state: ModelState, settings: DiagnosticsSettings, mode?: QuantMode): Diagnostic[] {
  const modelUri = fileUri(state.path);
  return findings(state, settings, mode).map((d) => {
    const node = (d.data as NodeDiagnosticData | undefined)?.node;
    return node ? { ...d, code: GRAPH_CODE, codeDescription: { href: showInGraphLink(modelUri, node) } } : d;
  });
}

/** Layer modes, for the hint on which mode fits the model. */
const LAYER_MODES: LayerMode[] = ['dynamic', 'static', 'weight-only'];

/**
 * "dynamic mode leaves 579.5 KiB of the 584.5 KiB of weights float (4 Conv): static mode quantizes
 * them" when the chosen mode leaves most (over half) of the weights another mode would quantize.
 */
export function modeFitMessage(layers: readonly LayerInfo[], mode: QuantMode): string | undefined {
  if (mode === 'fp16') return undefined;
  const candidates = layers.filter((l) => !l.quantized && l.weightBytes > 0 && (l.modes.length > 0 || l.onRequest));
  const total = candidates.reduce((n, l) => n + l.weightBytes, 0);
  const left = candidates.filter((l) => !modeQuantizes(l, mode));
  const leftBytes = left.reduce((n, l) => n + l.weightBytes, 0);
  if (total === 0 || leftBytes * 2 <= total) return undefined;
  const better = LAYER_MODES.filter((m) => m !== mode)
    .map((m) => ({ m, bytes: left.filter((l) => modeQuantizes(l, m)).reduce((n, l) => n + l.weightBytes, 0) }))
    .sort((a, b) => b.bytes - a.bytes)[0];
  if (!better || better.bytes === 0) return undefined;
  const ops = new Map<string, number>();
  for (const l of left) ops.set(l.opType, (ops.get(l.opType) ?? 0) + 1);
  const opText = [...ops].sort((a, b) => b[1] - a[1]).map(([op, n]) => `${n} ${op}`).join(', ');
  return `${mode} mode leaves ${formatBytes(leftBytes)} of the ${formatBytes(total)} of weights float (${opText}): ${better.m} mode quantizes ${formatBytes(better.bytes)} of them`;
}

function findings(state: ModelState, settings: DiagnosticsSettings, mode?: QuantMode): Diagnostic[] {
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
      for (const note of info.notes) {
        // QDQ overhead around an unfusable op only exists in static mode.
        const otherMode = note === info.risk.unfusable && mode !== undefined && mode !== 'static';
        const message = otherMode ? `${note} (static mode only; the chosen mode is ${mode})` : note;
        out.push({ range, severity: otherMode ? DiagnosticSeverity.Hint : riskSeverity, source: SOURCE, message, data: data('risk') });
      }
    }
  }
  const fit = mode !== undefined && layerSeverity !== undefined ? modeFitMessage(state.layers.map((l) => l.info), mode) : undefined;
  if (fit) out.unshift({ range: lineRange(0, 0, 1), severity: DiagnosticSeverity.Information, source: SOURCE, message: fit });
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
