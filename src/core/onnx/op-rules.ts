/**
 * What the quantizer knows about each op type, as data (netron's onnx.js keeps op knowledge the
 * same way): which inputs are weights, the weight's output-channel axis, the op's role in static
 * quantization, and how each mode's engine treats it. The analysis derives a layer's modes from
 * this table and every engine takes its op lists from it, so they cannot drift apart.
 *
 * Static roles (ONNX Runtime's CPU provider):
 * - compute: an integer kernel behind the QDQ fusion (the op is quantized with its inputs and output);
 * - pass-through: keeps 8-bit tensors through (same scale), only when its input is quantized anyway;
 * - fold: Relu/Clip after a quantized op, folded into its QuantizeLinear;
 * - cpu-unfused: has a QDQ form but no CPU integer kernel: quantized only on request (gpu preset, --op-types);
 * - unfusable: no fused int8 kernel; QDQ around it is pure overhead (a risk note, never quantized).
 *
 * Mode treatment: 'default' (quantized unless filtered out), 'on-request' (only when asked for
 * by --op-types or an option, e.g. Conv in dynamic mode), 'reported' (the engine looks at it
 * and reports why it stays float, e.g. Attention in dynamic mode).
 */
import type { NodeProto } from './schema';
import { attrInt } from './builder';

export type StaticRole = 'compute' | 'pass-through' | 'fold' | 'cpu-unfused' | 'unfusable';
export type ModeTreatment = 'default' | 'on-request' | 'reported';
/** The modes that act on individual ops (fp16 converts every float weight, whatever reads it). */
export type OpMode = 'dynamic' | 'static' | 'weight-only';

/** Where a weight's output channels lie: first axis, second axis, last axis, or Gemm's by transB. */
export type ChannelAxis = 'first' | 'second' | 'last' | 'gemm';

export interface OpRule {
  /** The domain the rule is for ('' = ai.onnx). */
  domain: '' | 'com.microsoft';
  /** Input positions holding weights (the inputs the quantizer stores quantized). */
  weights?: readonly number[];
  channelAxis?: ChannelAxis;
  static?: StaticRole;
  dynamic?: ModeTreatment;
  weightOnly?: ModeTreatment;
  /** The integer operator static QOperator format writes for a compute op (else DQ → op → Q). */
  qoperator?: string;
}

const compute = (extra: Partial<OpRule> = {}): OpRule => ({ domain: '', static: 'compute', ...extra });
const passThrough: OpRule = { domain: '', static: 'pass-through' };
const unfusable: OpRule = { domain: '', static: 'unfusable' };

export const OP_RULES: Readonly<Record<string, OpRule>> = {
  MatMul: compute({ weights: [1], channelAxis: 'last', dynamic: 'default', weightOnly: 'default', qoperator: 'QLinearMatMul' }),
  Gemm: compute({ weights: [1], channelAxis: 'gemm', dynamic: 'default', weightOnly: 'default', qoperator: 'QGemm' }),
  Conv: compute({ weights: [1], channelAxis: 'first', dynamic: 'on-request', qoperator: 'QLinearConv' }),
  ConvTranspose: { domain: '', weights: [1], channelAxis: 'second', static: 'cpu-unfused' },
  Gather: { domain: '', weights: [0], static: 'pass-through', dynamic: 'default', weightOnly: 'default' },
  LSTM: { domain: '', weights: [1, 2], dynamic: 'default' },
  Attention: { domain: 'com.microsoft', weights: [1], dynamic: 'reported' },
  Add: compute({ qoperator: 'QLinearAdd' }),
  Mul: compute({ qoperator: 'QLinearMul' }),
  Concat: compute({ qoperator: 'QLinearConcat' }),
  AveragePool: compute({ qoperator: 'QLinearAveragePool' }),
  GlobalAveragePool: compute({ qoperator: 'QLinearGlobalAveragePool' }),
  Sigmoid: compute({ qoperator: 'QLinearSigmoid' }),
  LeakyRelu: compute({ qoperator: 'QLinearLeakyRelu' }),
  Softmax: compute({ qoperator: 'QLinearSoftmax' }),
  Relu: { domain: '', static: 'fold' },
  Clip: { domain: '', static: 'fold' },
  Reshape: passThrough,
  Transpose: passThrough,
  Squeeze: passThrough,
  Unsqueeze: passThrough,
  Flatten: passThrough,
  MaxPool: passThrough,
  Resize: passThrough,
  Split: passThrough,
  ...Object.fromEntries(
    [
      'LayerNormalization', 'SkipLayerNormalization', 'SimplifiedLayerNormalization', 'GroupNormalization', 'InstanceNormalization',
      'BatchNormalization', 'Gelu', 'FastGelu', 'BiasGelu', 'Pad', 'Div', 'Sub', 'Pow', 'Sqrt', 'Exp', 'Log', 'Reciprocal', 'Neg', 'Abs',
      'ReduceMean', 'ReduceSum', 'Erf', 'Tanh', 'Slice', 'PRelu', 'Elu', 'Selu', 'HardSigmoid', 'HardSwish', 'Expand', 'Tile',
    ].map((op) => [op, unfusable]),
  ),
};

/** Already-quantized forms, by the mode family that writes them (Q/DQ nodes themselves: 'qdq'). */
export type QuantizedFamily = 'qdq' | 'qoperator' | 'dynamic' | 'weight-only';

export const QDQ_OPS: ReadonlySet<string> = new Set(['QuantizeLinear', 'DequantizeLinear']);

