/**
 * The server's view of each model it was asked about: the loaded model (or the one-line reason
 * it could not be), its rendering with the line map, the layer rules' results, and the newest
 * comparison report about it (core/report/locate: a report beside a quantized variant whose
 * reference is this model). Entries are re-read when the file's size or mtime changes, so a
 * request never answers from a stale file even before the file watcher's event arrives.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadModel, type OnnxModel } from '../core/onnx/model';
import { readRegularText } from '../core/util/files';
import { latestReportAbout } from '../core/report/locate';
import { oneLine } from '../core/errors';
import { indexModel, type ModelIndex } from '../core/onnx/graph-index';
import { analyzeLayers, weightStats, type LayerInfo, type WeightStats } from '../core/analysis/layers';
import { renderModel, type NodeLine, type RenderedModel } from '../core/text/render';
import type { NodeProto, TensorProto } from '../core/onnx/schema';

/** One row of a `compare --per-layer` report (cli.md). */
export interface ReportLayer {
  tensor: string;
  node: string;
  sqnrDb: number;
  cosine: number;
}

export interface QuantReport {
  layers: ReportLayer[];
  /** What was compared, when the report says (e.g. "static int8"). */
  label?: string;
}

export interface ModelState {
  path: string;
  stamp: string;
  /** Set when the model could not be loaded: the one line users see. */
  error?: string;
  model?: OnnxModel;
  rendered?: RenderedModel;
  /** The model's graph index (node keys, producers, consumers, constants). */
  index?: ModelIndex;
  /** Layer rules' result for each node, with the node's line in the rendering. */
  layers: { info: LayerInfo; node: NodeProto; line: NodeLine | undefined }[];
  report?: QuantReport;
  reportError?: string;
  /** The report the findings come from. */
  reportFile?: string | undefined;
  reportStamp?: string;
}

export class ModelStore {
  private readonly entries = new Map<string, ModelState>();
  private readonly stats = new Map<TensorProto, WeightStats | string>();

  /** The current state of a model, reloaded when the file changed since it was last read. */
  get(modelPath: string): ModelState {
    const stamp = stampOf(modelPath);
    const reportPath = latestReportAbout(modelPath);
    let entry = this.entries.get(modelPath);
    if (!entry || entry.stamp !== stamp) {
      entry?.model?.external.close();
      entry = load(modelPath, stamp);
      this.entries.set(modelPath, entry);
    }
    const reportStamp = reportPath ? `${reportPath}:${stampOf(reportPath)}` : 'none';
    if (entry.reportStamp !== reportStamp) {
      Object.assign(entry, { report: undefined, reportError: undefined, reportFile: reportPath }, reportPath ? readReport(reportPath) : {}, { reportStamp });
    }
    return entry;
  }

  /** Cached entry without touching the disk (undefined when never loaded). */
  peek(modelPath: string): ModelState | undefined {
    return this.entries.get(modelPath);
  }

  forget(modelPath: string): void {
    this.entries.get(modelPath)?.model?.external.close();
    this.entries.delete(modelPath);
  }

  /** Weight statistics of a float tensor, computed once per loaded tensor; a string when not applicable. */
  weightStats(state: ModelState, tensor: TensorProto): WeightStats | string {
    let s = this.stats.get(tensor);
    if (s === undefined) {
      try {
        s = weightStats(tensor, state.model);
      } catch (e) {
        s = oneLine(e);
      }
      this.stats.set(tensor, s);
    }
    return s;
  }
}

function stampOf(file: string): string {
  try {
    const s = fs.statSync(file);
    return `${s.size}:${s.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

function load(modelPath: string, stamp: string): ModelState {
  if (stamp === 'missing') return { path: modelPath, stamp, error: `cannot read '${path.basename(modelPath)}': no such file`, layers: [] };
  try {
    const model = loadModel(modelPath);
    const index = indexModel(model.proto);
    const rendered = renderModel(model.proto, { index });
    const infos = analyzeLayers(model, { index });
    // analyzeLayers returns one entry per index.nodes entry, in the same order.
    const layers = infos.map((info, i) => {
      const node = index.nodes[i]!.node;
      return { info, node, line: rendered.byNode.get(node) };
    });
    return { path: modelPath, stamp, model, rendered, index, layers };
  } catch (e) {
    return { path: modelPath, stamp, error: oneLine(e), layers: [] };
  }
}

function readReport(file: string): { report?: QuantReport; reportError?: string } {
  if (!fs.existsSync(file)) return {};
  try {
    const json = JSON.parse(readRegularText(file, 'report')) as { layers?: unknown; mode?: unknown; label?: unknown; candidate?: unknown; quantize?: { mode?: unknown }; options?: { mode?: unknown } };
    if (!Array.isArray(json.layers)) return { reportError: `${path.basename(file)} has no "layers" list (run compare with --per-layer --json)` };
    const layers = json.layers.filter(
      (l): l is ReportLayer => typeof l === 'object' && l !== null && typeof l.node === 'string' && typeof l.tensor === 'string' && typeof l.sqnrDb === 'number',
    );
    const text = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);
    const mode = text(json.mode) ?? text(json.quantize?.mode) ?? text(json.options?.mode);
    const candidate = text(json.candidate) && path.basename(json.candidate as string);
    const label = text(json.label) ?? (candidate ? (mode ? `${mode} → ${candidate}` : candidate) : mode);
    return label ? { report: { layers, label } } : { report: { layers } };
  } catch (e) {
    return { reportError: `${path.basename(file)} is not valid JSON: ${oneLine(e)}` };
  }
}
