/**
 * fp16 compression: float32 weights (initializers and Constant nodes, in the main graph and in
 * If/Loop/Scan bodies) stored as float16, each followed by a Cast back to float32 that writes the
 * original name. ORT's CPU provider lacks or is slow at most fp16 kernels (reference §1.10), so
 * compute stays float32: half the weight bytes, graph inputs and outputs unchanged, results within
 * fp16 rounding of the float model. (At load ORT folds the Casts; the saving is on disk and in
 * download size, not in RAM.)
 */
import { makeNode } from '../onnx/builder';
import { DataType } from '../onnx/dtype';
import type { OnnxModel } from '../onnx/model';
import type { ExternalDataWriter } from '../onnx/save';
import type { NodeProto } from '../onnx/schema';
import { bytesOf, makeTensor, tensorShape } from '../onnx/tensor';
import { float32ToFloat16Bits } from '../onnx/float16';
import type { JobContext } from '../progress';
import { RewriteDriver, type NodeUse, type WeightRef } from './driver';
import { NodePacer, weightValues } from './emit';
import type { EngineResult, NodeSelection, ResolvedOptions } from './selection';

const FP16_MAX = 65504;
/** Tiny tensors (scalars, shape-ish constants) are not worth a Cast node. */
const MIN_ELEMENTS = 16;

/** Nodes that keep a weight float32, each with its reason. */
export type Fp16Refusal = { use: NodeUse; reason: string }[];

/**
 * Whether a float32 weight is stored as float16: undefined when it is, else the nodes that keep it
 * float32 and why (empty for weights not worth a line: tiny, unread, non-float, graph inputs/outputs).
 */
export function fp16Refusal(w: WeightRef, users: NodeUse[], selection: NodeSelection, values: () => Float32Array): Fp16Refusal | undefined {
  const t = w.tensor;
  if (t.dataType !== DataType.FLOAT || w.scope.graphOutputs.has(w.name)) return [];
  // An initializer that is also a graph input is a default the caller may override.
  if (w.kind === 'initializer' && w.scope.graphInputs.has(w.name)) return [];
  if (users.length === 0 || tensorShape(t).reduce((a, b) => a * b, 1) < MIN_ELEMENTS) return [];
  const refused: Fp16Refusal = [];
  for (const use of users) {
    const v = selection.check(use.node);
    if (!v.selected) refused.push({ use, reason: v.reason });
  }
  if (refused.length) return refused;
  if (!withinFp16(values())) return users.map((use) => ({ use, reason: `weight '${t.name}' has values beyond the float16 range; kept float32` }));
  return undefined;
}

export async function convertFp16(
  model: OnnxModel,
  options: ResolvedOptions,
  selection: NodeSelection,
  ctx: JobContext = {},
  writer?: ExternalDataWriter,
): Promise<EngineResult> {
  const driver = new RewriteDriver(model, options, selection, ctx, writer);
  const weights = [...driver.weights()];
  const pacer = new NodePacer(ctx, weights.length);
  const touched = new Set<NodeProto>();
  const castFor = new Map<NodeProto, NodeProto>(); // Constant node → the Cast that replaces it
  let converted = 0;
  for (const [i, w] of weights.entries()) {
    await pacer.step(i);
    const users = driver.users(w);
    let values: Float32Array | undefined;
    const read = () => (values ??= weightValues(w.tensor, model));
    const refusal = fp16Refusal(w, users, selection, read);
    if (refusal) {
      for (const { use, reason } of refusal) driver.skip(use.scope, use.node, reason);
      continue;
    }
    const half = driver.store(w.scope, makeTensor(driver.unique(`${w.tensor.name}_fp16`), DataType.FLOAT16, tensorShape(w.tensor), bytesOf(toFloat16(read()))));
    const cast = makeNode('Cast', [half.name], [w.name], { to: DataType.FLOAT }, { name: driver.unique(`${w.tensor.name}_cast_fp32`) });
    if (w.kind === 'initializer') {
      w.scope.head.push(cast);
      w.scope.graph.initializer = w.scope.graph.initializer.filter((t) => t !== w.tensor);
    } else castFor.set(w.node, cast);
    converted++;
    for (const u of users) touched.add(u.node);
  }
  // A converted Constant node is replaced in place by its Cast (its value now an initializer).
  if (castFor.size) for (const scope of driver.scopes) scope.graph.node = scope.graph.node.map((n) => castFor.get(n) ?? n);
  driver.quantized = touched.size;
  const r = driver.finish();
  if (converted === 0) r.warnings.push('no float32 initializer to convert');
  return { proto: r.proto, quantizedNodes: r.quantizedNodes, quantizedKeys: r.quantizedKeys, skippedNodes: r.skippedNodes, warnings: r.warnings };
}

function withinFp16(values: Float32Array): boolean {
  for (let i = 0; i < values.length; i++) if (Math.abs(values[i]!) > FP16_MAX) return false;
  return true;
}

/** Plain loop: typed-array `from` with a map function is an order of magnitude slower on big tensors. */
function toFloat16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = float32ToFloat16Bits(values[i]!);
  return out;
}
