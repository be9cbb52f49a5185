/**
 * The job protocol between the extension host and the background worker process (Node IPC).
 *
 * Every message is `{v: 1, id, kind, ...}`. The host sends `start` (with a job) and `cancel`;
 * the worker answers with any number of `progress`/`log` messages and exactly one `result` or
 * `error`. Both sides validate what they receive with the parse functions below and drop (and
 * log) anything malformed: a message is data from another process, not trusted structure. A
 * `result` is also checked against its job kind's result shape (resultMismatch); one that does
 * not match fails the job with a WorkError naming the field.
 *
 * No `vscode` import here and no engine import (types only): both sides bundle this file.
 */
import type { QuantizeOptions, QuantizeResult, SkippedNode } from '../core/quantize/types';
import type { Progress } from '../core/progress';
import type { GraphDto } from './graphMessages';
import type { BenchResult, CompareResult, LatencyStats, LayerError, OutputFidelity, QuantizeFidelity, QuantizeSpeed, SpeedRequirement } from '../core/evaluate/types';
import { isGraphDto } from './graphMessages';
import { isArrOf, isBool, isCount as isCountUpTo, isNum, isNumOrNull, isObj, isStr, oneOf } from './webviewMessages';

export const PROTOCOL_VERSION = 1;

// ---------------------------------------------------------------------------------------------
// Jobs

export interface SummarizeJob {
  kind: 'summarize';
  model: string;
}

/** The graph view: nodes, edges and tensors of a model, laid out (shared/graphMessages.ts). */
export interface GraphJob {
  kind: 'graph';
  model: string;
  /** Keys of the nodes whose bodies are shown. */
  expanded?: string[];
  /** Every unit (Q/DQ, QOperator or dynamic integer kernel) drawn as one node. */
  collapsed?: boolean;
  /** Keys of the unit heads drawn as one node, one by one (when not `collapsed`). */
  units?: string[];
  /**
   * Write the graph there as JSON and return a GraphFile: a large graph then never crosses the
   * extension host, which only hands the webview the file's URI (the host stays responsive).
   */
  writeTo?: string;
}

/** A graph the worker wrote to `file` (GraphJob.writeTo), with what the host logs and needs. */
export interface GraphFile {
  file: string;
  nodes: number;
  layoutEngine: string;
  layoutMs: number;
  /** The model beside (the float model of a quantized one, or its variant), as the worker found it. */
  peerFile: string;
}

export interface QuantizeJob {
  kind: 'quantize';
  model: string;
  output: string;
  options: QuantizeOptions;
}

export interface BenchJob {
  kind: 'bench';
  model: string;
  data?: string;
  batch?: number;
  runs?: number;
  warmup?: number;
  threads?: number;
  /** Where a data folder's links may lead besides the folder (the workspace); default: the model's folder. */
  dataRoots?: string[];
}

export interface CompareJob {
  kind: 'compare';
  reference: string;
  candidate: string;
  data?: string;
  labels?: string;
  runs?: number;
  perLayer?: boolean;
  /** Without `data`: use the labelled test set beside the reference (core/data/testData), if any. */
  testDataBeside?: boolean;
  /** Write the report (JSON + Markdown) next to this path stem, e.g. `MODEL.int8` → `MODEL.int8.quant-report.json`. */
  reportStem?: string;
  /** How the candidate was made, recorded in the report. */
  quantize?: QuantizeResult;
  /** Where a data folder's links may lead besides the folder (the workspace); default: the reference's folder. */
  dataRoots?: string[];
}

export interface PerLayerJob {
  kind: 'perLayer';
  reference: string;
  candidate: string;
  data?: string;
  dataRoots?: string[];
}

export type JobRequest = SummarizeJob | GraphJob | QuantizeJob | BenchJob | CompareJob | PerLayerJob;
export type JobKind = JobRequest['kind'];
export const JOB_KINDS: readonly JobKind[] = ['summarize', 'graph', 'quantize', 'bench', 'compare', 'perLayer'];

// ---------------------------------------------------------------------------------------------
// Results (plain JSON DTOs; the worker maps engine results onto them where shapes differ)

