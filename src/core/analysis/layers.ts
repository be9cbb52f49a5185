/**
 * The layer rules: for every node, which quantization modes can act on it, what its weights
 * weigh before and after, and which risks apply. Single source of truth for `inspect`, the
 * language server (diagnostics, hovers) and the UI. Which op types each mode handles, their
 * weight inputs, channel axes and static roles come from the op-rules table
 * (core/onnx/op-rules.ts) the engines use too; the conditions below are the engines' own:
 *
 * - dynamic: MatMul/Gemm with a constant float weight, Gather of a float table (embedding) with
 *   computed indices, LSTM (constant float W and R). Conv only on request (`onRequest`).
 * - static: the static planner's own verdict for a default run (quantize/static/plan.ts
 *   staticVerdicts): compute ops, Relu/Clip folded into them and pass-through ops on tensors
 *   quantized anyway, main graph only; ConvTranspose only on request (no CPU integer kernel).
 * - weight-only: MatMul (or Gemm without transA) with a constant 2-D float weight whose K ≥ 16
 *   (MatMulNBits); a 2-D float32 embedding table whose rows are whole blocks (GatherBlockQuantized).
 *
 * Risks: outlier-dominated weights and channel ranges far apart (see stats.ts for the thresholds), ops ORT's CPU provider
 * cannot fuse when QDQ-wrapped (they would run slower quantized), non-float weights, and
 * tensors whose element type nothing declares. Nodes that are already quantized get `quantized`.
 *
 * Cost: one pass over the nodes; weight statistics once per distinct float weight (two linear
 * passes each, sampled above stats.SAMPLE_LIMIT elements). `stats: false` skips them.
 */
import { DataType, dtypeName } from '../onnx/dtype';
import type { OnnxModel } from '../onnx/model';
import type { NodeProto, TensorProto } from '../onnx/schema';
import { tensorByteSize, tensorElementCount, tensorShape, type TensorSource } from '../onnx/tensor';
import { indexModel, type IndexedNode, type ModelIndex } from '../onnx/graph-index';
import { ConstantFolder, overridableInitializers } from '../onnx/constantFold';
import { makeNode } from '../onnx/builder';
import { create } from '@bufbuild/protobuf';
import { GraphProtoSchema, type GraphProto } from '../onnx/schema';
import { elementTypes, type ElementTypes } from '../onnx/element-types';
import { CHANNEL_SPREAD_RATIO, OUTLIER_RATIO, OUTLIER_STD, weightStats, type WeightStats } from './stats';
import { attrInt } from '../onnx/builder';
import { channelAxisOf, opRule, quantizedFamily, staticOps, type QuantizedFamily } from '../onnx/op-rules';
import { staticVerdicts, type StaticVerdicts } from '../quantize/static/plan';
import { modelNames, uniqueNamer } from '../onnx/branches';
import { staticBodies } from '../quantize/static/bodies';
export { weightStats, statsOf, OUTLIER_RATIO, OUTLIER_STD, SAMPLE_LIMIT, CHANNEL_SPREAD_RATIO, type WeightStats, type ChannelSpread, type WeightStatsOptions } from './stats';

export type LayerMode = 'dynamic' | 'static' | 'weight-only';

export interface OutlierRisk {
  tensor: string;
  absMax: number;
  absMaxP999: number;
  ratio: number;
  outlierShare: number;
  std: number;
}

export interface WideRangeRisk {
  tensor: string;
  axis: number;
  channels: number;
  maxAbsMax: number;
  medianAbsMax: number;
  ratio: number;
}

export interface LayerRisk {
  outlier?: OutlierRisk;
  /** Channel ranges far apart: per-tensor quantization starves most channels (use per-channel). */
  wideRange?: WideRangeRisk;
  unfusable?: string;
  nonFloatWeight?: string;
  missingType?: string;
}

export interface LayerWeight {
  name: string;
  dtype: string;
  shape: number[];
  bytes: number;
  /** Input position in the node. */
  input: number;
}

