/**
 * Folds an inference BatchNormalization into the Conv before it (doc §1.6: BatchNormalization
 * cannot be quantized alone, the folded Conv can):
 *   k = scale / sqrt(var + eps);  W' = W · k (per output channel);  b' = (b − mean) · k + B.
 * Returns a new ModelProto when anything was folded; the input is never modified.
 */
import { create } from '@bufbuild/protobuf';
import { attrFloat, attrInt } from '../../onnx/builder';
import { DataType } from '../../onnx/dtype';
import type { OnnxModel } from '../../onnx/model';
import { GraphProtoSchema, NodeProtoSchema, type ModelProto, type NodeProto, type TensorProto } from '../../onnx/schema';
import { floatTensor, readFloat32, tensorShape } from '../../onnx/tensor';
import { carryKey } from '../../onnx/graph-index';

export interface FoldResult {
  proto: ModelProto;
  folded: number;
}

export function foldBatchNormalization(proto: ModelProto, source?: Pick<OnnxModel, 'external'>): FoldResult {
  const graph = proto.graph!;
  const inits = new Map(graph.initializer.map((t) => [t.name, t]));
  const producers = new Map<string, NodeProto>();
  const consumerCount = new Map<string, number>();
  for (const n of graph.node) {
    for (const o of n.output) if (o) producers.set(o, n);
    for (const i of n.input) if (i) consumerCount.set(i, (consumerCount.get(i) ?? 0) + 1);
  }
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
  for (const bn of graph.node) {
    if (bn.opType !== 'BatchNormalization' || bn.domain !== '' || bn.output.filter(Boolean).length !== 1) continue;
    if (attrInt(bn, 'training_mode', 0) !== 0) continue;
    const x = bn.input[0]!;
    const conv = producers.get(x);
    if (!conv || conv.opType !== 'Conv' || conv.domain !== '' || replaced.has(conv) || consumerCount.get(x) !== 1 || outputs.has(x)) continue;
    const w = inits.get(conv.input[1] ?? '');
    const params = [1, 2, 3, 4].map((i) => inits.get(bn.input[i] ?? ''));
    if (!w || w.dataType !== DataType.FLOAT || params.some((p) => !p || p.dataType !== DataType.FLOAT)) continue;
    const b = conv.input[2] ? inits.get(conv.input[2]) : undefined;
    if (conv.input[2] && (!b || b.dataType !== DataType.FLOAT)) continue;
    const [scale, shift, mean, variance] = params.map((p) => readFloat32(p!, source)) as [Float32Array, Float32Array, Float32Array, Float32Array];
    const shape = tensorShape(w);
    const m = shape[0]!;
    if ([scale, shift, mean, variance].some((a) => a.length !== m)) continue;
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
    replaced.set(conv, carryKey(conv, create(NodeProtoSchema, { ...conv, input: [conv.input[0]!, wName, bName], output: [bn.output[0]!] })));
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
