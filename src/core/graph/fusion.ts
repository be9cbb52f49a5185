/**
 * What ONNX Runtime's CPU provider makes of each node when it loads the model: the graph it
 * optimizes at the 'extended' level (its operator fusions: Conv+Relu → FusedConv, Q/DQ units →
 * QLinearConv, MatMul+Add → Gemm, …; not the machine-specific NCHWc layout of 'all'), matched to
 * the model's nodes by the tensors they write. A node whose output the optimized graph computes
 * with the same op runs as is; with another op it was fused into that op. When its output is gone,
 * the first op computing a tensor a few readers downstream is what it was fused into (a Q/DQ unit's
 * DequantizeLinear → Conv → QuantizeLinear become the QLinearConv writing the Q's output).
 */
import { indexModel, type ModelIndex } from '../onnx/graph-index';
import { optimizedModel } from '../quantize/static/fusionCheck';
import type { GraphDto, RuntimeFate } from './types';

/** ONNX Runtime's fate of each main-graph node, by key. */
export async function runtimeFates(modelFile: string, index: ModelIndex): Promise<Map<string, RuntimeFate>> {
  const optimized = indexModel(await optimizedModel(modelFile, 'extended'));
  const out = new Map<string, RuntimeFate>();
  for (const n of index.nodes) {
    if (n.scope.depth !== 0) continue;
    const written = n.node.output.filter((o) => o);
    const producer = written.map((o) => optimized.producer(o)).find((p) => p);
    if (producer) {
      const same = producer.node.opType === n.node.opType && producer.node.domain === n.node.domain;
      out.set(n.key, same ? { fused: false, text: 'runs as is in ONNX Runtime' } : { fused: true, text: `fused by ONNX Runtime into ${producer.node.opType}` });
    } else if (written.length && written.every((o) => optimized.constant(o))) {
      out.set(n.key, { fused: true, text: 'folded into a constant by ONNX Runtime' });
    } else {
      const into = downstreamProducer(written, index, optimized);
      // The same op writing a tensor downstream: its Q/DQ were dropped around it (Flatten on the 8-bit tensor).
      if (into === n.node.opType) out.set(n.key, { fused: false, text: 'runs as is in ONNX Runtime (its Q/DQ dropped)' });
      else out.set(n.key, { fused: true, text: into === REMOVED ? 'removed by ONNX Runtime' : into ? `fused by ONNX Runtime into ${into}` : 'fused by ONNX Runtime into a neighbour' });
    }
  }
  return out;
}

const DOWNSTREAM_HOPS = 3;
const REMOVED = '';

/** The op type of the first optimized node writing a tensor that readers of `tensors` (up to a few hops on) write. */
function downstreamProducer(tensors: readonly string[], index: ModelIndex, optimized: ModelIndex): string | undefined {
  let frontier = [...tensors];
  const seen = new Set(frontier);
  for (let hop = 0; hop < DOWNSTREAM_HOPS && frontier.length; hop++) {
    const next: string[] = [];
    for (const t of frontier) {
      for (const reader of index.consumers(t)) {
        for (const o of reader.node.output) {
          if (!o || seen.has(o)) continue;
          const p = optimized.producer(o);
          // The reader itself runs as is: the node was removed (an Identity, a Dropout), not fused.
          if (p) return p.node.opType === reader.node.opType && p.node.name === reader.node.name ? REMOVED : p.node.opType;
          seen.add(o);
          next.push(o);
        }
      }
    }
    frontier = next;
  }
  return undefined;
}

/** Sets each op node's `runtime` (a folded unit takes its head's). */
export function applyFates(graph: GraphDto, fates: ReadonlyMap<string, RuntimeFate>): void {
  for (const n of graph.nodes) if (n.kind === 'op') n.runtime = fates.get(n.key) ?? null;
}
