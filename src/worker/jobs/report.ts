/** Writes a comparison's report next to the candidate: `STEM.quant-report.json` (atomic). */
import { buildReport } from '../../core/report/build';
import { writeFileAtomic } from '../../core/onnx/save';
import type { CompareJob } from '../../shared/protocol';
import type { CompareResult } from '../../shared/report';

export function writeCompareReport(result: CompareResult, stem: string, quantize?: CompareJob['quantize']): string[] {
  const report = buildReport(result, { quantize });
  const json = `${stem}.quant-report.json`;
  writeFileAtomic(json, `${JSON.stringify(report, null, 2)}\n`);
  return [json];
}
