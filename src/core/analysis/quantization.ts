/**
 * Already-quantized models: which format (QDQ, QOperator, dynamic, weight-only, fp16, mixed),
 * how many nodes compute quantized, and the parameters of every quantized tensor — type, scale
 * and zero point (per-tensor, or per-channel/blocked with axis, count and min/max), and for stored
 * integer weights the range actually used and how many values sit at the clip limits, so that
 * poor scales are visible.
 */
import { DataType, dtypeName } from '../onnx/dtype';
import type { NodeProto, TensorProto } from '../onnx/schema';
import { readFloat32, readTensor, tensorElementCount, unpack4, tensorBytes, type TensorSource } from '../onnx/tensor';
import { attrInt } from '../onnx/builder';
import type { ModelIndex } from '../onnx/graph-index';
import { elementTypes } from '../onnx/element-types';
import { QDQ_OPS, quantizedFamily } from '../onnx/op-rules';

export type QuantFormat = 'none' | 'qdq' | 'qoperator' | 'dynamic' | 'weight-only' | 'fp16' | 'mixed';

export type ScaleInfo =
  | { kind: 'per-tensor'; value: number }
  | { kind: 'per-channel' | 'blocked'; axis: number; count: number; min: number; max: number; blockSize?: number };

export type ZeroPointInfo = { kind: 'per-tensor'; value: number } | { kind: 'per-channel' | 'blocked'; count: number; min: number; max: number } | { kind: 'implicit'; value: number };

export interface StoredRange {
  elements: number;
  /** Smallest and largest stored integer. */
  min: number;
  max: number;
  /** Limits of the stored type. */
  qmin: number;
  qmax: number;
  atQmin: number;
  atQmax: number;
  /** (max − min) / (qmax − qmin): share of the integer range the weights use. */
  rangeUse: number;
}

export interface QuantizedTensor {
  /** The quantized tensor (weights) or the activation being quantized. */
  tensor: string;
  node: string;
  opType: string;
  role: 'weight' | 'activation' | 'bias';
  type: string;
  scale?: ScaleInfo;
  zeroPoint?: ZeroPointInfo;
  stored?: StoredRange;
  notes: string[];
}

export interface QuantizationReport {
  format: QuantFormat;
  quantizedNodeCount: number;
  /** Every family found (format is 'mixed' when more than one). */
  families: Exclude<QuantFormat, 'none' | 'mixed'>[];
  quantizeLinearCount: number;
  dequantizeLinearCount: number;
  tensors: QuantizedTensor[];
}

/** Where each quantized operand sits in the inputs of an op: [x, scale, zero point, role]. */
type Operand = [x: number, scale: number | undefined, zp: number | undefined, role: QuantizedTensor['role']];
const OPERANDS: Record<string, Operand[]> = {
  QLinearConv: [[0, 1, 2, 'activation'], [3, 4, 5, 'weight'], [8, undefined, undefined, 'bias']],
  QLinearMatMul: [[0, 1, 2, 'activation'], [3, 4, 5, 'weight']],
  QGemm: [[0, 1, 2, 'activation'], [3, 4, 5, 'weight'], [6, undefined, undefined, 'bias']],
  QLinearAdd: [[0, 1, 2, 'activation'], [3, 4, 5, 'activation']],
  QLinearMul: [[0, 1, 2, 'activation'], [3, 4, 5, 'activation']],
  MatMulInteger: [[0, undefined, 2, 'activation'], [1, undefined, 3, 'weight']],
  ConvInteger: [[0, undefined, 2, 'activation'], [1, undefined, 3, 'weight']],
  DynamicQuantizeMatMul: [[1, 2, 3, 'weight']],
  MatMulIntegerToFloat: [[0, 2, 4, 'activation'], [1, 3, 5, 'weight']],
  DynamicQuantizeLSTM: [[1, 8, 9, 'weight'], [2, 10, 11, 'weight']],
};

/** Notes fire when stored weights use less than this share of their integer range... */
const LOW_RANGE_USE = 0.25;
/** ...or when more than this share of them sit at qmin/qmax (well-chosen scales put ~1 value per channel there). */
const HIGH_CLIP_SHARE = 0.01;

