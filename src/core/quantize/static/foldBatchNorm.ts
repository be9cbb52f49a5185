/**
 * Folds an inference BatchNormalization into the Conv before it (doc §1.6: BatchNormalization
 * cannot be quantized alone, the folded Conv can):
 *   k = scale / sqrt(var + eps);  W' = W · k (per output channel);  b' = (b − mean) · k + B.
 * Returns a new ModelProto when anything was folded; the input is never modified.
 */
import { create } from '@bufbuild/protobuf';
import { attrFloat, attrInt, withFields } from '../../onnx/builder';
import { DataType } from '../../onnx/dtype';
import type { OnnxModel } from '../../onnx/model';
import { GraphProtoSchema, type GraphProto, type ModelProto, type NodeProto, type TensorProto } from '../../onnx/schema';
import { floatTensor, readFloat32, tensorElementCount, tensorShape } from '../../onnx/tensor';
import { carryKey } from '../../onnx/graph-index';

export interface FoldResult {
  proto: ModelProto;
  folded: number;
}

export interface BatchNormFold {
  conv: NodeProto;
  bn: NodeProto;
  /** The Conv's output, read by the BatchNormalization alone. */
  x: string;
  weight: TensorProto;
  bias: TensorProto | undefined;
  /** scale, B, mean, var. */
  params: [TensorProto, TensorProto, TensorProto, TensorProto];
  /** Output channels: the weight's first dimension. */
  channels: number;
}

/**
 * The inference BatchNormalization nodes that fold into the Conv before them: the Conv's output is
 * read by the BatchNormalization alone, weight, bias and the four parameters are float
 * initializers of one value per output channel. Decided from the graph's structure and types
 * alone, so the layer analysis can ask it without reading any weight. `floatType` says which
 * element types count as float (the engine folds after widening float16 to float32).
 */
export function batchNormFolds(graph: GraphProto, floatType: (dataType: number) => boolean = (t) => t === DataType.FLOAT): BatchNormFold[] {
  const inits = new Map(graph.initializer.map((t) => [t.name, t]));
  const producers = new Map<string, NodeProto>();
  const consumerCount = new Map<string, number>();
  for (const n of graph.node) {
    for (const o of n.output) if (o) producers.set(o, n);
    for (const i of n.input) if (i) consumerCount.set(i, (consumerCount.get(i) ?? 0) + 1);
  }
  const outputs = new Set(graph.output.map((o) => o.name));
  const folds: BatchNormFold[] = [];
  const convs = new Set<NodeProto>();
  for (const bn of graph.node) {
    if (bn.opType !== 'BatchNormalization' || bn.domain !== '' || bn.output.filter(Boolean).length !== 1) continue;
    if (attrInt(bn, 'training_mode', 0) !== 0) continue;
    const x = bn.input[0] ?? '';
    const conv = producers.get(x);
    if (!conv || conv.opType !== 'Conv' || conv.domain !== '' || convs.has(conv) || consumerCount.get(x) !== 1 || outputs.has(x)) continue;
    const w = inits.get(conv.input[1] ?? '');
    const [scale, shift, mean, variance] = [1, 2, 3, 4].map((i) => inits.get(bn.input[i] ?? ''));
    if (!w || !floatType(w.dataType) || !scale || !shift || !mean || !variance) continue;
    const params: BatchNormFold['params'] = [scale, shift, mean, variance];
    if (params.some((p) => !floatType(p.dataType))) continue;
    const b = conv.input[2] ? inits.get(conv.input[2]) : undefined;
    if (conv.input[2] && (!b || !floatType(b.dataType))) continue;
    const m = safeShape(w)[0];
    if (m === undefined || params.some((p) => safeCount(p) !== m)) continue;
    folds.push({ conv, bn, x, weight: w, bias: b, params, channels: m });
    convs.add(conv);
  }
  return folds;
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
    return -1;
  }
}

export function foldBatchNormalization(proto: ModelProto, source?: Pick<OnnxModel, 'external'>): FoldResult {
  const graph = proto.graph!;
  const inits = new Map(graph.initializer.map((t) => [t.name, t]));
  const outputs = new Set(graph.output.map((o) => o.name));
  const used = new Set<string>([...inits.keys(), ...graph.node.flatMap((n) => [...n.input, ...n.output, n.name])]);
  const unique = (base: string): string => {
    let name = base;
    for (let i = 1; used.has(name); i++) name = `${base}_${i}`;
    used.add(name);
    return name;
  };

  const replaced = new Map<NodeProto, NodeProto>();
  const removed = new Set<NodeProto>();
  const added: TensorProto[] = [];
  /** Conv outputs that no longer exist (the Conv now writes the BatchNormalization's output). */
  const gone = new Set<string>();
  for (const { conv, bn, x, weight: w, bias: b, params, channels: m } of batchNormFolds(graph)) {
    const [scale, shift, mean, variance] = params.map((p) => readFloat32(p, source)) as [Float32Array, Float32Array, Float32Array, Float32Array];
    const shape = tensorShape(w);
    const eps = attrFloat(bn, 'epsilon', 1e-5);
    const wv = readFloat32(w, source);
    const per = wv.length / m;
    const k = Float64Array.from(scale, (s, c) => s / Math.sqrt(variance[c]! + eps));
    const newW = new Float32Array(wv.length);
    for (let c = 0; c < m; c++) for (let i = 0; i < per; i++) newW[c * per + i] = wv[c * per + i]! * k[c]!;
    const bv = b ? readFloat32(b, source) : new Float32Array(m);
    const newB = Float32Array.from({ length: m }, (_, c) => (bv[c]! - mean[c]!) * k[c]! + shift[c]!);
    const wName = unique(`${w.name}_bn`);
    const bName = unique(`${b?.name ?? conv.output[0]}_bn_bias`);
    added.push(floatTensor(wName, shape, newW), floatTensor(bName, [m], newB));
    replaced.set(conv, carryKey(conv, withFields(conv, { input: [conv.input[0]!, wName, bName], output: [bn.output[0]!] })));
    removed.add(bn);
    gone.add(x);
  }
  if (removed.size === 0) return { proto, folded: 0 };
  const node = graph.node.filter((n) => !removed.has(n)).map((n) => replaced.get(n) ?? n);
  const stillUsed = new Set(node.flatMap((n) => n.input));
  const initializer = [...graph.initializer.filter((t) => stillUsed.has(t.name) || outputs.has(t.name)), ...added];
  const keptNames = new Set(initializer.map((t) => t.name));
  const input = graph.input.filter((v) => !inits.has(v.name) || keptNames.has(v.name));
  const valueInfo = graph.valueInfo.filter((v) => !gone.has(v.name));
  return { proto: { ...proto, graph: create(GraphProtoSchema, { ...graph, node, initializer, input, valueInfo }) }, folded: removed.size };
}