export interface LayerInfo {
  /** The node's key (core/onnx/graph-index.ts): what --nodes, --exclude-nodes and recipes take. */
  node: string;
  /** The node's name for display (its key within its graph when it has none). */
  label: string;
  opType: string;
  domain: string;
  /** Position in its graph, and the graph's depth (0 = main graph). */
  index: number;
  depth: number;
  modes: LayerMode[];
  /** Modes that apply only when asked for explicitly (Conv in dynamic mode). */
  onRequest?: LayerMode[];
  weights: LayerWeight[];
  /** Bytes of the constant float weights the modes would quantize. */
  weightBytes: number;
  /** Bytes of those weights after each applicable mode (defaults: int8 per-tensor; int4 block 32). */
  savings: Partial<Record<LayerMode, number>>;
  /** Human-readable risks (one line each). */
  notes: string[];
  risk: LayerRisk;
  /** Set when the node is already quantized: which form. */
  quantized?: QuantizedFamily;
}

export interface LayerOptions {
  /** Compute weight statistics for outlier risks (default true). */
  stats?: boolean;
  /** Reuse an index built by the caller. */
  index?: ModelIndex;
}

/** Ops ORT's CPU provider has no fused int8 kernel for: QDQ around them is pure overhead. */
export const UNFUSABLE_OPS = staticOps('unfusable');

/** Bytes of a [K, N] weight stored as MatMulNBits: packed values plus one scale per block (symmetric: no zero points). */
export function weightOnlyBytes(k: number, n: number, bits = 4, blockSize = 32, scaleBytes = 4): number {
  const blocks = Math.ceil(k / blockSize);
  return n * blocks * ((blockSize * bits) / 8) + n * blocks * scaleBytes;
}

/** Bytes of a weight stored as 8-bit with per-tensor scale (4 bytes) and zero point (1 byte). */
export function int8Bytes(elements: number): number {
  return elements + 5;
}

/** Layer information for every node of every graph, in graph order (main graph first). */
export function analyzeLayers(model: OnnxModel | { proto: OnnxModel['proto']; external?: OnnxModel['external'] }, options: LayerOptions = {}): LayerInfo[] {
  const index = options.index ?? indexModel(model.proto);
  const types = elementTypes(index);
  const source: TensorSource = { external: model.external };
  const statsCache = new Map<TensorProto, Map<number, WeightStats | Error>>();
  const statsFor = (t: TensorProto, channelAxis: number | undefined): WeightStats | Error => {
    let perAxis = statsCache.get(t);
    if (!perAxis) statsCache.set(t, (perAxis = new Map()));
    const key = channelAxis ?? -1;
    let s = perAxis.get(key);
    if (!s) {
      try {
        s = weightStats(t, source, channelAxis === undefined ? {} : { channels: { shape: tensorShape(t), axis: channelAxis } });
      } catch (e) {
        s = e as Error;
      }
      perAxis.set(key, s);
    }
    return s;
  };
  // Weights computed from constants by layout ops are weights too: every engine folds them first (onnx/constantFold.ts).
  const folder = new ConstantFolder(index, source, overridableInitializers(model.proto));
  const withStats = options.stats !== false;
  const constantOf = (name: string | undefined): TensorProto | undefined => {
    if (!name) return undefined;
    const c = index.constant(name)?.tensor;
    if (c || !folder.folded(name)) return c;
    // Shape and type are enough without statistics; the bytes are computed only for them.
    return withStats ? folder.tensor(name) : folder.shapeOnly(name);
  };
  // Static mode's verdicts come from the static planner itself, run once on the main graph as the engine sees it (folded).
  const main = model.proto.graph;
  const mainPlan = main ? staticVerdicts(folder.foldedCount ? foldedView(main, folder) : main) : undefined;
  const staticPlan = mainPlan && withBranchVerdicts(mainPlan, index);
  return index.nodes.map((entry) => (folder.folds(entry.node) ? foldedLayer(entry) : layerOf(entry, index, types, staticPlan, constantOf, withStats ? statsFor : undefined)));
}

/** Static mode plans If branches like the main graph (quantize/static/bodies.ts): their verdicts join the main graph's. */
function withBranchVerdicts(verdicts: StaticVerdicts, index: ModelIndex): StaticVerdicts {
  const bodies = staticBodies(index, uniqueNamer(modelNames(index)));
  if (!bodies.length) return verdicts;
  const out = { quantized: new Set(verdicts.quantized), folded: new Set(verdicts.folded), onRequest: new Set(verdicts.onRequest) };
  for (const b of bodies) {
    const v = staticVerdicts(b.graph, b);
    for (const k of ['quantized', 'folded', 'onRequest'] as const) for (const n of v[k]) out[k].add(n);
  }
  return out;
}

/**
 * The main graph with each folded node replaced by a Constant of its value (type and shape only
 * for large ones: the planner reads the values of small constants, Clip bounds, alone); the other
 * nodes are the same objects, so the planner's verdicts apply to them.
 */