export function analyzeQuantization(index: ModelIndex, source: TensorSource): QuantizationReport {
  const tensors = new Map<string, QuantizedTensor>();
  const families = new Set<Exclude<QuantFormat, 'none' | 'mixed'>>();
  let quantizedNodeCount = 0;
  let qCount = 0;
  let dqCount = 0;
  let fp16Bytes = 0;
  let fp32Bytes = 0;
  let qoperatorSeen = false;
  let dqWeights = 0;

  for (const { node } of index.nodes) if (quantizedFamily(node.opType) === 'qoperator') qoperatorSeen = true;

  for (const { node, key: label } of index.nodes) {
    const op = node.opType;
    const family = quantizedFamily(op);
    if (op === 'QuantizeLinear') {
      qCount++;
      if (!qoperatorSeen) families.add('qdq');
      add(tensors, describe(index, source, node, label, 0, 1, 2, 'activation'));
    } else if (op === 'DequantizeLinear') {
      dqCount++;
      const x = node.input[0] ? index.constant(node.input[0])?.tensor : undefined;
      if (x) {
        const fourBit = x.dataType === DataType.INT4 || x.dataType === DataType.UINT4;
        if (fourBit && attrInt(node, 'block_size', 0) > 0) families.add('weight-only');
        if (x.dataType !== DataType.INT32) dqWeights++;
        add(tensors, describe(index, source, node, label, 0, 1, 2, x.dataType === DataType.INT32 ? 'bias' : 'weight'));
      } else {
        add(tensors, describe(index, source, node, label, 0, 1, 2, 'activation'));
      }
    } else if (family) {
      if (family !== 'qdq') families.add(family);
      if (op !== 'DynamicQuantizeLinear') quantizedNodeCount++;
      for (const [x, s, z, role] of (Object.hasOwn(OPERANDS, op) ? OPERANDS[op] : undefined) ?? []) add(tensors, describe(index, source, node, label, x, s, z, role));
      if (op === 'MatMulNBits') add(tensors, describeNBits(index, source, node, label));
    } else if (node.input.some((n) => n && index.producer(n)?.node.opType === 'DequantizeLinear')) {
      quantizedNodeCount++;
    }
    // fp16: float16 constants feeding compute ops directly (scales of Q/DQ do not count).
    for (const name of node.input) {
      const t = name && !QDQ_OPS.has(op) && !family ? index.constant(name)?.tensor : undefined;
      if (!t) continue;
      if (t.dataType === DataType.FLOAT16) fp16Bytes += safeCount(t) * 2;
      else if (t.dataType === DataType.FLOAT) fp32Bytes += safeCount(t) * 4;
    }
  }
  // DQ on stored weights with no Q anywhere and no other integer ops: weights-only in QDQ form (e.g. int8 DQ → MatMul).
  if (dqWeights > 0 && qCount === 0 && !families.has('qoperator') && !families.has('dynamic')) families.add('weight-only');
  if (fp16Bytes > 0 && fp16Bytes >= fp32Bytes) {
    families.add('fp16');
    if (families.size === 1) {
      for (const { node } of index.nodes) {
        if (node.input.some((n) => n && index.constant(n)?.tensor?.dataType === DataType.FLOAT16)) quantizedNodeCount++;
      }
    }
  }
  const list = [...families];
  const format: QuantFormat = list.length === 0 ? 'none' : list.length === 1 ? list[0]! : 'mixed';
  return { format, quantizedNodeCount, families: list, quantizeLinearCount: qCount, dequantizeLinearCount: dqCount, tensors: [...tensors.values()] };
}

function add(map: Map<string, QuantizedTensor>, t: QuantizedTensor | undefined): void {
  if (t && !map.has(t.tensor)) map.set(t.tensor, t);
}

function describe(
  index: ModelIndex,
  source: TensorSource,
  node: NodeProto,
  label: string,
  xPos: number,
  scalePos: number | undefined,
  zpPos: number | undefined,
  role: QuantizedTensor['role'],
): QuantizedTensor | undefined {
  const xName = node.input[xPos];
  if (!xName) return undefined;
  const isQ = node.opType === 'QuantizeLinear';
  // QuantizeLinear: the quantized tensor is its output; its type is the zero point's.
  const tensorName = isQ ? (node.output[0] ?? xName) : xName;
  const zpName = zpPos !== undefined ? node.input[zpPos] : undefined;
  const scaleName = scalePos !== undefined ? node.input[scalePos] : undefined;
  const zpTensor = zpName ? index.constant(zpName)?.tensor : undefined;
  const xConst = isQ ? undefined : index.constant(xName)?.tensor;
  const typeNum = xConst?.dataType ?? zpTensor?.dataType ?? elementTypes(index).get(tensorName) ?? (isQ ? DataType.UINT8 : undefined);
  const out: QuantizedTensor = { tensor: tensorName, node: label, opType: node.opType, role, type: typeNum !== undefined ? dtypeName(typeNum) : 'unknown', notes: [] };
  const axis = attrInt(node, 'axis', 1);
  const blockSize = attrInt(node, 'block_size', 0);
  try {
    const scaleTensor = scaleName ? index.constant(scaleName)?.tensor : undefined;
    if (scaleTensor) out.scale = scaleInfo(readFloat32(scaleTensor, source), axis, blockSize);
    if (zpTensor) out.zeroPoint = zpInfo(toNumbers(readTensor(zpTensor, source)), blockSize);
    else if (zpPos !== undefined && !zpName && role !== 'bias') out.zeroPoint = { kind: 'implicit', value: 0 };
    if (xConst && role !== 'bias') {
      out.stored = storedRange(toNumbers(readTensor(xConst, source)), xConst.dataType);
      addStoredNotes(out, scaleCount(out.scale));
    }
  } catch (e) {
    out.notes.push(`could not read parameters: ${(e as Error).message}`);
  }
  return out;
}