export interface TensorInfo {
  name: string;
  dtype: string;
  shape: (number | string)[];
}

export interface OperatorGroup {
  opType: string;
  count: number;
  /** Nodes of this type that at least one quantization mode can act on. */
  quantizable: number;
  /** Union of the modes that apply to nodes of this type. */
  modes: string[];
}

export interface InitializerInfo {
  name: string;
  dtype: string;
  shape: number[];
  bytes: number;
}

/** What the explorer shows for one model; built in the worker so the host never parses. */
export interface ModelOverview {
  path: string;
  fileBytes: number;
  irVersion: number;
  producer: { name: string; version: string };
  opsets: Record<string, number>;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  nodeCount: number;
  parameterCount: number;
  operators: OperatorGroup[];
  largestInitializers: InitializerInfo[];
  quantization: {
    format: string;
    quantizedNodeCount: number;
    /** Human-readable parameters of an already quantized model (e.g. "MatMulNBits: 4 bits, block 32"). */
    details: string[];
  };
  /** Nodes quantization can act on, as `inspect --json` lists them (the model editor's rows). */
  layers: LayerInfo[];
}

export interface LayerInfo {
  /** The node's key (core/onnx/graph-index.ts): what excludeNodes takes. */
  node: string;
  /** The node's name for display. */
  label: string;
  opType: string;
  modes: string[];
  weightBytes: number;
  notes: string[];
}

/** A comparison, plus the report files written when the job had a reportStem. */
export type CompareJobResult = CompareResult & { reportFiles?: string[]; /** The test data found beside the reference, when used. */ dataBeside?: { data: string; labels?: string } };

export interface JobResults {
  summarize: ModelOverview;
  graph: GraphDto | GraphFile;
  quantize: QuantizeResult;
  bench: BenchResult;
  compare: CompareJobResult;
  perLayer: LayerError[];
}
export type JobResult<K extends JobKind> = JobResults[K];

// ---------------------------------------------------------------------------------------------
// Messages

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

export interface StartMessage {
  v: 1;
  id: number;
  kind: 'start';
  job: JobRequest;
}
export interface CancelMessage {
  v: 1;
  id: number;
  kind: 'cancel';
}
export type HostMessage = StartMessage | CancelMessage;

export interface ProgressMessage {
  v: 1;
  id: number;
  kind: 'progress';
  progress: Progress;
}
export interface LogMessage {
  v: 1;
  id: number;
  kind: 'log';
  level: LogLevel;
  message: string;
}
export interface ResultMessage {
  v: 1;
  id: number;
  kind: 'result';
  result: unknown;
}
/** `name` is the engine error class ('InputError', 'WorkError', 'CancelledError') or 'Error' for bugs. */
export interface ErrorMessage {
  v: 1;
  id: number;
  kind: 'error';
  error: { name: string; message: string };
}
export type WorkerMessage = ProgressMessage | LogMessage | ResultMessage | ErrorMessage;

// ---------------------------------------------------------------------------------------------
// Validation: returns the typed message or a one-line reason it was rejected.

type Parsed<T> = { ok: true; message: T } | { ok: false; reason: string };

// The checks are the shared kit's (webviewMessages.ts); these name what the job protocol allows.
const isString = (x: unknown): x is string => isStr(x, 4095) && x.length > 0;
const optional = (o: Record<string, unknown>, key: string, test: (x: unknown) => boolean): boolean => o[key] === undefined || test(o[key]);
const isCount = (x: unknown): boolean => isCountUpTo(x, 1e7);
const isPaths = (x: unknown): boolean => isArrOf(x, isString, 256);
const LOG_LEVELS: readonly string[] = ['trace', 'debug', 'info', 'warn', 'error'];

function envelope(x: unknown): Parsed<Record<string, unknown> & { id: number; kind: string }> {
  if (!isObj(x)) return { ok: false, reason: 'not an object' };
  if (x.v !== PROTOCOL_VERSION) return { ok: false, reason: `unsupported protocol version ${JSON.stringify(x.v)}` };
  if (typeof x.id !== 'number' || !Number.isSafeInteger(x.id) || x.id < 0) return { ok: false, reason: 'missing or invalid id' };
  if (typeof x.kind !== 'string') return { ok: false, reason: 'missing kind' };
  return { ok: true, message: x as Record<string, unknown> & { id: number; kind: string } };
}

