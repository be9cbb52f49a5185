/**
 * fp16 compression: float32 initializers stored as float16, each followed by a Cast back to
 * float32 that writes the original name. ORT's CPU provider lacks or is slow at most fp16
 * kernels (reference §1.10), so compute stays float32: half the weight bytes, graph inputs and
 * outputs unchanged, results within fp16 rounding of the float model. (At load ORT folds the
 * Casts; the saving is on disk and in download size, not in RAM.)
 */
import { makeNode } from '../onnx/builder';
import { DataType } from '../onnx/dtype';
import type { OnnxModel } from '../onnx/model';
import type { ExternalDataWriter } from '../onnx/save';
import type { NodeProto, TensorProto } from '../onnx/schema';
import { bytesOf, makeTensor, tensorShape } from '../onnx/tensor';
import { float32ToFloat16Bits } from '../onnx/float16';
import type { JobContext } from '../progress';
import { InitializerSink, NodePacer, weightValues } from './emit';
import { GraphIndex, pruneValueInfo } from './graph';
import { SkipList, type EngineResult, type NodeSelection, type ResolvedOptions } from './selection';

const FP16_MAX = 65504;
/** Tiny tensors (scalars, shape-ish constants) are not worth a Cast node. */
const MIN_ELEMENTS = 16;

export async function convertFp16(
  model: OnnxModel,
  _options: ResolvedOptions,
  selection: NodeSelection,
  ctx: JobContext = {},
  writer?: ExternalDataWriter,
): Promise<EngineResult> {
  const proto = model.proto;
  const graph = proto.graph!;
  const index = new GraphIndex(graph);
  const sink = new InitializerSink(graph, writer);
  const skips = new SkipList();
  const warnings: string[] = [];
  const graphInputs = new Set(graph.input.map((i) => i.name));
  const casts: NodeProto[] = [];
  const converted = new Set<string>();
  const touched = new Set<NodeProto>();
  const originals = [...graph.initializer];
  const pacer = new NodePacer(ctx, originals.length);
  for (const [i, t] of originals.entries()) {
    await pacer.step(i);
    if (t.dataType !== DataType.FLOAT || graphInputs.has(t.name) || index.graphOutputs.has(t.name)) continue;
    const users = index.consumers(t.name);
    const shape = tensorShape(t);
    if (users.length === 0 || shape.reduce((a, b) => a * b, 1) < MIN_ELEMENTS) continue;
    const refused = users.map((u) => ({ u, v: selection.check(u) })).filter((x) => !x.v.selected);
    if (refused.length) {
      for (const { u, v } of refused) if (!v.selected) skips.add(u, v.reason);
      continue;
    }
    const values = weightValues(t, model);
    if (!withinFp16(values)) {
      for (const u of users) skips.add(u, `weight '${t.name}' has values beyond the float16 range; kept float32`);
      continue;
    }
    const half = sink.add(makeTensor(index.unique(`${t.name}_fp16`), DataType.FLOAT16, shape, bytesOf(toFloat16(values))));
    casts.push(makeNode('Cast', [half.name], [t.name], { to: DataType.FLOAT }, { name: index.unique(`${t.name}_cast_fp32`) }));
    converted.add(t.name);
    for (const u of users) touched.add(u);
  }
  graph.initializer = graph.initializer.filter((t: TensorProto) => !converted.has(t.name));
  graph.node = [...casts, ...graph.node];
  pruneValueInfo(graph);
  if (converted.size === 0) warnings.push('no float32 initializer to convert');
  return { proto, quantizedNodes: touched.size, skippedNodes: skips.toArray(), warnings };
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
