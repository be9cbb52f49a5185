/** Writes a comparison's report next to the candidate: `STEM.quant-report.{json,md,html}` (atomic). */
import { buildReport, writeReports } from '../../core/report';
import type { CompareJob } from '../../shared/protocol';
import type { CompareResult } from '../../core/evaluate/types';

export function writeCompareReport(result: CompareResult, stem: string, quantize?: CompareJob['quantize']): string[] {
  const files = writeReports(buildReport(result, { quantize }), stem);
  return [files.json, files.markdown, files.html];
}
