/**
 * The run history of a float model: every quantization of it that was compared, oldest first,
 * rebuilt from the report files beside it (locate.ts: the `*.quant-report.json` whose reference
 * is the model). Each run carries how it was made (mode, layers kept float), what it measured
 * (size ratio, SQNR, cosine, accuracy, latency) and its delta against the run before it, with a
 * flag on each dimension the change made worse. A run is one candidate file: its report is
 * replaced when the candidate is compared again.
 *
 * Reports are JSON from disk (written by any version, or by hand): every field is read
 * defensively and a missing one is null, never an exception.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readRegularText } from '../util/files';
import { reportsAbout } from './locate';
import { modeQuantizesOp, type OpMode } from '../onnx/op-rules';

export type RunDimension = 'size' | 'fidelity' | 'speed';

export interface RunMetrics {
  candidateBytes: number | null;
  /** Float bytes over this run's bytes. */
  sizeRatio: number | null;
  sqnrDb: number | null;
  /** With sqnrDb null: the outputs were identical. */
  identical: boolean;
  cosine: number | null;
  agreement: number | null;
  /** Labelled accuracy (0..1) of the quantized model, when labels were given. */
  accuracy: number | null;
  referenceAccuracy: number | null;
  latencyP50Ms: number | null;
  /** Float p50 over this run's p50, timed in alternation in the same comparison. */
  speedup: number | null;
  /** The timing's own noise: how far the A/A control's ratio was from 1 (0 when not measured). */
  latencyNoise: number;
}

/** What the comparison ran on: runs are comparable in fidelity only on the same data. */
export interface RunData {
  inputs: 'data' | 'generated' | null;
  samples: number | null;
  /** The evaluation data file, when the report names it. */
  file: string | null;
}

export interface RunDelta {
  /** Later minus earlier, null where either lacks the figure. */
  sizeRatio: number | null;
  sqnrDb: number | null;
  cosine: number | null;
  accuracy: number | null;
  speedup: number | null;
  /** Layers this run keeps float that the previous one quantized, and the reverse. */
  newlyExcluded: string[];
  noLongerExcluded: string[];
  /** False when the two comparisons ran on different data: their fidelity figures do not compare. */
  sameData: boolean;
  /** The dimensions this run made worse than the previous one (beyond the tolerances below). */
  worse: RunDimension[];
}

export interface Run {
  /** 1-based, in history order. */
  number: number;
  /** The report file the run was read from. */
  reportFile: string;
  /** The quantized model. */
  model: string;
  modelExists: boolean;
  createdMs: number;
  mode: string | null;
  /** Nodes kept float (the run's excludeNodes), sorted. */
  excluded: string[];
  /** Nodes the quantizer skipped, with a reason (the report's quantize.skippedNodes). */
  skipped: string[];
  /** The quantizer options the report recorded (empty when it recorded none). */
  options: Record<string, unknown>;
  data: RunData;
  metrics: RunMetrics;
  /** Against the previous run; undefined for the first. */
  delta?: RunDelta;
}

export interface RunHistory {
  model: string;
  runs: Run[];
}

/**
 * Tolerances below which a change is not called worse: size by 1 % of the bytes, SQNR by 0.1 dB
 * (the same data and seed give the same figures), accuracy or agreement by less than one sample,
 * cosine by 1e-5, speed by 10 % of the speedup or the timing's own noise, whichever is larger.
 */
export const WORSE_TOLERANCE = { sizeFraction: 0.01, sqnrDb: 0.1, cosine: 1e-5, speedFraction: 0.1 } as const;

type Obj = Record<string, unknown>;
const obj = (x: unknown): Obj => (typeof x === 'object' && x !== null && !Array.isArray(x) ? (x as Obj) : {});
const num = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);
const strings = (x: unknown): string[] => (Array.isArray(x) ? x.filter((s): s is string => typeof s === 'string' && s.length > 0) : []);

