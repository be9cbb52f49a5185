/**
 * Messages between the extension host and our two webviews (model editor, comparison dashboard).
 *
 * One discriminated union per direction and per webview, each with a runtime validator. The host
 * runs `isEditorToHostMessage` / `isDashboardToHostMessage` on every message a webview posts
 * (anything else is dropped and logged); the webviews run `isHostToEditorMessage` /
 * `isHostToDashboardMessage` on what the host posts. Model-derived strings (node names, producer,
 * metadata) come from untrusted files: validators only check shapes; the webview inserts every
 * string with textContent.
 *
 * Every message is `{v: 1, type, ...}`; request/response pairs carry a numeric `requestId`.
 * No `vscode` import and no engine import: both the host bundle and the browser bundle use this file.
 */

export const WEBVIEW_PROTOCOL_VERSION = 1;

/** The webviews show byte counts as the CLI, hovers and tree do (one formatter, one unit spelling). */
export { formatBytes } from '../core/report/format';
import type { RunDelta, RunDimension } from '../core/report/runs';

// ---------------------------------------------------------------------------------------------
// Editor DTOs

export interface TensorDto {
  name: string;
  dtype: string;
  shape: (number | string)[];
}

export interface ModelCardDto {
  fileName: string;
  fileBytes: number;
  irVersion: number | null;
  producer: string;
  opsets: { domain: string; version: number }[];
  inputs: TensorDto[];
  outputs: TensorDto[];
  nodeCount: number;
  parameterCount: number;
  initializerBytes: number | null;
  quantization: { format: string; quantizedNodeCount: number };
}

/** One bar of the "bytes per op type" chart. */
export interface OpStatDto {
  opType: string;
  count: number;
  weightBytes: number;
  /** Nodes of this type at least one quantization mode can act on. */
  quantizable: number;
}

export type DiagnosticSeverityName = 'error' | 'warning' | 'info' | 'hint';
export const SEVERITIES: readonly DiagnosticSeverityName[] = ['error', 'warning', 'info', 'hint'];

export interface RowDiagnosticDto {
  severity: DiagnosticSeverityName;
  message: string;
}

export interface LayerRowDto {
  /** Position of the node in the graph (stable id of the row). */
  index: number;
  /** The node's key (core/onnx/graph-index.ts): what exclusions, recipes and diagnostics name it by. */
  node: string;
  /** The node's name for display. */
  label: string;
  opType: string;
  weightBytes: number;
  modes: string[];
  notes: string[];
  diagnostics: RowDiagnosticDto[];
}

export type LayerSortColumn = 'index' | 'node' | 'opType' | 'weightBytes' | 'modes' | 'notes' | 'diagnostics';
export const LAYER_SORT_COLUMNS: readonly LayerSortColumn[] = ['index', 'node', 'opType', 'weightBytes', 'modes', 'notes', 'diagnostics'];

export interface LayerQuery {
  /** Case-insensitive substring over node name, op type, modes, notes and diagnostics. */
  filter: string;
  sort: LayerSortColumn;
  descending: boolean;
}

/** Largest page the host serves; the webview asks for less. */
export const MAX_PAGE_ROWS = 1000;
export const MAX_FILTER_LENGTH = 500;

export type EditorCommand = 'quantize' | 'benchmark' | 'compare' | 'showAsText' | 'openGraph';
export const EDITOR_COMMANDS: readonly EditorCommand[] = ['quantize', 'benchmark', 'compare', 'showAsText', 'openGraph'];
/** Commands that run models or write files: refused in Restricted Mode, so disabled there. */
export const TRUSTED_EDITOR_COMMANDS: readonly EditorCommand[] = ['quantize', 'benchmark', 'compare'];

// ---------------------------------------------------------------------------------------------
// Editor messages

/** The webview finished loading and wants its state (sent again after a reload). */
export interface EditorReadyMessage {
  v: 1;
  type: 'ready';
}
export interface RequestRowsMessage {
  v: 1;
  type: 'requestRows';
  requestId: number;
  offset: number;
  limit: number;
  query: LayerQuery;
}
export interface RunCommandMessage {
  v: 1;
  type: 'runCommand';
  command: EditorCommand;
}
/** Ask the host to compute the summary again (after an error). */
export interface RetryMessage {
  v: 1;
  type: 'retry';
}
/** Open the model's graph with this node (a row's key) selected. */
export interface ShowInGraphMessage {
  v: 1;
  type: 'showInGraph';
  node: string;
}
export type EditorToHostMessage = EditorReadyMessage | RequestRowsMessage | RunCommandMessage | RetryMessage | ShowInGraphMessage;