/** Validate a job request's shape (paths are strings, counts are sane integers). */
export function validateJob(job: unknown): string | undefined {
  if (!isObj(job)) return 'job is not an object';
  switch (job.kind) {
    case 'summarize':
      return isString(job.model) ? undefined : 'summarize needs model';
    case 'graph':
      if (!isString(job.model)) return 'graph needs model';
      if (!optional(job, 'expanded', (x) => Array.isArray(x) && x.length <= 10_000 && x.every(isString))) return 'graph expanded must be node keys';
      if (!optional(job, 'collapsed', (x) => typeof x === 'boolean')) return 'graph collapsed must be a boolean';
      if (!optional(job, 'units', (x) => Array.isArray(x) && x.length <= 100_000 && x.every(isString))) return 'graph units must be node keys';
      if (!optional(job, 'writeTo', isString)) return 'graph writeTo must be a path';
      return undefined;
    case 'quantize':
      if (!isString(job.model) || !isString(job.output)) return 'quantize needs model and output';
      if (!isObj(job.options) || typeof job.options.mode !== 'string') return 'quantize needs options.mode';
      if (!optional(job.options, 'dataRoots', isPaths)) return 'quantize options.dataRoots must be paths';
      return undefined;
    case 'bench':
      if (!isString(job.model)) return 'bench needs model';
      if (!optional(job, 'data', isString)) return 'bench data must be a path';
      if (!optional(job, 'dataRoots', isPaths)) return 'bench dataRoots must be paths';
      for (const k of ['batch', 'runs', 'warmup', 'threads']) if (!optional(job, k, isCount)) return `bench ${k} must be a count`;
      return undefined;
    case 'compare':
    case 'perLayer':
      if (!isString(job.reference) || !isString(job.candidate)) return `${job.kind} needs reference and candidate`;
      if (!optional(job, 'data', isString) || !optional(job, 'labels', isString) || !optional(job, 'reportStem', isString)) return `${job.kind} paths must be strings`;
      if (!optional(job, 'runs', isCount)) return 'compare runs must be a count';
      if (!optional(job, 'dataRoots', isPaths)) return `${job.kind} dataRoots must be paths`;
      if (!optional(job, 'quantize', isObj)) return 'compare quantize must be an object';
      if (!optional(job, 'testDataBeside', (v) => typeof v === 'boolean')) return 'compare testDataBeside must be a boolean';
      return undefined;
    default:
      return `unknown job kind ${JSON.stringify(job.kind)}`;
  }
}

export function parseHostMessage(x: unknown): Parsed<HostMessage> {
  const e = envelope(x);
  if (!e.ok) return e;
  const m = e.message;
  if (m.kind === 'cancel') return { ok: true, message: { v: 1, id: m.id, kind: 'cancel' } };
  if (m.kind === 'start') {
    const why = validateJob(m.job);
    if (why) return { ok: false, reason: why };
    return { ok: true, message: { v: 1, id: m.id, kind: 'start', job: m.job as JobRequest } };
  }
  return { ok: false, reason: `unknown message kind ${JSON.stringify(m.kind)}` };
}

/** The id of a `start` message, valid or not: the worker answers a job it refuses with an error. */
export function startId(x: unknown): number | undefined {
  const e = envelope(x);
  return e.ok && e.message.kind === 'start' ? e.message.id : undefined;
}

