/**
 * What a quantization engine did to one node, read from the written model: the tests that hold
 * the analysis (and the Models view's exclusions) to the engines use it.
 */
import type { ModelIndex } from '../../../src/core/onnx/graph-index';
import type { NodeProto } from '../../../src/core/onnx/schema';
import { opRule } from '../../../src/core/onnx/op-rules';
import { FOLDABLE_OPS } from '../../../src/core/onnx/constantFold';

export type OpMode = 'dynamic' | 'static' | 'weight-only';

const isFold = (n: Pick<NodeProto, 'opType' | 'domain'>): boolean => opRule(n)?.static === 'fold';
const isPassThrough = (n: Pick<NodeProto, 'opType' | 'domain'>): boolean => opRule(n)?.static === 'pass-through';
/** DQ → op → Q runs as an integer kernel (or passes 8-bit through) only for these static roles. */
const runsQuantizedInQdq = (n: Pick<NodeProto, 'opType' | 'domain'>): boolean => {
  const role = opRule(n)?.static;
  return role === 'compute' || role === 'pass-through' || role === 'cpu-unfused';
};

/**
 * Whether the output quantized the input node `orig` (found by its first output, which the
 * rewrites keep): dynamic / weight-only replace the op (or stop reading its float weight); static
 * QDQ feeds every input through a DequantizeLinear and quantizes the output (a pass-through op
 * with its input's scale), and a folded Relu/Clip leaves its output to the quantized op before it.
 */
export function quantizedInOutput(out: ModelIndex, orig: NodeProto, mode: OpMode): boolean {
  const p = out.producer(orig.output[0] ?? '')?.node;
  // Gone with its output name: rewritten away (a Relu/Clip folded into the quantized op before it,
  // a float16 border Cast removed), unless it is a layout op whose constant value nothing reads
  // once the constants are folded (onnx/constantFold.ts).
  if (!p) return !FOLDABLE_OPS.has(orig.opType);
  // Computed constants only: folded into a Constant before quantizing, not quantized.
  if (p.opType === 'Constant' && orig.opType !== 'Constant') return false;
  if (p.opType !== orig.opType) return true;
  if (mode !== 'static') return !orig.input.every((i, k) => p.input[k] === i);
  if (isFold(p)) return false; // still there: not folded, runs in float
  // An op with no integer kernel (HardSigmoid, ReduceMean, …) runs in float in ONNX Runtime even when
  // its neighbours' Q/DQ surround it (its input and output are quantized for the ops beside it).
  if (!runsQuantizedInQdq(p)) return false;
  const dqs = p.input.filter(Boolean).map((i) => out.producer(i)?.node);
  if (!dqs.every((d) => d?.opType === 'DequantizeLinear')) return false;
  const y = p.output[0] ?? '';
  if (out.graphOutputs.has(y)) return true;
  const q = out.consumers(y).find((c) => c.node.opType === 'QuantizeLinear')?.node;
  if (!q) return false;
  return !isPassThrough(p) || q.input[1] === dqs[0]?.input[1];
}
