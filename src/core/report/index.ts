/** Quantization reports: build from a comparison, render as Markdown / HTML, save next to the model. */
export { buildReport, type ReportContext } from './build';
export { environmentInfo } from './environment';
export { renderMarkdown } from './markdown';
export { renderHtml, escapeHtml } from './html';
export { checkReportPaths, writeReports, reportPaths, reportStem, reportJson, type ReportFiles } from './write';
export type { QuantReport } from './types';