function foldedView(main: GraphProto, folder: ConstantFolder): GraphProto {
  const node = main.node.flatMap((n) =>
    folder.folds(n)
      ? n.output.map((o) => {
          const v = folder.folded(o);
          const small = v !== undefined && v.dims.reduce((a, b) => a * b, 1) <= 1024;
          const value = (small ? folder.tensor(o) : folder.shapeOnly(o)) ?? folder.shapeOnly(o);
          return makeNode('Constant', [], [o], value ? { value } : {}, { name: '' });
        })
      : [n],
  );
  return create(GraphProtoSchema, { ...main, node });
}

/** A node that only computes a constant: the engines fold it into one before quantizing, so no mode acts on it. */
function foldedLayer(entry: IndexedNode): LayerInfo {
  const { node } = entry;
  return { node: entry.key, label: entry.label, opType: node.opType, domain: node.domain, index: entry.index, depth: entry.scope.depth, modes: [], weights: [], weightBytes: 0, savings: {}, notes: [], risk: {} };
}

function layerOf(
  entry: IndexedNode,
  index: ModelIndex,
  types: ElementTypes,
  staticPlan: StaticVerdicts | undefined,
  constantOf: (name: string | undefined) => TensorProto | undefined,
  statsFor: ((t: TensorProto, channelAxis: number | undefined) => WeightStats | Error) | undefined,
): LayerInfo {
  const { node } = entry;
  const op = node.opType;
  const standard = node.domain === '' || node.domain === 'ai.onnx';
  const info: LayerInfo = { node: entry.key, label: entry.label, opType: op, domain: node.domain, index: entry.index, depth: entry.scope.depth, modes: [], weights: [], weightBytes: 0, savings: {}, notes: [], risk: {} };

  const family = quantizedFamily(op);
  if (family) {
    if (op !== 'QuantizeLinear' && op !== 'DequantizeLinear') info.quantized = family;
    return info;
  }
  if (node.input.some((name) => name && index.producer(name)?.node.opType === 'DequantizeLinear')) {
    const dequantized = dequantizedWeightFamily(node, index);
    if (dequantized) {
      info.quantized = dequantized;
      return info;
    }
  }

  const rule = opRule(node);
  if (!standard && !rule) return info;

  // Weights: constant inputs at the op's weight positions.
  const weightPositions = rule?.weights ?? [];
  const constWeights: { t: TensorProto; input: number }[] = [];
  for (const pos of weightPositions) {
    const name = node.input[pos];
    const t = constantOf(name);
    if (t) constWeights.push({ t, input: pos });
  }
  // The engines quantize float32 weights, and float16 ones after widening the model (quantize/widen.ts).
  const nonFloat = constWeights.find(({ t }) => !isQuantizableFloat(t.dataType));
  const floatWeights = nonFloat ? [] : constWeights;
  for (const { t, input } of floatWeights) {
    const bytes = safeBytes(t);
    info.weights.push({ name: t.name, dtype: dtypeName(t.dataType), shape: safeShape(t), bytes, input });
    info.weightBytes += bytes;
  }
  if (nonFloat) {
    const msg = `weight '${nonFloat.t.name}' is ${dtypeName(nonFloat.t.dataType).toUpperCase()}: left float (only float32 and float16 weights are quantized)`;
    info.risk.nonFloatWeight = msg;
    info.notes.push(msg);
  }

  const dataInput = op === 'Gather' ? node.input[0] : dataInputOf(node);
  const dataType = dataInput ? types.get(dataInput) : undefined;

  // Dynamic.
  const allWeightsFloat = floatWeights.length > 0 && floatWeights.length === weightPositions.length;
  // Dynamic (op types and treatment from the op-rules table; the conditions are the engine's).
  const indicesConst = op === 'Gather' && constantOf(node.input[1]) !== undefined;
  if (!nonFloat && rule?.dynamic && rule.dynamic !== 'reported') {
    const fits =
      op === 'Gather' ? floatWeights.length === 1 && safeShape(floatWeights[0]!.t).length >= 2 && !indicesConst : allWeightsFloat;
    if (fits) {
      if (rule.dynamic === 'default') info.modes.push('dynamic');
      else info.onRequest = ['dynamic'];
    }
  }

  // Static: the planner's own verdict with the default options (quantize/static/plan.ts), main graph only.
  if (staticPlan?.onRequest.has(node)) info.onRequest = [...(info.onRequest ?? []), 'static'];
  if (staticPlan && (staticPlan.quantized.has(node) || staticPlan.folded.has(node))) {
    info.modes.push('static');
    if (dataInput && dataType === undefined) {
      const producer = index.producer(dataInput)?.node;
      const from = producer ? ` (output of ${producer.domain ? producer.domain + '.' : ''}${producer.opType})` : '';
      const msg = `no element type known for input '${dataInput}'${from}: static calibration needs it (run shape inference)`;
      info.risk.missingType = msg;
      info.notes.push(msg);
    }
  }

  // Weight-only: MatMul, or Gemm without transA (the quantizer folds transB/alpha/beta), with a
  // constant 2-D float weight, K ≥ 16. Same rule as src/core/quantize/weightOnly.ts.
  const weightOnlyKN = (op === 'MatMul' || (op === 'Gemm' && attrInt(node, 'transA', 0) === 0)) && allWeightsFloat ? gemmKN(node, safeShape(floatWeights[0]!.t)) : undefined;
  if (rule?.weightOnly === 'default' && weightOnlyKN && weightOnlyKN[0] >= 16) info.modes.push('weight-only');
  // Embedding tables → GatherBlockQuantized: a 2-D float32 table read on axis 0, rows a whole number of blocks.
  const table = op === 'Gather' && floatWeights.length === 1 ? floatWeights[0]?.t : undefined;
  const tableShape = table ? safeShape(table) : [];
  const gatherBlocks = table !== undefined && isQuantizableFloat(table.dataType) && tableShape.length === 2 && attrInt(node, 'axis', 0) === 0 && !indicesConst && (tableShape[1] ?? 0) % 32 === 0;
  if (rule?.weightOnly === 'default' && gatherBlocks) info.modes.push('weight-only');

  // Unfusable ops: ORT's tool would QDQ-wrap them; the CPU provider then runs them in float with extra work.
  // (A BatchNormalization static mode folds into the Conv before it is not one of them.)
  if (UNFUSABLE_OPS.has(op) && dataType !== undefined && isQuantizableFloat(dataType) && !staticPlan?.folded.has(node)) {
    const msg = `${op} has no fused int8 kernel in ONNX Runtime's CPU provider: QDQ-wrapped it would run slower quantized; keep it float`;
    info.risk.unfusable = msg;
    info.notes.push(msg);
  }

  // Savings and outliers, only for nodes some mode acts on.
  if (info.weightBytes > 0 && (info.modes.length > 0 || info.onRequest)) {
    const int8 = floatWeights.reduce((s, { t }) => s + int8Bytes(safeCount(t)), 0);
    if (info.modes.includes('dynamic')) info.savings.dynamic = int8;
    if (info.modes.includes('static')) info.savings.static = int8;
    if (info.modes.includes('weight-only') && gatherBlocks) info.savings['weight-only'] = weightOnlyBytes(tableShape[1] ?? 0, tableShape[0] ?? 0);
    if (info.modes.includes('weight-only') && weightOnlyKN) {
      const [k, n] = weightOnlyKN;
      const scaleBytes = floatWeights[0]!.t.dataType === DataType.FLOAT16 ? 2 : 4;
      info.savings['weight-only'] = weightOnlyBytes(k!, n!, 4, 32, scaleBytes);
    }
    if (statsFor) {
      for (const { t } of floatWeights) {
        const s = statsFor(t, channelAxisOf(node, safeShape(t).length));
        if (s instanceof Error) {
          info.notes.push(`weight '${t.name}' could not be read: ${s.message}`);
          continue;
        }
        if (s.outlierDominated && !info.risk.outlier) {
          info.risk.outlier = { tensor: t.name, absMax: s.absMax, absMaxP999: s.absMaxP999, ratio: s.outlierRatio, outlierShare: s.outlierShare, std: s.std };
          info.notes.push(
            `weight '${t.name}' range is outlier-dominated: max|w| ${fmt(s.absMax)} is ${s.outlierRatio.toFixed(1)}× the 99.9th percentile of |w| (${fmt(s.absMaxP999)}); ` +
              `${pct(s.outlierShare)} of weights lie beyond ${OUTLIER_STD} std. Per-tensor 8-bit leaves 99.9% of them ≤ ${Math.floor(127 / s.outlierRatio)} levels: use per-channel or exclude (threshold ${OUTLIER_RATIO}×)`,
          );
        }
        const spread = s.channelSpread;
        if (spread && spread.ratio >= CHANNEL_SPREAD_RATIO && !info.risk.wideRange) {
          info.risk.wideRange = { tensor: t.name, ...spread };
          info.notes.push(
            `weight '${t.name}' has a wide range across channels: the largest channel max|w| ${fmt(spread.maxAbsMax)} is ${spread.ratio.toFixed(1)}× the median channel's (${fmt(spread.medianAbsMax)}, ${spread.channels} channels on axis ${spread.axis}). ` +
              `Per-tensor 8-bit leaves the median channel ≤ ${Math.floor(127 / spread.ratio)} levels: use per-channel (threshold ${CHANNEL_SPREAD_RATIO}×)`,
          );
        }
      }
    }
  }
  return info;
}

