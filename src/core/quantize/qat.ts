/**
 * Quantization-aware-training finishing and "already quantized" detection.
 *
 * PyTorch QAT exports keep float weights and quantize them at every run:
 *   W (float initializer) → QuantizeLinear(scale, zp) → DequantizeLinear → Conv/MatMul
 * Finishing stores QuantizeLinear's result as an int8/uint8 initializer feeding the
 * DequantizeLinear directly (Q removed): 4× smaller weights, same values bit for bit, because
 * we compute exactly what QuantizeLinear computes (float32 x/scale, half to even, saturate).
 */
import { throwIfCancelled } from '../errors';
import { attrInt, getAttribute } from '../onnx/builder';
import { DataType } from '../onnx/dtype';
import type { OnnxModel } from '../onnx/model';
import type { ExternalDataWriter } from '../onnx/save';
import type { GraphProto, NodeProto, TensorProto } from '../onnx/schema';
import { bytesOf, makeTensor, readTensor, tensorShape } from '../onnx/tensor';
import type { JobContext } from '../progress';
import { InitializerSink, weightValues } from './emit';
import { GraphIndex, pruneValueInfo, removeUnusedInitializers } from './graph';
import { fullRange, quantizeValue } from './math';
import type { EngineResult } from './selection';
import { quantizedFamily } from '../onnx/op-rules';


export function countQuantizedOps(graph: GraphProto): { total: number; summary: string } {
  const counts = new Map<string, number>();
  for (const n of graph.node) if (quantizedFamily(n.opType)) counts.set(n.opType, (counts.get(n.opType) ?? 0) + 1);
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  return { total, summary: [...counts].map(([op, c]) => `${c} ${op}`).join(', ') };
}

export interface QatWeight {
  q: NodeProto;
  weight: TensorProto;
  scale: TensorProto;
  zeroPoint: TensorProto | undefined;
}

/** Constant tensors by name: initializers and Constant-node values. */
function constants(graph: GraphProto): Map<string, TensorProto> {
  const m = new Map<string, TensorProto>();
  for (const t of graph.initializer) m.set(t.name, t);
  for (const n of graph.node) {
    const v = n.opType === 'Constant' && n.domain === '' ? getAttribute(n, 'value')?.t : undefined;
    if (v && n.output[0]) m.set(n.output[0], v);
  }
  return m;
}

/** QuantizeLinear nodes that quantize a constant float weight and feed only DequantizeLinear nodes. */
export function findQatWeights(graph: GraphProto): QatWeight[] {
  const consts = constants(graph);
  const index = new GraphIndex(graph);
  const found: QatWeight[] = [];
  for (const q of graph.node) {
    if (q.opType !== 'QuantizeLinear' || (q.domain !== '' && q.domain !== 'ai.onnx')) continue;
    const [x, s, z] = q.input;
    const weight = x ? consts.get(x) : undefined;
    const scale = s ? consts.get(s) : undefined;
    const zeroPoint = z ? consts.get(z) : undefined;
    if (!weight || !scale || weight.dataType !== DataType.FLOAT || scale.dataType !== DataType.FLOAT) continue;
    if (z && !zeroPoint) continue;
    if (zeroPoint && zeroPoint.dataType !== DataType.INT8 && zeroPoint.dataType !== DataType.UINT8) continue;
    if (getAttribute(q, 'block_size') || getAttribute(q, 'output_dtype')) continue;
    const users = index.consumers(q.output[0]!);
    if (users.length === 0 || users.some((u) => u.opType !== 'DequantizeLinear') || index.graphOutputs.has(q.output[0]!)) continue;
    found.push({ q, weight, scale, zeroPoint });
  }
  return found;
}

export async function finishQat(model: OnnxModel, ctx: JobContext = {}, writer?: ExternalDataWriter): Promise<EngineResult> {
  const proto = model.proto;
  const graph = proto.graph!;
  const pairs = findQatWeights(graph);
  const index = new GraphIndex(graph);
  const sink = new InitializerSink(graph, writer);
  const removed = new Set<NodeProto>();
  const renames = new Map<string, string>();
  for (const [i, p] of pairs.entries()) {
    throwIfCancelled(ctx.signal);
    ctx.onProgress?.({ stage: 'quantizing', fraction: i / pairs.length });
    const type = p.zeroPoint?.dataType === DataType.INT8 ? 'int8' : 'uint8';
    const values = weightValues(p.weight, model);
    const shape = tensorShape(p.weight);
    const scales = weightValues(p.scale, model);
    const zps = p.zeroPoint ? readTensor(p.zeroPoint, model) : new Uint8Array(scales.length);
    const perAxis = scales.length > 1 || p.scale.dims.length === 1;
    const axisRaw = attrInt(p.q, 'axis', 1);
    const axis = axisRaw < 0 ? axisRaw + shape.length : axisRaw;
    const inner = perAxis ? shape.slice(axis + 1).reduce((a, b) => a * b, 1) : 1;
    const channels = perAxis ? (shape[axis] ?? 1) : 1;
    const full = fullRange(type);
    const q = type === 'int8' ? new Int8Array(values.length) : new Uint8Array(values.length);
    for (let e = 0; e < values.length; e++) {
      const c = perAxis ? Math.floor(e / inner) % channels : 0;
      q[e] = quantizeValue(values[e]!, scales[c]!, Number(zps[c] ?? 0), full);
    }
    const name = index.unique(`${p.weight.name || p.q.input[0]}_quantized`);
    sink.add(makeTensor(name, type === 'int8' ? DataType.INT8 : DataType.UINT8, shape, bytesOf(q)));
    renames.set(p.q.output[0]!, name);
    removed.add(p.q);
  }
  graph.node = graph.node.filter((n) => !removed.has(n));
  for (const n of graph.node) n.input = n.input.map((i) => renames.get(i) ?? i);
  // Float weights and their Constant nodes are now unused.
  dropUnusedConstants(graph);
  removeUnusedInitializers(graph);
  pruneValueInfo(graph);
  return { proto, quantizedNodes: pairs.length, skippedNodes: [], warnings: [] };
}

function dropUnusedConstants(graph: GraphProto): void {
  for (;;) {
    const used = new Set<string>(graph.output.map((o) => o.name));
    for (const n of graph.node) for (const i of n.input) used.add(i);
    const before = graph.node.length;
    graph.node = graph.node.filter((n) => !(n.opType === 'Constant' && n.domain === '' && n.output.every((o) => !used.has(o))));
    if (graph.node.length === before) return;
  }
}