export function parseWorkerMessage(x: unknown): Parsed<WorkerMessage> {
  const e = envelope(x);
  if (!e.ok) return e;
  const m = e.message;
  switch (m.kind) {
    case 'progress': {
      const p = m.progress;
      if (!isObj(p) || typeof p.stage !== 'string') return { ok: false, reason: 'progress needs a stage' };
      if (p.fraction !== undefined && (typeof p.fraction !== 'number' || !(p.fraction >= 0 && p.fraction <= 1))) return { ok: false, reason: 'progress fraction out of 0..1' };
      if (p.message !== undefined && typeof p.message !== 'string') return { ok: false, reason: 'progress message must be a string' };
      return { ok: true, message: m as unknown as ProgressMessage };
    }
    case 'log':
      if (typeof m.level !== 'string' || !LOG_LEVELS.includes(m.level) || typeof m.message !== 'string') return { ok: false, reason: 'log needs level and message' };
      return { ok: true, message: m as unknown as LogMessage };
    case 'result':
      return 'result' in m ? { ok: true, message: m as unknown as ResultMessage } : { ok: false, reason: 'result missing' };
    case 'error': {
      const err = m.error;
      if (!isObj(err) || typeof err.name !== 'string' || typeof err.message !== 'string') return { ok: false, reason: 'error needs name and message' };
      return { ok: true, message: m as unknown as ErrorMessage };
    }
    default:
      return { ok: false, reason: `unknown message kind ${JSON.stringify(m.kind)}` };
  }
}

// ---------------------------------------------------------------------------------------------
// Results: each job kind's result is checked on arrival against its shape. A shape names every
// field of the result type (the compiler rejects one that misses a field), so a field added to a
// result type must be given a check here.

/** true: passes; false: fails; a string: fails at that path inside the value (`.reason`, `[2].node`). */
type Check = (x: unknown) => boolean | string;
type Shape<T> = { readonly [K in keyof T]-?: Check };

const failure = (r: boolean | string): string | undefined => (r === true ? undefined : r === false ? '' : r);

/** Where `x` first departs from `shape` ('' for `x` itself), or undefined when it matches. */
function mismatchOf<T>(x: unknown, shape: Shape<T>): string | undefined {
  if (!isObj(x)) return '';
  for (const [key, check] of Object.entries<Check>(shape)) {
    const at = failure(check(x[key]));
    if (at !== undefined) return `.${key}${at}`;
  }
  return undefined;
}
const matches = <T>(shape: Shape<T>): Check => (x) => mismatchOf(x, shape) ?? true;
const opt = (check: Check): Check => (x) => x === undefined || check(x);
const listOf = (check: Check): Check => (x) => {
  if (!isArrOf(x, () => true, 1e7)) return false;
  for (const [i, item] of (x as unknown[]).entries()) {
    const at = failure(check(item));
    if (at !== undefined) return `[${i}]${at}`;
  }
  return true;
};
const isText = (x: unknown): boolean => isStr(x);
const isStrings = (x: unknown): boolean => isArrOf(x, isText, 1e7);
/** Sizes and counts; measurements (which may be NaN, sent as null) use isNumOrNull. */
const isSize: Check = (x) => isCountUpTo(x);

const TENSOR_INFO: Shape<TensorInfo> = { name: isText, dtype: isText, shape: (x) => isArrOf(x, (d) => isNum(d) || isStr(d), 64) };
const MODEL_OVERVIEW: Shape<ModelOverview> = {
  path: isText,
  fileBytes: isSize,
  irVersion: isSize,
  producer: matches<ModelOverview['producer']>({ name: isText, version: isText }),
  opsets: (x) => isObj(x) && Object.values(x).every((v) => isSize(v)),
  inputs: listOf(matches(TENSOR_INFO)),
  outputs: listOf(matches(TENSOR_INFO)),
  nodeCount: isSize,
  parameterCount: isSize,
  operators: listOf(matches<OperatorGroup>({ opType: isText, count: isSize, quantizable: isSize, modes: isStrings })),
  largestInitializers: listOf(matches<InitializerInfo>({ name: isText, dtype: isText, shape: (x) => isArrOf(x, (d) => isCountUpTo(d), 64), bytes: isSize })),
  quantization: matches<ModelOverview['quantization']>({ format: isText, quantizedNodeCount: isSize, details: isStrings }),
  layers: listOf(matches<LayerInfo>({ node: isText, label: isText, opType: isText, modes: isStrings, weightBytes: isSize, notes: isStrings })),
};