export interface LoadingMessage {
  v: 1;
  type: 'loading';
  fileName: string;
}
export interface SummaryMessage {
  v: 1;
  type: 'summary';
  card: ModelCardDto;
  ops: OpStatDto[];
  /** Rows before filtering. */
  rowCount: number;
}
export interface SummaryErrorMessage {
  v: 1;
  type: 'summaryError';
  message: string;
}
export interface RowsMessage {
  v: 1;
  type: 'rows';
  requestId: number;
  offset: number;
  /** Rows matching the query (the scroll height). */
  total: number;
  rows: LayerRowDto[];
}
/** Row content changed (diagnostics arrived): drop cached pages and ask again. */
export interface RowsChangedMessage {
  v: 1;
  type: 'rowsChanged';
}
/** Workspace trust: sent when the webview is ready and again when the user grants trust. */
export interface TrustMessage {
  v: 1;
  type: 'trust';
  trusted: boolean;
}
export type HostToEditorMessage = LoadingMessage | SummaryMessage | SummaryErrorMessage | RowsMessage | RowsChangedMessage | TrustMessage;

// ---------------------------------------------------------------------------------------------
// Dashboard DTOs: one column per model, the float reference first

export interface LatencyDto {
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
}

export interface FidelityDto {
  samples: number | null;
  agreement: number | null;
  cosine: number | null;
  sqnrDb: number | null;
  /** With sqnrDb null: true = outputs identical, false = no meaningful SQNR (non-finite outputs). */
  identical: boolean;
  maxAbsError: number | null;
  /** Labelled accuracy (0..1) when labels were given. */
  accuracy: number | null;
  /** What the comparison ran on: `digits_test_x.npy, 360 samples, labelled` (null: unknown). */
  dataSource?: string | null;
}

export interface LayerErrorDto {
  node: string;
  opType: string;
  tensor: string;
  /** SQNR of the tensor (null: identical, or no meaningful value when `identical` is false). */
  sqnrDb: number | null;
  identical: boolean;
  /** Error this node adds itself (the ranking key; lower is worse). */
  localSqnrDb: number | null;
  cosine: number | null;
  /** Keeping the node float would change this run (its mode quantized it); absent: not known, offered. */
  excludable?: boolean;
  /** The run kept this node float. */
  excluded?: boolean;
}

export type { RunDimension } from '../core/report/runs';
export const RUN_DIMENSIONS: readonly RunDimension[] = ['size', 'fidelity', 'speed'];

/** A run against the one before it (core/report/runs.ts RunDelta), and which run that was. */
export type RunDeltaDto = RunDelta & { against: number };

/** A candidate column as one run of the float model (core/report/runs.ts). */
export interface RunColumnDto {
  number: number;
  /** Nodes the run kept float. */
  excluded: string[];
  delta: RunDeltaDto | null;
  /** The quantized model is still on disk (re-quantize and the graph need it). */
  modelExists: boolean;
}

export interface ModelColumnDto {
  label: string;
  path: string;
  role: 'reference' | 'candidate';
  bytes: number | null;
  /** Reference bytes over this model's bytes. */
  sizeRatio: number | null;
  latency: LatencyDto | null;
  /** Reference p50 over this model's p50. */
  speedup: number | null;
  /** Individual run timings (ms) when the report kept them. */
  samplesMs: number[];
  fidelity: FidelityDto | null;
  /** Per-layer error against the reference, worst first (candidates only). */
  layers: LayerErrorDto[];
  /**
   * The quantizer's own fidelity check (report.quantize.fidelity), when the report has it: the
   * worst output's figures, and whether that is below the floor (then the worst layers).
   */
  quantizeFidelity?: { text: string; belowFloor: boolean } | null;
  /** Set when the dashboard shows the float model's run history. */
  run?: RunColumnDto | null;
}

export interface DashboardDto {
  title: string;
  models: ModelColumnDto[];
  environment: { label: string; value: string }[];
  options: { label: string; value: string }[];
}

export type ExportFormat = 'markdown' | 'html' | 'json';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['markdown', 'html', 'json'];

// ---------------------------------------------------------------------------------------------
// Dashboard messages

export interface DashboardReadyMessage {
  v: 1;
  type: 'ready';
}
/** Re-quantize the candidate in column `model` keeping `nodes` in float. */
export interface ExcludeNodesMessage {
  v: 1;
  type: 'excludeNodes';
  model: number;
  nodes: string[];
}
export interface ExportMessage {
  v: 1;
  type: 'export';
  format: ExportFormat;
}
/** Open the graph of the candidate in column `model` with `node` selected. */
export interface DashboardShowInGraphMessage {
  v: 1;
  type: 'showInGraph';
  model: number;
  node: string;
}
/** Remove the run in column `model` (asks first; its report files go, the model only if the user says so). */
export interface RemoveRunMessage {
  v: 1;
  type: 'removeRun';
  model: number;
}
export type DashboardToHostMessage = DashboardReadyMessage | ExcludeNodesMessage | ExportMessage | DashboardShowInGraphMessage | RemoveRunMessage;

