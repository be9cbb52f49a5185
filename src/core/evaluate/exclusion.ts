/**
 * Which nodes to keep float so that the error a per-layer row measures goes away.
 *
 * A row measures tensor T on exact inputs: the producer's own rounding (its weights) plus T's
 * rounding when T passes a QuantizeLinear → DequantizeLinear pair. In QDQ that pair is there
 * when the producer is quantized or when any consumer quantizes T as its input, so keeping only
 * the producer float often changes nothing: a weightless op (Softmax, Add, Mul, pooling) between
 * quantized neighbours still reads and writes 8-bit tensors (an attention Softmax before a
 * quantized probs·V MatMul, excluded, keeps the same error). For such rows the quantized
 * consumers that round T are named too; a producer that is not quantized is never named.
 */
import { DataType } from '../onnx/dtype';
import { indexModel } from '../onnx/graph-index';
import type { GraphProto, ModelProto } from '../onnx/schema';
import type { LayerError } from './types';

/**
 * `exclude` for each row: the producer when it is quantized and rounds weights of its own;
 * otherwise the quantized producer (if it is) and, when the candidate rounds T, every quantized
 * consumer of T (in any graph). Empty when nothing quantized causes the row's error.
 */
export function withExclusions(reference: ModelProto, layers: LayerError[], quantized: ReadonlySet<string>): LayerError[] {
  const graph = reference.graph;
  if (!graph) return layers;
  const index = indexModel(reference);
  // Every graph: rows of If-branch layers name branch nodes, whose weights may sit in an enclosing graph.
  const weights = new Set(index.scopes.flatMap((s) => [...constantFloatWeights(s.graph)]));
  const consumers = new Map<string, string[]>();
  for (const { node: n, key } of index.nodes) {
    for (const i of n.input) {
      if (!i) continue;
      const list = consumers.get(i) ?? [];
      list.push(key);
      consumers.set(i, list);
    }
  }
  return layers.map((l) => {
    const producer = index.byKey(l.node)?.node;
    const own = quantized.has(l.node) ? [l.node] : [];
    const hasWeights = producer?.input.some((i, k) => k > 0 && weights.has(i)) ?? false;
    if (own.length && hasWeights) return { ...l, exclude: own };
    const rounded = l.candidateTensor !== l.tensor;
    const readers = rounded ? (consumers.get(l.tensor) ?? []).filter((c) => quantized.has(c) && c !== l.node) : [];
    return { ...l, exclude: [...new Set([...own, ...readers])] };
  });
}

/** The nodes a list of rows says to keep float, in row order, each once. */
export function exclusionList(rows: readonly { node: string; exclude?: string[] | undefined }[]): string[] {
  return [...new Set(rows.flatMap((r) => r.exclude ?? [r.node]))];
}

/** Float initializers and Constant outputs of two or more dimensions: the weights an op rounds. */
function constantFloatWeights(graph: GraphProto): Set<string> {
  const out = new Set<string>();
  for (const t of graph.initializer) if (t.dataType === DataType.FLOAT && t.dims.length >= 2) out.add(t.name);
  for (const n of graph.node) {
    if (n.opType !== 'Constant' || n.domain !== '') continue;
    const t = n.attribute.find((a) => a.name === 'value')?.t;
    if (t && t.dataType === DataType.FLOAT && t.dims.length >= 2 && n.output[0]) out.add(n.output[0]);
  }
  return out;
}
