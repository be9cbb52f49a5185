/** Save a report next to the quantized model: MODEL.quant-report.json, .md and .html (atomically). */
import { writeFileAtomic } from '../onnx/save';
import { guardWrite, type WriteRules } from '../util/writeGuard';
import type { QuantReport } from './types';
import { renderHtml } from './html';
import { renderMarkdown } from './markdown';
import { reportPaths, type ReportFiles } from './paths';

export { reportPaths, reportStem, type ReportFiles } from './paths';

/** JSON without Infinity/NaN (they have no JSON form): both become null. */
export function reportJson(report: QuantReport): string {
  return JSON.stringify(report, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n';
}

/**
 * Check the three report paths before any work (the same guard as the model output: never an
 * input, never a special file, replaced only with force).
 */
export function checkReportPaths(modelPathOrStem: string, rules: WriteRules): void {
  for (const file of Object.values(reportPaths(modelPathOrStem))) guardWrite(file, 'report', rules);
}

export function writeReports(report: QuantReport, modelPathOrStem: string, rules: WriteRules = { inputs: [], force: true }): ReportFiles {
  const files = reportPaths(modelPathOrStem);
  checkReportPaths(modelPathOrStem, rules);
  const guard = { what: 'report', rules };
  writeFileAtomic(files.json, reportJson(report), guard);
  writeFileAtomic(files.markdown, renderMarkdown(report), guard);
  writeFileAtomic(files.html, renderHtml(report), guard);
  return files;
}
