/** Where a model's report files live: `MODEL.quant-report.{json,md,html}` beside it (no renderers here, so the extension host can ask cheaply). */
export interface ReportFiles {
  json: string;
  markdown: string;
  html: string;
}

/** `dir/model.int8.onnx` → `dir/model.int8` (the stem the report files share). */
export function reportStem(modelPath: string): string {
  return modelPath.replace(/\.onnx$/i, '');
}

export function reportPaths(modelPathOrStem: string): ReportFiles {
  const stem = reportStem(modelPathOrStem);
  return { json: `${stem}.quant-report.json`, markdown: `${stem}.quant-report.md`, html: `${stem}.quant-report.html` };
}