export interface ShowReportMessage {
  v: 1;
  type: 'report';
  report: DashboardDto;
  /** Opaque to the webview: saved with setState so the panel serializer can restore it. */
  persist: unknown;
}
export type HostToDashboardMessage = ShowReportMessage;

// ---------------------------------------------------------------------------------------------
// Validators

// The shape checks every protocol uses: the webviews' (the graph view's too) and the job results (protocol.ts).
export type Obj = Record<string, unknown>;
const MAX_STRING = 100_000;
const MAX_ITEMS = 100_000;

export const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);
export const isStr = (x: unknown, max = MAX_STRING): x is string => typeof x === 'string' && x.length <= max;
export const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
/** A measurement: JSON carries NaN and ±Infinity as null. */
export const isNumOrNull = (x: unknown): x is number | null => x === null || isNum(x);
export const isCount = (x: unknown, max = Number.MAX_SAFE_INTEGER): x is number =>
  typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 && x <= max;
export const isBool = (x: unknown): x is boolean => typeof x === 'boolean';
export const isArrOf = (x: unknown, item: (y: unknown) => boolean, max = MAX_ITEMS): boolean =>
  Array.isArray(x) && x.length <= max && x.every(item);
export const oneOf = <T extends string>(x: unknown, values: readonly T[]): x is T => typeof x === 'string' && (values as readonly string[]).includes(x);
const versioned = (x: unknown): x is Obj & { type: unknown } => isObj(x) && x.v === WEBVIEW_PROTOCOL_VERSION && typeof x.type === 'string';

/** A node key as webviews send it back (the graph protocol checks targets the same way). */
export const isNodeKey = (x: unknown): x is string => isStr(x, 4096) && x.length > 0;

export function isLayerQuery(x: unknown): x is LayerQuery {
  return isObj(x) && isStr(x.filter, MAX_FILTER_LENGTH) && oneOf(x.sort, LAYER_SORT_COLUMNS) && isBool(x.descending);
}

export function isEditorToHostMessage(x: unknown): x is EditorToHostMessage {
  if (!versioned(x)) return false;
  switch (x.type) {
    case 'ready':
    case 'retry':
      return true;
    case 'requestRows':
      return isCount(x.requestId) && isCount(x.offset) && isCount(x.limit, MAX_PAGE_ROWS) && x.limit > 0 && isLayerQuery(x.query);
    case 'runCommand':
      return oneOf(x.command, EDITOR_COMMANDS);
    case 'showInGraph':
      return isNodeKey(x.node);
    default:
      return false;
  }
}

const isTensor = (x: unknown): boolean =>
  isObj(x) && isStr(x.name) && isStr(x.dtype) && isArrOf(x.shape, (d) => isNum(d) || isStr(d));

export function isModelCard(x: unknown): x is ModelCardDto {
  return (
    isObj(x) &&
    isStr(x.fileName) &&
    isCount(x.fileBytes) &&
    (x.irVersion === null || isCount(x.irVersion)) &&
    isStr(x.producer) &&
    isArrOf(x.opsets, (o) => isObj(o) && isStr(o.domain) && isCount(o.version)) &&
    isArrOf(x.inputs, isTensor) &&
    isArrOf(x.outputs, isTensor) &&
    isCount(x.nodeCount) &&
    isCount(x.parameterCount) &&
    (x.initializerBytes === null || isCount(x.initializerBytes)) &&
    isObj(x.quantization) &&
    isStr(x.quantization.format) &&
    isCount(x.quantization.quantizedNodeCount)
  );
}

const isOpStat = (x: unknown): boolean =>
  isObj(x) && isStr(x.opType) && isCount(x.count) && isCount(x.weightBytes) && isCount(x.quantizable);

const isRowDiagnostic = (x: unknown): boolean => isObj(x) && oneOf(x.severity, SEVERITIES) && isStr(x.message);

export function isLayerRow(x: unknown): x is LayerRowDto {
  return (
    isObj(x) &&
    isCount(x.index) &&
    isStr(x.node) &&
    isStr(x.label) &&
    isStr(x.opType) &&
    isCount(x.weightBytes) &&
    isArrOf(x.modes, (m) => isStr(m)) &&
    isArrOf(x.notes, (n) => isStr(n)) &&
    isArrOf(x.diagnostics, isRowDiagnostic)
  );
}

