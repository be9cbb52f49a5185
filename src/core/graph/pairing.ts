/**
 * Float and quantized graphs side by side: which node of the quantized model computes each node of
 * the float model it was made from, and what quantization did to it.
 *
 * A float node F is found in the quantized model as (first rule that matches):
 * 1. the node with F's key (Q/DQ keeps the op and its name; ops left float keep theirs);
 * 2. the node named `F_quant` (the integer op the QOperator and dynamic engines, and ONNX Runtime's
 *    quantizer, write in F's place);
 * 3. the integer op writing `T_quantized` for an output T of F (a Relu fused into a QLinearConv);
 * 4. the unit head whose QuantizeLinear → DequantizeLinear stands for T (`T_DequantizeLinear_Output`,
 *    the naming per-layer comparison reads too: a Relu folded into the Conv unit's range);
 * 5. the node writing T itself.
 */
import { quantizedFamily, QDQ_OPS, staticOps } from '../onnx/op-rules';
import type { IndexedNode, ModelIndex } from '../onnx/graph-index';
import type { GraphDto, NodeOutcome } from './types';

export type ModelRole = 'float' | 'quantized';

const PASS_THROUGH = staticOps('pass-through');

/**
 * The integer ops ONNX Runtime runs: QOperator/dynamic/weight-only operators, Q/DQ unit heads, and
 * pass-through ops (Flatten, MaxPool, …) reading an integer op's 8-bit output in a QOperator chain.
 */
export function isIntegerKernel(n: IndexedNode, index: ModelIndex, depth = 0): boolean {
  const family = quantizedFamily(n.node.opType);
  if (family) return family !== 'qdq';
  if (n.node.input.some((i) => index.producer(i)?.node.opType === 'DequantizeLinear')) return true;
  const from = index.producer(n.node.input[0] ?? '');
  return PASS_THROUGH.has(n.node.opType) && !!from && from.node.opType !== 'DequantizeLinear' && depth < 32 && isIntegerKernel(from, index, depth + 1);
}

/** Whether a model holds quantized nodes (then it is the quantized side of a pair). */
export function isQuantizedModel(index: ModelIndex): boolean {
  return index.nodes.some((n) => quantizedFamily(n.node.opType) !== undefined);
}

/** The quantized model's mode family, for the reason a node stayed float. */
function modeOf(quant: ModelIndex): string {
  const families = new Set(quant.nodes.map((n) => quantizedFamily(n.node.opType)));
  if (families.has('dynamic')) return 'dynamic';
  if (families.has('weight-only')) return 'weight-only';
  return 'static';
}

/** Float key → the quantized node computing it, and back (the first float node a quantized node stands for). */
export function pairNodes(float: ModelIndex, quant: ModelIndex): { toQuantized: Map<string, IndexedNode>; toFloat: Map<string, IndexedNode> } {
  const toQuantized = new Map<string, IndexedNode>();
  const toFloat = new Map<string, IndexedNode>();
  const integer = (n: IndexedNode | undefined): n is IndexedNode => !!n && isIntegerKernel(n, quant) && !QDQ_OPS.has(n.node.opType);
  const viaQdq = (t: string): IndexedNode | undefined => {
    const dq = quant.producer(`${t}_DequantizeLinear_Output`);
    if (dq?.node.opType !== 'DequantizeLinear') return undefined;
    const q = quant.producer(dq.node.input[0] ?? '');
    return q?.node.opType === 'QuantizeLinear' ? quant.producer(q.node.input[0] ?? '') : undefined;
  };
  for (const f of float.nodes) {
    let q = quant.byKey(f.key) ?? quant.byKey(`${f.key}_quant`);
    for (const t of f.node.output) {
      if (q || !t) break;
      const fused = quant.producer(`${t}_quantized`);
      q = (integer(fused) ? fused : undefined) ?? viaQdq(t) ?? quant.producer(t);
    }
    if (!q) continue;
    toQuantized.set(f.key, q);
    const direct = q.key === f.key || q.key === `${f.key}_quant`;
    if (direct || !toFloat.has(q.key)) toFloat.set(q.key, f);
  }
  return { toQuantized, toFloat };
}

/**
 * Sets `pair` (the peer node's key) and `outcome` on the graph's op nodes. `own` is the graph's
 * model, `peer` the other side; `skipped` the quantizer's reasons by float key (its report's
 * `quantize.skippedNodes`), when known.
 */
export function pairGraph(graph: GraphDto, own: ModelIndex, peer: ModelIndex, role: ModelRole, skipped: ReadonlyMap<string, string>): void {
  const float = role === 'float' ? own : peer;
  const quant = role === 'float' ? peer : own;
  const { toQuantized, toFloat } = pairNodes(float, quant);
  const mode = modeOf(quant);
  const floatReason = (floatKey: string, modes: readonly string[]): string =>
    skipped.get(floatKey) ?? (modes.includes(mode) ? `left float by the ${mode} quantization` : `not quantizable in ${mode} mode`);
  for (const n of graph.nodes) {
    if (n.kind !== 'op') continue;
    if (role === 'float') {
      const q = toQuantized.get(n.key);
      n.pair = q?.key ?? '';
      n.outcome = !q
        ? { kind: 'removed', text: 'removed by the quantizer (folded into a neighbour)' }
        : isIntegerKernel(q, quant) && q.node.opType !== n.opType && q.key !== n.key && toFloat.get(q.key)?.key !== n.key
          ? { kind: 'fused', text: `fused into ${q.node.opType} ${q.label}` }
          : isIntegerKernel(q, quant)
            ? { kind: 'integer', text: quantizedFamily(q.node.opType) ? `became ${q.node.opType}` : 'quantized: a Q/DQ unit ONNX Runtime runs on integers' }
            : { kind: 'float', text: floatReason(n.key, n.modes) };
    } else {
      const entry = own.byKey(n.key);
      const f = toFloat.get(n.key);
      n.pair = f?.key ?? '';
      if (!entry || !f || QDQ_OPS.has(n.opType)) continue;
      n.outcome = isIntegerKernel(entry, own) ? { kind: 'integer', text: `computes ${f.node.opType} ${f.label} of the float model` } : { kind: 'float', text: floatReason(f.key, n.modes) };
    }
  }
}

/** A per-layer error row names the float node: on the quantized side it is shown on its pair. */
export function errorsOnPairs(graph: GraphDto, errors: readonly { node: string; sqnrDb: number }[]): { node: string; sqnrDb: number }[] {
  const byFloat = new Map<string, string>();
  for (const n of graph.nodes) if (n.pair && !byFloat.has(n.pair)) byFloat.set(n.pair, n.key);
  return errors.map((e) => ({ node: byFloat.get(e.node) ?? e.node, sqnrDb: e.sqnrDb }));
}
