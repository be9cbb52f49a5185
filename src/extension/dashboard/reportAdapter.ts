/**
 * Maps quantization reports (src/core/report/types.ts: QuantReport, or a bare CompareResult from
 * `compare --json`) onto the dashboard's columns: the float reference first, then one column per
 * candidate. Several reports against the same reference become side-by-side columns.
 *
 * Reports are JSON read from disk or from the worker, so every field is read defensively: a
 * missing or mistyped value shows as "—", never as an exception. No `vscode` import.
 */
import { evaluationDataText } from '../../core/report/format';
import type { DashboardDto, FidelityDto, LatencyDto, LayerErrorDto, ModelColumnDto } from '../../shared/webviewMessages';

type Obj = Record<string, unknown>;
const obj = (x: unknown): Obj => (typeof x === 'object' && x !== null && !Array.isArray(x) ? (x as Obj) : {});
const arr = (x: unknown): unknown[] => (Array.isArray(x) ? x : []);
const str = (x: unknown): string => (typeof x === 'string' ? x : '');
const num = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);
const MAX_LAYERS = 5000;
const MAX_SAMPLES = 10_000;

/** The reports a value holds: one report, an array of them, or `{reports: [...]}`. */
export function reportsOf(value: unknown): Obj[] {
  const list = Array.isArray(value) ? value : Array.isArray(obj(value).reports) ? (obj(value).reports as unknown[]) : [value];
  return list.map(obj).filter((r) => isObjNonEmpty(r.size) || isObjNonEmpty(r.accuracy) || isObjNonEmpty(r.latency));
}
const isObjNonEmpty = (x: unknown): boolean => Object.keys(obj(x)).length > 0;

export const baseName = (p: string): string => p.split(/[\\/]/).pop() ?? p;

function latencyOf(x: unknown): LatencyDto | null {
  const l = obj(x);
  const p50 = num(l.p50Ms);
  const p90 = num(l.p90Ms);
  const p99 = num(l.p99Ms);
  return p50 === null || p90 === null || p99 === null ? null : { p50Ms: p50, p90Ms: p90, p99Ms: p99 };
}

/** Individual timings when the report kept them (`samplesMs`, `timesMs` or `samples`). */
function samplesOf(x: unknown): number[] {
  const l = obj(x);
  const raw = arr(l.samplesMs ?? l.timesMs ?? l.samples);
  return raw.slice(0, MAX_SAMPLES).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
}

function layerErrors(x: unknown): LayerErrorDto[] {
  return arr(x)
    .slice(0, MAX_LAYERS)
    .map(obj)
    .filter((l) => str(l.node) || str(l.tensor))
    .map((l) => ({
      node: str(l.node),
      opType: str(l.opType),
      tensor: str(l.tensor),
      sqnrDb: num(l.sqnrDb),
      identical: l.identical === true,
      localSqnrDb: num(l.localSqnrDb),
      cosine: num(l.cosine),
    }));
}

/** The data line of a report's accuracy (evaluationDataText), null when the report does not say. */
function dataSourceOf(accuracy: Obj): string | null {
  const samples = num(accuracy.samples);
  const inputs = str(accuracy.inputs);
  if (samples === null || !inputs) return null;
  const optional = (x: unknown): string | undefined => str(x) || undefined;
  return evaluationDataText({ inputs, samples, dataFile: optional(accuracy.dataFile), labelsFile: optional(accuracy.labelsFile), candidateAccuracy: num(accuracy.candidateAccuracy) ?? undefined });
}

function fidelityOf(accuracy: Obj, side: 'reference' | 'candidate'): FidelityDto | null {
  if (Object.keys(accuracy).length === 0) return null;
  const labelled = num(side === 'reference' ? accuracy.referenceAccuracy : accuracy.candidateAccuracy);
  const dataSource = dataSourceOf(accuracy);
  if (side === 'reference') return { samples: num(accuracy.samples), agreement: null, cosine: null, sqnrDb: null, identical: false, maxAbsError: null, accuracy: labelled, dataSource };
  return {
    dataSource,
    samples: num(accuracy.samples),
    agreement: num(accuracy.agreement),
    cosine: num(accuracy.cosine),
    sqnrDb: num(accuracy.sqnrDb),
    identical: accuracy.identical === true,
    maxAbsError: num(accuracy.maxAbsError),
    accuracy: labelled,
  };
}

/**
 * The quantizer's fidelity check as one line: the worst output (lowest SQNR) with its cosine and
 * arg-max agreement, the data it ran on, and below the floor the worst layers.
 */