export function isHostToEditorMessage(x: unknown): x is HostToEditorMessage {
  if (!versioned(x)) return false;
  switch (x.type) {
    case 'loading':
      return isStr(x.fileName);
    case 'summary':
      return isModelCard(x.card) && isArrOf(x.ops, isOpStat) && isCount(x.rowCount);
    case 'summaryError':
      return isStr(x.message);
    case 'rows':
      return isCount(x.requestId) && isCount(x.offset) && isCount(x.total) && isArrOf(x.rows, isLayerRow, MAX_PAGE_ROWS);
    case 'rowsChanged':
      return true;
    case 'trust':
      return isBool(x.trusted);
    default:
      return false;
  }
}

export function isDashboardToHostMessage(x: unknown): x is DashboardToHostMessage {
  if (!versioned(x)) return false;
  switch (x.type) {
    case 'ready':
      return true;
    case 'excludeNodes':
      return isCount(x.model, 1000) && isArrOf(x.nodes, isNodeKey, 10_000) && (x.nodes as unknown[]).length > 0;
    case 'export':
      return oneOf(x.format, EXPORT_FORMATS);
    case 'showInGraph':
      return isCount(x.model, 1000) && isNodeKey(x.node);
    case 'removeRun':
      return isCount(x.model, 1000) && x.model > 0;
    default:
      return false;
  }
}

const isLatency = (x: unknown): boolean => isObj(x) && isNum(x.p50Ms) && isNum(x.p90Ms) && isNum(x.p99Ms);
const isFidelity = (x: unknown): boolean =>
  isObj(x) && isBool(x.identical) && ['samples', 'agreement', 'cosine', 'sqnrDb', 'maxAbsError', 'accuracy'].every((k) => isNumOrNull(x[k])) && (x.dataSource === undefined || x.dataSource === null || isStr(x.dataSource));
const isOptionalBool = (x: unknown): boolean => x === undefined || isBool(x);
const isLayerError = (x: unknown): boolean =>
  isObj(x) && isStr(x.node) && isStr(x.opType) && isStr(x.tensor) && isNumOrNull(x.sqnrDb) && isBool(x.identical) && isNumOrNull(x.localSqnrDb) && isNumOrNull(x.cosine) &&
  isOptionalBool(x.excludable) && isOptionalBool(x.excluded);
const isNodeList = (x: unknown): boolean => isArrOf(x, (n) => isStr(n, 4096), 10_000);
const isRunDelta = (x: unknown): boolean =>
  isObj(x) && isCount(x.against) && ['sizeRatio', 'sqnrDb', 'cosine', 'accuracy', 'speedup'].every((k) => isNumOrNull(x[k])) &&
  isNodeList(x.newlyExcluded) && isNodeList(x.noLongerExcluded) && isBool(x.sameData) && isArrOf(x.worse, (w) => oneOf(w, RUN_DIMENSIONS), 3);
const isRunColumn = (x: unknown): boolean =>
  isObj(x) && isCount(x.number) && isNodeList(x.excluded) && (x.delta === null || isRunDelta(x.delta)) && isBool(x.modelExists);
const isLabelled = (x: unknown): boolean => isObj(x) && isStr(x.label) && isStr(x.value);

export function isModelColumn(x: unknown): x is ModelColumnDto {
  return (
    isObj(x) &&
    isStr(x.label) &&
    isStr(x.path) &&
    oneOf(x.role, ['reference', 'candidate'] as const) &&
    isNumOrNull(x.bytes) &&
    isNumOrNull(x.sizeRatio) &&
    (x.latency === null || isLatency(x.latency)) &&
    isNumOrNull(x.speedup) &&
    isArrOf(x.samplesMs, isNum) &&
    (x.fidelity === null || isFidelity(x.fidelity)) &&
    isArrOf(x.layers, isLayerError) &&
    (x.quantizeFidelity === undefined || x.quantizeFidelity === null || (isObj(x.quantizeFidelity) && isStr(x.quantizeFidelity.text, 2000) && isBool(x.quantizeFidelity.belowFloor))) &&
    (x.run === undefined || x.run === null || isRunColumn(x.run))
  );
}

export function isDashboard(x: unknown): x is DashboardDto {
  return (
    isObj(x) &&
    isStr(x.title) &&
    isArrOf(x.models, isModelColumn, 1000) &&
    isArrOf(x.environment, isLabelled, 1000) &&
    isArrOf(x.options, isLabelled, 1000)
  );
}

export function isHostToDashboardMessage(x: unknown): x is HostToDashboardMessage {
  return versioned(x) && x.type === 'report' && isDashboard(x.report) && 'persist' in x;
}
