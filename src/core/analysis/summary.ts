/**
 * Everything `inspect` reports about a model (keys per the CLI contract, plus extras).
 *
 * Fast by construction: counts and byte sizes come from dims and dtypes (no tensor data is read
 * for them); tensor data is read only for weight statistics of layers (see layers.ts/stats.ts)
 * and for the parameters of already-quantized tensors. External data is read lazily through
 * the model's reader.
 */
import { dtypeName } from '../onnx/dtype';
import { isExternal, type OnnxModel } from '../onnx/model';
import type { NodeProto, TensorProto, ValueInfoProto } from '../onnx/schema';
import { tensorByteSize, tensorElementCount, tensorShape } from '../onnx/tensor';
import { walkGraphs, walkTensors } from '../onnx/walk';
import { indexModel, type ModelIndex } from '../onnx/graph-index';
import { analyzeLayers, reportedLayers, type LayerInfo } from './layers';
import { analyzeQuantization, type QuantFormat, type QuantizedTensor } from './quantization';

export interface IOInfo {
  name: string;
  /** Element type as ONNX names it (`float32`, `int64`, …); `sequence`/`map`/`optional` for non-tensors; `unknown` if absent. */
  dtype: string;
  /** Dims: numbers, strings for symbolic dims, null for unknown; null when the rank itself is unknown. */
  shape: (number | string | null)[] | null;
}

export interface TensorEntry {
  name: string;
  dtype: string;
  shape: number[];
  parameters: number;
  bytes: number;
  kind: 'initializer' | 'constant' | 'attribute' | 'sparse';
  external: boolean;
}

export interface Tally {
  tensors: number;
  parameters: number;
  bytes: number;
}

export interface ModelSummary {
  file: string;
  /** Model file plus its external data files. */
  fileBytes: number;
  modelFileBytes: number;
  externalFiles: { location: string; bytes: number }[];
  irVersion: number;
  producer: { name: string; version: string };
  domain: string;
  modelVersion: number;
  graphName: string;
  opsets: Record<string, number>;
  inputs: IOInfo[];
  outputs: IOInfo[];
  /** Nodes of the main graph. */
  nodeCount: number;
  /** Op types of the main graph; contrib ops as `domain.Op`. */
  opCounts: Record<string, number>;
  /** If/Loop/Scan bodies, counted apart from the main graph. */
  subgraphs: { count: number; nodeCount: number; opCounts: Record<string, number> };
  /** Initializers of all graphs (main and subgraphs). */
  initializerCount: number;
  parameterCount: number;
  initializerBytes: number;
  /** Tensors held by Constant nodes (not initializers, so not in the counts above). */
  constants: Tally;
  /** Initializer and Constant parameters by the op type that consumes them (through DequantizeLinear/Cast). */
  byOpType: Record<string, Tally>;
  byDtype: Record<string, Tally>;
  largestTensors: TensorEntry[];
  quantization: {
    format: QuantFormat;
    quantizedNodeCount: number;
    families: QuantFormat[];
    quantizeLinearCount: number;
    dequantizeLinearCount: number;
    tensors: QuantizedTensor[];
  };
  /** Nodes quantization can act on, with risks (see layers.ts). */
  layers: LayerInfo[];
}

export interface SummaryOptions {
  /** Compute weight statistics for outlier risks (default true). */
  stats?: boolean;
}

/** Op key as the contract spells it: plain for the default domain, `domain.Op` otherwise. */
export function opKey(node: NodeProto): string {
  return node.domain === '' || node.domain === 'ai.onnx' ? node.opType : `${node.domain}.${node.opType}`;
}