const QUANTIZED_FAMILIES: ReadonlyMap<string, QuantizedFamily> = new Map<string, QuantizedFamily>([
  // The QOperator engine's integer operators, and ones other tools write.
  ...Object.values(OP_RULES).flatMap((r) => (r.qoperator ? [[r.qoperator, 'qoperator'] as const] : [])),
  ...['QLinearWhere', 'QAttention', 'QEmbedLayerNormalization'].map((op) => [op, 'qoperator'] as const),
  ...['MatMulInteger', 'ConvInteger', 'DynamicQuantizeLinear', 'DynamicQuantizeMatMul', 'DynamicQuantizeLSTM', 'MatMulIntegerToFloat'].map((op) => [op, 'dynamic'] as const),
  ...['MatMulNBits', 'GatherBlockQuantized', 'MatMulBnb4'].map((op) => [op, 'weight-only'] as const),
  ...[...QDQ_OPS].map((op) => [op, 'qdq'] as const),
]);

/** Which already-quantized family an op type belongs to. */
export function quantizedFamily(opType: string): QuantizedFamily | undefined {
  return QUANTIZED_FAMILIES.get(opType);
}

/** Ops whose output holds their first input's values unchanged, only cast or reshaped. */
export const VALUE_PRESERVING_OPS: ReadonlySet<string> = new Set(['Cast', 'Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Identity']);

/** The rule of a node's op type, undefined when the table has none (or it is for another domain). */
export function opRule(node: Pick<NodeProto, 'opType' | 'domain'>): OpRule | undefined {
  // Own keys only: an op named 'constructor' or '__proto__' must not find Object's members.
  const rule = Object.hasOwn(OP_RULES, node.opType) ? OP_RULES[node.opType] : undefined;
  if (!rule) return undefined;
  const domain = node.domain === 'ai.onnx' ? '' : node.domain;
  return rule.domain === domain ? rule : undefined;
}

/** Op types with one of the given static roles. */
export function staticOps(...roles: StaticRole[]): ReadonlySet<string> {
  return new Set(Object.entries(OP_RULES).filter(([, r]) => r.static && roles.includes(r.static)).map(([op]) => op));
}

/** Op types a mode's engine looks at (with any of the given treatments; all by default). */
export function modeOps(mode: 'dynamic' | 'weight-only', treatments: readonly ModeTreatment[] = ['default', 'on-request', 'reported']): ReadonlySet<string> {
  const field = mode === 'dynamic' ? 'dynamic' : 'weightOnly';
  return new Set(Object.entries(OP_RULES).filter(([, r]) => r[field] && treatments.includes(r[field])).map(([op]) => op));
}

/** Output-channel axis of a node's weight of rank `rank`, as per-channel quantization uses it. */
export function channelAxisOf(node: NodeProto, rank: number): number | undefined {
  switch (opRule(node)?.channelAxis) {
    case 'first':
      return rank >= 2 ? 0 : undefined;
    case 'second':
      return rank >= 2 ? 1 : undefined;
    case 'last':
      return rank >= 2 ? rank - 1 : undefined;
    case 'gemm':
      return rank === 2 ? (attrInt(node, 'transB', 0) ? 0 : 1) : undefined;
    default:
      return undefined;
  }
}

/** What a run asked for beyond each mode's defaults (QuantizeOptions' fields of the same names). */
export interface ModeRequest {
  opTypes?: readonly string[];
  quantizeConv?: boolean;
  preset?: string;
}

/**
 * Whether `mode`'s engine quantizes a node of this op type in a run with these options: static
 * quantizes compute ops (CPU-unfused ones only on request or for the gpu preset; Flatten, Relu
 * and the like follow their neighbours' scales), dynamic and weight-only their default ops plus
 * those asked for; fp16 converts every float weight, whatever reads it, so any node may hold one.
 * Keeping a node float changes the result only where this holds.
 */
export function modeQuantizesOp(node: Pick<NodeProto, 'opType' | 'domain'>, mode: OpMode | 'fp16', request: ModeRequest = {}): boolean {
  if (mode === 'fp16') return true;
  const rule = opRule(node);
  if (!rule) return false;
  const asked = request.opTypes?.includes(node.opType) ?? false;
  if (mode === 'static') return rule.static === 'compute' || (rule.static === 'cpu-unfused' && (asked || request.preset === 'gpu'));
  const treatment = mode === 'dynamic' ? rule.dynamic : rule.weightOnly;
  return treatment === 'default' || (treatment === 'on-request' && (asked || (node.opType === 'Conv' && request.quantizeConv === true)));
}

type OpOf = Pick<NodeProto, 'opType'>;

/**
 * Why a node already sits inside a QDQ group (an input from a DequantizeLinear or
 * DynamicQuantizeLinear, or an output into a QuantizeLinear), or undefined: static quantization
 * leaves such a node as it is, and so what folds into it or passes its scale on.
 */
export function qdqGroupReason(node: Pick<NodeProto, 'input' | 'output'>, producerOf: (tensor: string) => OpOf | undefined, consumersOf: (tensor: string) => readonly OpOf[]): string | undefined {
  for (const i of node.input) {
    const p = i ? producerOf(i) : undefined;
    if (p && (p.opType === 'DequantizeLinear' || p.opType === 'DynamicQuantizeLinear')) return 'already quantized (its input comes from a DequantizeLinear)';
  }
  for (const o of node.output) {
    if (o && consumersOf(o).some((c) => c.opType === 'QuantizeLinear')) return 'already quantized (its output goes to a QuantizeLinear)';
  }
  return undefined;
}