const OUTPUT_FIDELITY: Shape<OutputFidelity> = { output: isText, sqnrDb: isNumOrNull, identical: isBool, cosine: isNumOrNull, agreement: isNumOrNull, maxAbsError: isNumOrNull };
const QUANTIZE_FIDELITY: Shape<QuantizeFidelity> = {
  samples: isSize,
  inputs: (x) => oneOf(x, ['calibration data', 'data', 'generated inputs'] as const),
  inputShapes: opt(isText),
  outputs: listOf(matches(OUTPUT_FIDELITY)),
  floor: matches<QuantizeFidelity['floor']>({ sqnrDb: isNum, cosine: isNum }),
  belowFloor: isBool,
  layersNotRanked: opt(isText),
  worstLayers: opt(listOf((l) => isObj(l) && isStr(l.node) && isStr(l.opType) && isNumOrNull(l.localSqnrDb) && isNumOrNull(l.sqnrDb) && (l.exclude === undefined || listOf(isText)(l.exclude)))),
};
const QUANTIZE_SPEED: Shape<QuantizeSpeed> = {
  floatP50Ms: isNumOrNull,
  quantizedP50Ms: isNumOrNull,
  speedup: isNumOrNull,
  noise: isNumOrNull,
  controlRatio: isNumOrNull,
  verdict: (x) => oneOf(x, ['faster', 'slower', 'same'] as const),
  runs: isSize,
  batch: isSize,
  threads: isSize,
  inputShapes: isText,
  cpuFlags: isText,
  summary: isText,
  alternatives: opt(listOf((a) => isObj(a) && isStr(a.label) && isNumOrNull(a.speedup))),
  requirement: opt(
    matches<SpeedRequirement>({
      speedup: isNumOrNull,
      met: isBool,
      keptFloat: listOf((g) => isObj(g) && isStr(g.group) && isStr(g.opType) && isStr(g.sizeClass) && isStrings(g.nodes)),
      rounds: listOf((r) => isObj(r) && isStrings(r.keptFloat) && isCountUpTo(r.quantizedNodes) && isNumOrNull(r.speedup) && oneOf(r.verdict, ['faster', 'slower', 'same'] as const)),
    }),
  ),
};
const QUANTIZE_RESULT: Shape<QuantizeResult> = {
  output: isText,
  inputBytes: isSize,
  outputBytes: isSize,
  sizeRatio: isNumOrNull,
  quantizedNodes: isSize,
  skippedNodes: listOf(matches<SkippedNode>({ node: isText, reason: isText, subgraph: opt(isText) })),
  seconds: isNumOrNull,
  mode: isText,
  effectiveOptions: (x) => isObj(x) && isStr(x.mode),
  warnings: isStrings,
  inputShapes: opt(isText),
  conversion: opt(isText),
  compensatedNodes: opt(isStrings),
  fidelity: opt(matches(QUANTIZE_FIDELITY)),
  speed: opt(matches(QUANTIZE_SPEED)),
};

const LATENCY: Shape<LatencyStats> = { p50Ms: isNumOrNull, p90Ms: isNumOrNull, p99Ms: isNumOrNull, meanMs: isNumOrNull, minMs: isNumOrNull, maxMs: isNumOrNull };
const LATENCY_CONTROL: Check = (x) => isObj(x) && isNumOrNull(x.p50Ms) && isNumOrNull(x.ratio) && isBool(x.withinTolerance);
const BENCH_RESULT: Shape<BenchResult> = {
  ...LATENCY,
  runs: isSize,
  warmup: isSize,
  batch: isSize,
  threads: isSize,
  inputs: (x) => oneOf(x, ['data', 'generated'] as const),
  inputShapes: opt(isText),
  control: opt(LATENCY_CONTROL),
};
const LAYER_ERROR: Shape<LayerError> = {
  tensor: isText,
  node: isText,
  opType: isText,
  candidateTensor: isText,
  sqnrDb: isNumOrNull,
  identical: isBool,
  cosine: isNumOrNull,
  maxAbsError: isNumOrNull,
  localSqnrDb: isNumOrNull,
  exclude: opt(listOf(isText)),
};
const SAMPLED_LATENCY: Check = matches({ ...LATENCY, samplesMs: opt(listOf(isNumOrNull)) });
const COMPARE_RESULT: Shape<CompareJobResult> = {
  reference: isText,
  candidate: isText,
  size: matches<CompareResult['size']>({ referenceBytes: isSize, candidateBytes: isSize, ratio: isNumOrNull }),
  latency: matches<CompareResult['latency']>({
    reference: SAMPLED_LATENCY,
    candidate: SAMPLED_LATENCY,
    speedup: isNumOrNull,
    runs: isSize,
    batch: isSize,
    threads: isSize,
    control: opt(LATENCY_CONTROL),
    inputShapes: opt(isText),
  }),
  accuracy: matches<CompareResult['accuracy']>({
    samples: isSize,
    agreement: isNumOrNull,
    cosine: isNumOrNull,
    sqnrDb: isNumOrNull,
    identical: isBool,
    maxAbsError: isNumOrNull,
    referenceAccuracy: opt(isNumOrNull),
    candidateAccuracy: opt(isNumOrNull),
    output: isText,
    inputs: (x) => oneOf(x, ['data', 'generated'] as const),
    dataFile: opt(isText),
    labelsFile: opt(isText),
  }),
  layers: opt(listOf(matches(LAYER_ERROR))),
  reportFiles: opt(isStrings),
  dataBeside: opt(matches<NonNullable<CompareJobResult['dataBeside']>>({ data: isText, labels: opt(isText) })),
};

