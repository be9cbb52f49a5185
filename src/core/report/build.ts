/** Assemble the report document from a comparison and how the candidate was made. */
import type { QuantizeOptions, QuantizeResult } from '../quantize/types';
import type { AutoExcludeSummary, CompareResult } from '../evaluate/types';
import type { QuantReport } from './types';
import { environmentInfo } from './environment';

export interface ReportContext {
  options?: QuantizeOptions | Record<string, unknown> | undefined;
  quantize?: QuantizeResult | undefined;
  autoExclude?: AutoExcludeSummary | undefined;
}

export function buildReport(compare: CompareResult, context: ReportContext = {}): QuantReport {
  const report: QuantReport = {
    kind: 'onnx-quantizer-report',
    schemaVersion: 1,
    createdAt: new Date().toISOString(),
    ...compare,
    environment: environmentInfo(compare.latency.threads),
  };
  if (context.options) {
    // Where data links may lead is this machine's business, not the report's.
    const { dataRoots: _local, ...options } = context.options as Record<string, unknown>;
    report.options = options;
  }
  if (context.quantize) {
    const q = context.quantize;
    report.quantize = { mode: q.mode, quantizedNodes: q.quantizedNodes, skippedNodes: q.skippedNodes, seconds: q.seconds, warnings: q.warnings };
    if (q.fidelity) report.quantize.fidelity = q.fidelity;
    report.options ??= { ...q.effectiveOptions };
  }
  if (context.autoExclude) report.autoExclude = context.autoExclude;
  return report;
}
