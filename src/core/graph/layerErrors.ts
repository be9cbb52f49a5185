/**
 * The per-layer error a model's latest comparison recorded: for a float model the newest report
 * whose reference it is, for a quantized model the report beside it (`CANDIDATE.quant-report.json`,
 * what `compare --report` and the extension's Compare write; core/report/locate). Rows name nodes by their graph-index key, so the graph view can
 * colour its nodes by them. The value is the error each node adds itself (local SQNR), else the
 * tensor's SQNR; rows with neither are left out.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { reportPaths } from '../report/write';
import { latestReportAbout } from '../report/locate';

export interface LayerErrorFile {
  file: string;
  errors: { node: string; sqnrDb: number }[];
  /** Why the quantizer left nodes float (`quantize.skippedNodes`, when the report was written after quantizing), by node key. */
  skipped: Map<string, string>;
}

/** A float model's newest comparison (core/report/locate), else the report beside a quantized model. */
export function reportFileFor(modelPath: string): string {
  return latestReportAbout(modelPath) ?? reportPaths(modelPath).json;
}

/** The report's per-layer errors and skip reasons; undefined when there is no readable report with either. */
export function readLayerErrors(modelPath: string): LayerErrorFile | undefined {
  const file = reportFileFor(modelPath);
  let json: unknown;
  try {
    if (!fs.statSync(file).isFile()) return undefined;
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
  const report = typeof json === 'object' && json !== null ? (json as { layers?: unknown; quantize?: { skippedNodes?: unknown } }) : undefined;
  const layers = report?.layers;
  const skipped = new Map<string, string>();
  const skips = report?.quantize?.skippedNodes;
  for (const s of Array.isArray(skips) ? (skips as unknown[]) : []) {
    const { node, reason } = (typeof s === 'object' && s !== null ? s : {}) as { node?: unknown; reason?: unknown };
    if (typeof node === 'string' && typeof reason === 'string' && !skipped.has(node)) skipped.set(node, reason);
  }
  if (!Array.isArray(layers) && skipped.size === 0) return undefined;
  const errors: LayerErrorFile['errors'] = [];
  const seen = new Set<string>();
  for (const l of Array.isArray(layers) ? (layers as unknown[]) : []) {
    if (typeof l !== 'object' || l === null) continue;
    const { node, localSqnrDb, sqnrDb } = l as { node?: unknown; localSqnrDb?: unknown; sqnrDb?: unknown };
    const value = typeof localSqnrDb === 'number' && Number.isFinite(localSqnrDb) ? localSqnrDb : typeof sqnrDb === 'number' && Number.isFinite(sqnrDb) ? sqnrDb : undefined;
    if (typeof node !== 'string' || value === undefined || seen.has(node)) continue;
    seen.add(node);
    errors.push({ node, sqnrDb: value });
  }
  return { file: path.basename(file), errors, skipped };
}