/** MatMulNBits: B packs `bits`-bit unsigned values; scales per (column, block); zero point implicit 2^(bits−1) unless given. */
function describeNBits(index: ModelIndex, source: TensorSource, node: NodeProto, label: string): QuantizedTensor | undefined {
  const bName = node.input[1];
  const b = bName ? index.constant(bName)?.tensor : undefined;
  if (!bName || !b) return undefined;
  const bits = attrInt(node, 'bits', 4);
  const blockSize = attrInt(node, 'block_size', 32);
  const out: QuantizedTensor = { tensor: bName, node: label, opType: node.opType, role: 'weight', type: `uint${bits}`, notes: [] };
  try {
    const scales = node.input[2] ? index.constant(node.input[2])?.tensor : undefined;
    if (scales) out.scale = scaleInfo(readFloat32(scales, source), 0, blockSize);
    const zp = node.input[3] ? index.constant(node.input[3])?.tensor : undefined;
    if (zp) {
      const raw = tensorBytes(zp, source);
      const values = zp.dataType === DataType.UINT8 && bits === 4 ? unpack4(raw, raw.length * 2, false) : readFloat32(zp, source);
      out.zeroPoint = zpInfo(Array.from(values), blockSize);
    } else {
      out.zeroPoint = { kind: 'implicit', value: 2 ** (bits - 1) };
    }
    const raw = tensorBytes(b, source);
    const values = bits === 4 ? unpack4(raw, raw.length * 2, false) : raw;
    out.stored = storedRange(values, bits === 4 ? DataType.UINT4 : DataType.UINT8);
    addStoredNotes(out, scaleCount(out.scale));
  } catch (e) {
    out.notes.push(`could not read parameters: ${(e as Error).message}`);
  }
  return out;
}

function scaleInfo(s: Float32Array, axis: number, blockSize: number): ScaleInfo {
  if (s.length === 1) return { kind: 'per-tensor', value: s[0]! };
  let min = Infinity;
  let max = -Infinity;
  for (const v of s) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const info: ScaleInfo = { kind: blockSize > 0 ? 'blocked' : 'per-channel', axis, count: s.length, min, max };
  if (blockSize > 0) info.blockSize = blockSize;
  return info;
}

function zpInfo(z: ArrayLike<number>, blockSize: number): ZeroPointInfo {
  if (z.length === 1) return { kind: 'per-tensor', value: z[0]! };
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < z.length; i++) {
    const v = z[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { kind: blockSize > 0 ? 'blocked' : 'per-channel', count: z.length, min, max };
}

const LIMITS: Partial<Record<number, [number, number]>> = {
  [DataType.INT8]: [-128, 127],
  [DataType.UINT8]: [0, 255],
  [DataType.INT16]: [-32768, 32767],
  [DataType.UINT16]: [0, 65535],
  [DataType.INT4]: [-8, 7],
  [DataType.UINT4]: [0, 15],
  [DataType.INT32]: [-2147483648, 2147483647],
};

function storedRange(values: ArrayLike<number>, dataType: number): StoredRange | undefined {
  const limits = LIMITS[dataType];
  if (!limits) return undefined;
  const [qmin, qmax] = limits;
  let min = Infinity;
  let max = -Infinity;
  let atQmin = 0;
  let atQmax = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
    if (v === qmin) atQmin++;
    else if (v === qmax) atQmax++;
  }
  if (values.length === 0) min = max = 0;
  return { elements: values.length, min, max, qmin, qmax, atQmin, atQmax, rangeUse: (max - min) / (qmax - qmin) };
}

function scaleCount(s: ScaleInfo | undefined): number {
  return !s ? 1 : s.kind === 'per-tensor' ? 1 : s.count;
}

/**
 * A well-chosen scale maps each channel's (or block's) extreme onto the limit: about one or two
 * stored values per scale sit there. More than that (and over HIGH_CLIP_SHARE of the values) means clipping.
 */
function addStoredNotes(t: QuantizedTensor, scales: number): void {
  const s = t.stored;
  if (!s || s.elements === 0) return;
  if (s.rangeUse < LOW_RANGE_USE) {
    t.notes.push(`stored values use only ${s.max - s.min + 1} of ${s.qmax - s.qmin + 1} levels (${s.min}..${s.max}): the scale is too large`);
  }
  const atLimits = s.atQmin + s.atQmax;
  const clipShare = atLimits / s.elements;
  if (clipShare > HIGH_CLIP_SHARE && atLimits > 2 * scales) {
    t.notes.push(`${(clipShare * 100).toFixed(1)}% of stored values sit at the clip limits ${s.qmin}/${s.qmax}: the scale clips the weights`);
  }
}

function toNumbers(a: ReturnType<typeof readTensor>): ArrayLike<number> {
  if (a instanceof BigInt64Array || a instanceof BigUint64Array) return Array.from(a, Number);
  return a as ArrayLike<number>;
}

function safeCount(t: TensorProto): number {
  try {
    return tensorElementCount(t);
  } catch {
    return 0;
  }
}