/** [K, N] of a MatMul/Gemm 2-D weight (Gemm's transB swaps them); undefined for other ranks. */
function gemmKN(node: NodeProto, shape: number[]): [number, number] | undefined {
  if (shape.length !== 2) return undefined;
  const transB = node.opType === 'Gemm' && attrInt(node, 'transB', 0) !== 0;
  return transB ? [shape[1]!, shape[0]!] : [shape[0]!, shape[1]!];
}

/**
 * A node fed by DequantizeLinear: QDQ if its float inputs come from Q→DQ, weight-only if only
 * constant int4 weights are dequantized. Undefined when it still reads a float weight itself (a
 * Conv kept float between quantized neighbours gets their DQ'd activation): ONNX Runtime runs it in float.
 */
function dequantizedWeightFamily(node: NodeProto, index: ModelIndex): LayerInfo['quantized'] {
  const readsFloatWeight = (opRule(node)?.weights ?? []).some((pos) => {
    const weight = node.input[pos] ? index.constant(node.input[pos])?.tensor : undefined;
    return weight !== undefined && isQuantizableFloat(weight.dataType);
  });
  if (readsFloatWeight) return undefined;
  let activationDq = false;
  let fourBit = false;
  for (const name of node.input) {
    const dq = name ? index.producer(name)?.node : undefined;
    if (dq?.opType !== 'DequantizeLinear') continue;
    const x = dq.input[0] ? index.constant(dq.input[0])?.tensor : undefined;
    if (!x) activationDq = true;
    else if (x.dataType === DataType.INT4 || x.dataType === DataType.UINT4) fourBit = true;
  }
  return !activationDq && fourBit ? 'weight-only' : 'qdq';
}