export function summarizeModel(model: OnnxModel, options: SummaryOptions = {}): ModelSummary {
  const proto = model.proto;
  const graph = proto.graph!;
  const index = indexModel(proto);
  const externalFiles = model.external.files(proto);

  const opsets: Record<string, number> = {};
  for (const o of proto.opsetImport) opsets[o.domain === '' ? 'ai.onnx' : o.domain] = Number(o.version);

  const initNames = new Set(graph.initializer.map((t) => t.name));
  const opCounts = countOps(graph.node);
  const sub = { count: 0, nodeCount: 0 };
  const subNodes: NodeProto[] = [];
  for (const visit of walkGraphs(graph)) {
    if (visit.depth === 0) continue;
    sub.count++;
    sub.nodeCount += visit.graph.node.length;
    for (const n of visit.graph.node) subNodes.push(n);
  }

  let initializerCount = 0;
  let parameterCount = 0;
  let initializerBytes = 0;
  const constants: Tally = { tensors: 0, parameters: 0, bytes: 0 };
  // Keyed by model strings: no prototype, so an op type named `constructor` is just a key.
  const byDtype = Object.create(null) as Record<string, Tally>;
  const byOpType = Object.create(null) as Record<string, Tally>;
  const entries: TensorEntry[] = [];
  for (const { tensor, kind, node } of walkTensors(graph)) {
    const parameters = tensorElementCount(tensor);
    const bytes = tensorByteSize(tensor);
    if (kind === 'initializer') {
      initializerCount++;
      parameterCount += parameters;
      initializerBytes += bytes;
    } else if (kind === 'constant') {
      tally(constants, parameters, bytes);
    }
    if (kind === 'initializer' || kind === 'constant') {
      tally((byDtype[dtypeName(tensor.dataType)] ??= zero()), parameters, bytes);
      tally((byOpType[consumerKey(index, kind === 'constant' ? (node?.output[0] ?? tensor.name) : tensor.name)] ??= zero()), parameters, bytes);
    }
    entries.push({ name: tensor.name, dtype: dtypeName(tensor.dataType), shape: tensorShape(tensor), parameters, bytes, kind, external: isExternal(tensor) });
  }
  entries.sort((a, b) => b.bytes - a.bytes);

  const quantization = analyzeQuantization(index, model);
  const layers = reportedLayers(analyzeLayers(model, { index, stats: options.stats ?? true }));

  return {
    file: model.path,
    fileBytes: model.modelFileBytes + externalFiles.reduce((s, f) => s + f.bytes, 0),
    modelFileBytes: model.modelFileBytes,
    externalFiles,
    irVersion: Number(proto.irVersion),
    producer: { name: proto.producerName, version: proto.producerVersion },
    domain: proto.domain,
    modelVersion: Number(proto.modelVersion),
    graphName: graph.name,
    opsets,
    inputs: graph.input.filter((vi) => !initNames.has(vi.name)).map(ioInfo),
    outputs: graph.output.map(ioInfo),
    nodeCount: graph.node.length,
    opCounts,
    subgraphs: { ...sub, opCounts: countOps(subNodes) },
    initializerCount,
    parameterCount,
    initializerBytes,
    constants,
    byOpType: sortTallies(byOpType),
    byDtype: sortTallies(byDtype),
    largestTensors: entries.slice(0, 10),
    quantization,
    layers,
  };
}

function zero(): Tally {
  return { tensors: 0, parameters: 0, bytes: 0 };
}

function tally(t: Tally, parameters: number, bytes: number): void {
  t.tensors++;
  t.parameters += parameters;
  t.bytes += bytes;
}

/** Counted in a Map: op types are model strings ('constructor', '__proto__' are valid names). */
function countOps(nodes: Iterable<NodeProto>): Record<string, number> {
  const counts = new Map<string, number>();
  for (const n of nodes) counts.set(opKey(n), (counts.get(opKey(n)) ?? 0) + 1);
  return sortCounts(counts);
}

function sortCounts(c: Map<string, number>): Record<string, number> {
  // Object.fromEntries defines own properties, so even '__proto__' stays a plain key.
  return Object.fromEntries([...c].sort((a, b) => b[1] - a[1] || byCodeUnits(a[0], b[0])));
}

/** Ties in code-unit order: localeCompare's first call loads ICU's collator, 5-13 ms of a CLI `inspect`. */
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortTallies(c: Record<string, Tally>): Record<string, Tally> {
  return Object.fromEntries(Object.entries(c).sort((a, b) => b[1].bytes - a[1].bytes || byCodeUnits(a[0], b[0])));
}

const LOOK_THROUGH = new Set(['DequantizeLinear', 'Cast', 'Identity']);

/** The op type a constant feeds, looking through one DequantizeLinear/Cast/Identity; `(unused)` when nothing reads it. */
function consumerKey(index: ModelIndex, name: string): string {
  const first = index.consumers(name)[0]?.node;
  if (!first) return '(unused)';
  if (LOOK_THROUGH.has(first.opType) && first.output[0]) {
    const next = index.consumers(first.output[0])[0]?.node;
    if (next) return opKey(next);
  }
  return opKey(first);
}

/** Name, dtype and shape (symbolic dims kept, unknown ones null) of a value info. */
export function ioInfo(vi: ValueInfoProto): IOInfo {
  const t = vi.type?.value;
  if (!t) return { name: vi.name, dtype: 'unknown', shape: null };
  if (t.case !== 'tensorType') {
    const kind = t.case === 'sequenceType' ? 'sequence' : t.case === 'mapType' ? 'map' : t.case === 'optionalType' ? 'optional' : String(t.case);
    return { name: vi.name, dtype: kind, shape: null };
  }
  const tt = t.value;
  const shape = tt.shape
    ? tt.shape.dim.map((d) => (d.value.case === 'dimValue' ? Number(d.value.value) : d.value.case === 'dimParam' ? d.value.value : null))
    : null;
  return { name: vi.name, dtype: tt.elemType ? dtypeName(tt.elemType) : 'unknown', shape };
}