const GRAPH_FILE: Shape<GraphFile> = { file: isText, nodes: isSize, layoutEngine: isText, layoutMs: isNum, peerFile: (x) => typeof x === 'string' };

const RESULT_MISMATCH: { readonly [K in JobKind]: (x: unknown) => string | undefined } = {
  summarize: (x) => mismatchOf(x, MODEL_OVERVIEW),
  graph: (x) => (isGraphDto(x) ? undefined : mismatchOf(x, GRAPH_FILE)),
  quantize: (x) => mismatchOf(x, QUANTIZE_RESULT),
  bench: (x) => mismatchOf(x, BENCH_RESULT),
  compare: (x) => mismatchOf(x, COMPARE_RESULT),
  perLayer: (x) => failure(listOf(matches(LAYER_ERROR))(x)),
};

/**
 * Why a worker's result does not have the shape of its job kind's result (`quantize result:
 * .skippedNodes[2].reason is not as expected`), or undefined when it does.
 */
export function resultMismatch(kind: JobKind, result: unknown): string | undefined {
  const at = RESULT_MISMATCH[kind](result);
  if (at === undefined) return undefined;
  return at === '' ? `${kind} result is not what a ${kind} job returns` : `${kind} result: ${at.replace(/^\./, '')} is not as expected`;
}

/** Short, human label of a job for logs and the status bar. */
export function describeJob(job: JobRequest): string {
  const base = (p: string): string => p.split(/[\\/]/).pop()?.replace(/\.onnx$/i, '') ?? p;
  switch (job.kind) {
    case 'summarize':
      return `Reading ${base(job.model)}`;
    case 'graph':
      return `Laying out ${base(job.model)}`;
    case 'quantize':
      return `Quantizing ${base(job.model)}`;
    case 'bench':
      return `Benchmarking ${base(job.model)}`;
    case 'compare':
      return `Comparing ${base(job.reference)} with ${base(job.candidate)}`;
    case 'perLayer':
      return `Per-layer comparison of ${base(job.candidate)}`;
  }
}

/**
 * What a host needs to know of the jobs it sends: a label for logs and the check of their result.
 * JOB_PROTOCOL knows JobRequest; testJobs.ts extends it with the test-only jobs.
 */
export interface JobProtocol {
  describe(job: { kind: string }): string;
  resultMismatch(kind: string, result: unknown): string | undefined;
}
const isJobRequest = (job: { kind: string }): job is JobRequest => (JOB_KINDS as readonly string[]).includes(job.kind);
export const JOB_PROTOCOL: JobProtocol = {
  describe: (job) => (isJobRequest(job) ? describeJob(job) : job.kind),
  resultMismatch: (kind, result) => (isJobRequest({ kind }) ? resultMismatch(kind as JobKind, result) : `${kind} result: ${kind} is not a job kind`),
};