/** The activation input a static quantizer would calibrate (first non-constant input). */
function dataInputOf(node: NodeProto): string | undefined {
  if (node.opType === 'Where') return node.input[1];
  return node.input.find((n) => n.length > 0);
}

/** float32 and float16 weights/activations are quantized; other float types (bfloat16, float8, float64) are left alone. */
function isQuantizableFloat(t: number): boolean {
  return t === DataType.FLOAT || t === DataType.FLOAT16;
}

function safeShape(t: TensorProto): number[] {
  try {
    return tensorShape(t);
  } catch {
    return [];
  }
}
function safeCount(t: TensorProto): number {
  try {
    return tensorElementCount(t);
  } catch {
    return 0;
  }
}
function safeBytes(t: TensorProto): number {
  try {
    return tensorByteSize(t);
  } catch {
    return 0;
  }
}

function fmt(x: number): string {
  return Math.abs(x) >= 0.01 || x === 0 ? x.toPrecision(3) : x.toExponential(2);
}
function pct(x: number): string {
  return x === 0 ? '0%' : x < 0.0001 ? `${(x * 100).toExponential(1)}%` : `${(x * 100).toFixed(2)}%`;
}

/**
 * Whether `mode`'s engine quantizes this layer by default, so that keeping it float changes the
 * result: static QDQ wraps compute ops only (a Flatten or Reshape follows its neighbours' scales),
 * Conv in dynamic mode only when asked for, and an already quantized node not at all.
 */
export function modeQuantizes(info: LayerInfo, mode: LayerMode): boolean {
  if (info.quantized || !info.modes.includes(mode)) return false;
  return mode !== 'static' || opRule({ opType: info.opType, domain: info.domain })?.static === 'compute';
}

/** The layers `inspect` reports: nodes some mode acts on, or with a risk note, or already quantized. */
export function reportedLayers(layers: LayerInfo[]): LayerInfo[] {
  return layers.filter((l) => l.modes.length > 0 || l.notes.length > 0 || l.onRequest || l.quantized);
}