/** One report (parsed JSON) as a run, without number and delta. */
export function runOfReport(report: unknown, reportFile: string, createdMs: number, candidatePath?: string): Omit<Run, 'number' | 'delta'> {
  const r = obj(report);
  const options = obj(r.options);
  const size = obj(r.size);
  const accuracy = obj(r.accuracy);
  const latency = obj(r.latency);
  const control = num(obj(latency.control).ratio);
  const model = candidatePath ?? (typeof r.candidate === 'string' ? r.candidate : '');
  const mode = obj(r.quantize).mode ?? options.mode;
  const inputs = accuracy.inputs === 'data' || accuracy.inputs === 'generated' ? accuracy.inputs : null;
  return {
    reportFile,
    model,
    modelExists: model !== '' && fs.existsSync(model),
    createdMs,
    mode: typeof mode === 'string' ? mode : null,
    excluded: [...new Set(strings(options.excludeNodes))].sort(),
    skipped: Array.isArray(obj(r.quantize).skippedNodes) ? (obj(r.quantize).skippedNodes as unknown[]).map((n) => obj(n).node).filter((n): n is string => typeof n === 'string') : [],
    options,
    data: { inputs, samples: num(accuracy.samples), file: typeof accuracy.dataFile === 'string' && accuracy.dataFile ? accuracy.dataFile : null },
    metrics: {
      candidateBytes: num(size.candidateBytes),
      sizeRatio: num(size.ratio),
      sqnrDb: num(accuracy.sqnrDb),
      identical: accuracy.identical === true,
      cosine: num(accuracy.cosine),
      agreement: num(accuracy.agreement),
      accuracy: num(accuracy.candidateAccuracy),
      referenceAccuracy: num(accuracy.referenceAccuracy),
      latencyP50Ms: num(obj(latency.candidate).p50Ms),
      speedup: num(latency.speedup),
      latencyNoise: control === null ? 0 : Math.abs(control - 1),
    },
  };
}

const diff = (later: number | null, earlier: number | null): number | null => (later === null || earlier === null ? null : later - earlier);

/** An identical output is the best SQNR there is: it compares as +Infinity. */
const sqnrOf = (m: RunMetrics): number | null => (m.sqnrDb === null && m.identical ? Infinity : m.sqnrDb);

/** The delta of `later` against `earlier` and the dimensions it made worse. */
export function runDelta(earlier: Omit<Run, 'number' | 'delta'>, later: Omit<Run, 'number' | 'delta'>): RunDelta {
  const a = earlier.metrics;
  const b = later.metrics;
  const [da, db] = [earlier.data, later.data];
  const sameData = da.inputs !== null && da.inputs === db.inputs && da.samples === db.samples && (da.file === null || db.file === null || da.file === db.file);
  const worse: RunDimension[] = [];
  if (a.candidateBytes !== null && b.candidateBytes !== null ? b.candidateBytes > a.candidateBytes * (1 + WORSE_TOLERANCE.sizeFraction) : a.sizeRatio !== null && b.sizeRatio !== null && b.sizeRatio < a.sizeRatio * (1 - WORSE_TOLERANCE.sizeFraction)) worse.push('size');
  if (sameData) {
    const oneSample = 0.5 / (later.data.samples ?? 1);
    const sa = sqnrOf(a);
    const sb = sqnrOf(b);
    const fidelityWorse =
      (sa !== null && sb !== null && sb < sa - WORSE_TOLERANCE.sqnrDb) ||
      (a.accuracy !== null && b.accuracy !== null && b.accuracy < a.accuracy - oneSample) ||
      (a.agreement !== null && b.agreement !== null && b.agreement < a.agreement - oneSample) ||
      (a.cosine !== null && b.cosine !== null && b.cosine < a.cosine - WORSE_TOLERANCE.cosine);
    if (fidelityWorse) worse.push('fidelity');
  }
  if (a.speedup !== null && b.speedup !== null) {
    const tolerance = Math.max(WORSE_TOLERANCE.speedFraction, a.latencyNoise, b.latencyNoise);
    if (b.speedup < a.speedup * (1 - tolerance)) worse.push('speed');
  }
  const before = new Set(earlier.excluded);
  const after = new Set(later.excluded);
  const sqnr = sqnrOf(b) === Infinity || sqnrOf(a) === Infinity ? null : diff(b.sqnrDb, a.sqnrDb);
  return {
    sizeRatio: diff(b.sizeRatio, a.sizeRatio),
    sqnrDb: sqnr,
    cosine: diff(b.cosine, a.cosine),
    accuracy: diff(b.accuracy, a.accuracy),
    speedup: diff(b.speedup, a.speedup),
    newlyExcluded: later.excluded.filter((n) => !before.has(n)),
    noLongerExcluded: earlier.excluded.filter((n) => !after.has(n)),
    sameData,
    worse,
  };
}