export function quantizeFidelityOf(r: Obj): { text: string; belowFloor: boolean } | null {
  const f = obj(obj(r.quantize).fidelity);
  const outputs = arr(f.outputs).map(obj).filter((o) => str(o.output));
  if (!outputs.length) return null;
  const key = (o: Obj) => (o.identical === true ? Infinity : num(o.sqnrDb) ?? -Infinity);
  const worst = outputs.reduce((a, b) => (key(b) < key(a) ? b : a));
  const db = num(worst.sqnrDb);
  const sqnr = worst.identical === true ? '∞ (identical)' : db === null ? 'n/a' : `${db.toFixed(1)} dB`;
  const cos = num(worst.cosine);
  const agree = num(worst.agreement);
  const belowFloor = f.belowFloor === true;
  const floor = obj(f.floor);
  const layers = arr(f.worstLayers).map(obj).map((l) => str(l.node)).filter(Boolean);
  const text =
    `${outputs.length > 1 ? `${str(worst.output)}: ` : ''}${sqnr}, cosine ${cos === null ? '—' : cos.toFixed(4)}, arg-max ${agree === null ? '—' : `${(agree * 100).toFixed(1)} %`}` +
    (num(f.samples) !== null ? ` (${f.samples} samples of ${str(f.inputs) || 'inputs'})` : '') +
    (belowFloor ? ` ⚠ below the floor (${num(floor.sqnrDb) ?? 20} dB or cosine ${num(floor.cosine) ?? 0.99})${layers.length ? `; worst layers: ${layers.join(', ')}` : ''}` : '');
  return { text: text.slice(0, 2000), belowFloor };
}

function candidateLabel(r: Obj, i: number): string {
  const name = baseName(str(r.candidate));
  const mode = str(obj(r.quantize).mode) || str(obj(r.options).mode);
  return name ? (mode ? `${name} (${mode})` : name) : `candidate ${i + 1}`;
}

const yesNo = (b: unknown): string => (b === true ? 'yes' : b === false ? 'no' : '—');

function environmentOf(r: Obj): { label: string; value: string }[] {
  const e = obj(r.environment);
  if (Object.keys(e).length === 0) return [];
  const flags = obj(e.cpuFlags);
  const latency = obj(r.latency);
  const rows: [string, unknown][] = [
    ['CPU', str(e.cpuModel) + (num(e.logicalCpus) !== null ? ` (${e.logicalCpus} logical)` : '')],
    ['VNNI', yesNo(Object.keys(flags).length ? flags.avx512vnni === true || flags.avxvnni === true : undefined)],
    ['AVX2 / AVX-512', `${yesNo(flags.avx2)} / ${yesNo(flags.avx512f)}`],
    ['Threads', num(e.threads) ?? num(latency.threads)],
    ['Batch', num(latency.batch)],
    ['Timed runs', num(latency.runs)],
    ['ONNX Runtime', str(e.ortVersion)],
    ['Node.js', str(e.nodeVersion)],
    ['Platform', [str(e.platform), str(e.arch)].filter(Boolean).join(' ')],
    ['Created', str(r.createdAt)],
  ];
  return rows.filter(([, v]) => v !== null && v !== '').map(([label, v]) => ({ label, value: String(v) }));
}

function optionsOf(r: Obj): { label: string; value: string }[] {
  return Object.entries(obj(r.options))
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([label, v]) => ({ label, value: (typeof v === 'string' ? v : JSON.stringify(v)).slice(0, 500) }));
}

export function toDashboard(value: unknown): DashboardDto {
  const reports = reportsOf(value);
  const first = reports[0] ?? {};
  const refPath = str(first.reference);
  const refLatency = obj(first.latency).reference;
  const reference: ModelColumnDto = {
    label: refPath ? `${baseName(refPath)} (float)` : 'reference',
    path: refPath,
    role: 'reference',
    bytes: num(obj(first.size).referenceBytes),
    sizeRatio: 1,
    latency: latencyOf(refLatency),
    speedup: 1,
    samplesMs: samplesOf(refLatency),
    fidelity: fidelityOf(obj(first.accuracy), 'reference'),
    layers: [],
  };
  const candidates = reports.map((r, i): ModelColumnDto => {
    const latency = obj(r.latency);
    return {
      label: candidateLabel(r, i),
      path: str(r.candidate),
      role: 'candidate',
      bytes: num(obj(r.size).candidateBytes),
      sizeRatio: num(obj(r.size).ratio),
      latency: latencyOf(latency.candidate),
      speedup: num(latency.speedup),
      samplesMs: samplesOf(latency.candidate),
      fidelity: fidelityOf(obj(r.accuracy), 'candidate'),
      layers: layerErrors(r.layers),
      quantizeFidelity: quantizeFidelityOf(r),
    };
  });
  const title = refPath ? `Quantization report: ${baseName(refPath)}` : 'Quantization report';
  return { title, models: [reference, ...candidates], environment: environmentOf(first), options: reports.length === 1 ? optionsOf(first) : [] };
}

/** The report behind candidate column `model` (column 0 is the reference). */
export function reportForColumn(value: unknown, model: number): Obj | undefined {
  return model >= 1 ? reportsOf(value)[model - 1] : undefined;
}

/** Add a report as a column: same reference → replaces the same candidate or appends; else starts over. */
export function mergeReports(existing: unknown, incoming: unknown): Obj[] {
  const current = reportsOf(existing);
  let result = current;
  for (const r of reportsOf(incoming)) {
    if (result.length > 0 && str(result[0]!.reference) !== str(r.reference)) result = [];
    const same = result.findIndex((c) => str(c.candidate) === str(r.candidate));
    result = same >= 0 ? result.map((c, i) => (i === same ? r : c)) : [...result, r];
  }
  return result;
}