/** Number the runs (oldest first) and give each its delta against the one before. */
export function buildRunHistory(model: string, runs: Omit<Run, 'number' | 'delta'>[]): RunHistory {
  const ordered = [...runs].sort((x, y) => x.createdMs - y.createdMs || x.reportFile.localeCompare(y.reportFile));
  return {
    model,
    runs: ordered.map((run, i) => {
      const previous = ordered[i - 1];
      return { ...run, number: i + 1, ...(previous ? { delta: runDelta(previous, run) } : {}) };
    }),
  };
}

/** A report as read (or as a comparison returned it, with `reportFile` ''). */
export interface RunSource {
  reportFile: string;
  report: unknown;
  createdMs: number;
}

/**
 * The reports about `floatModel` in its folder (locate.ts; none for ''), plus `alsoFiles`
 * (reports shown from elsewhere, e.g. an output folder); unreadable ones are left out.
 */
export function readRunSources(floatModel: string, alsoFiles: readonly string[] = []): RunSource[] {
  const found = new Map(floatModel ? reportsAbout(floatModel).map((r) => [path.resolve(r.file), r.createdMs]) : []);
  const out: RunSource[] = [];
  for (const file of new Set([...found.keys(), ...alsoFiles.map((f) => path.resolve(f))])) {
    let report: unknown;
    let mtimeMs: number;
    try {
      report = JSON.parse(readRegularText(file, 'report'));
      mtimeMs = fs.statSync(file).mtimeMs;
    } catch {
      continue;
    }
    const stamped = Date.parse(String(obj(report).createdAt));
    out.push({ reportFile: file, report, createdMs: found.get(file) ?? (Number.isFinite(stamped) ? stamped : mtimeMs) });
  }
  return out;
}

/** The history these reports make: one run per quantized model (the newest report of it), oldest first. */
export function runsOf(floatModel: string, sources: readonly RunSource[]): RunHistory {
  const byModel = new Map<string, Omit<Run, 'number' | 'delta'>>();
  for (const s of sources) {
    const candidate = obj(s.report).candidate;
    const model = typeof candidate === 'string' && candidate ? (s.reportFile ? besideReport(s.reportFile, candidate) : path.resolve(candidate)) : s.reportFile;
    const run = runOfReport(s.report, s.reportFile, s.createdMs, model);
    const key = model || s.reportFile;
    const kept = byModel.get(key);
    if (!kept || kept.createdMs < run.createdMs || (kept.createdMs === run.createdMs && !kept.reportFile)) byModel.set(key, run);
  }
  return buildRunHistory(floatModel, [...byModel.values()]);
}

/** The run history of `floatModel` from the reports about it in its folder. */
export function readRunHistory(floatModel: string): RunHistory {
  return runsOf(floatModel, readRunSources(floatModel));
}

/** A relative candidate path against the report's folder; one written by a command run elsewhere falls back to the file of that name beside the report. */
function besideReport(reportFile: string, candidate: string): string {
  const dir = path.dirname(reportFile);
  const resolved = path.resolve(dir, candidate);
  return path.isAbsolute(candidate) || fs.existsSync(resolved) ? resolved : path.join(dir, path.basename(candidate));
}

/**
 * Whether keeping `node` float in a run like this one would change the result: the run's mode
 * quantizes its op type (core/onnx/op-rules) and the run neither kept it float already nor
 * skipped it. A run of unknown mode offers every named node.
 */
export function excludable(run: Pick<Run, 'mode' | 'excluded' | 'skipped' | 'options'>, node: { node: string; opType: string }): boolean {
  if (!node.node || run.excluded.includes(node.node) || run.skipped.includes(node.node)) return false;
  const mode = run.mode;
  if (mode !== 'dynamic' && mode !== 'static' && mode !== 'weight-only' && mode !== 'fp16') return true;
  const o = run.options;
  return modeQuantizesOp({ opType: node.opType, domain: '' }, mode as OpMode | 'fp16', {
    opTypes: strings(o.opTypes),
    quantizeConv: o.quantizeConv === true,
    preset: typeof o.preset === 'string' ? o.preset : undefined,
  });
}
