/**
 * Element types of a model's tensors: declared (inputs, outputs, value_info, constants), or
 * propagated through the graphs in order with a few cheap rules. One pass, computed once per index.
 */
import { DataType } from '../onnx/dtype';
import type { ModelIndex } from '../onnx/graph-index';
import type { NodeProto, ValueInfoProto } from '../onnx/schema';
import { getAttribute } from '../onnx/builder';

export interface ElementTypes {
  /** Element type of a tensor, or undefined when neither declared nor inferable. */
  get(name: string): number | undefined;
}

const cache = new WeakMap<ModelIndex, ElementTypes>();

/** The element types over an index (computed on first use, then shared by every analysis of it). */
export function elementTypes(index: ModelIndex): ElementTypes {
  let types = cache.get(index);
  if (!types) cache.set(index, (types = computeTypes(index)));
  return types;
}

function computeTypes(index: ModelIndex): ElementTypes {
  const types = new Map<string, number>();
  const declare = (vi: ValueInfoProto): void => {
    const t = vi.type?.value;
    if (t?.case === 'tensorType' && t.value.elemType) types.set(vi.name, t.value.elemType);
  };
  for (const { graph } of index.scopes) for (const vi of [...graph.input, ...graph.output, ...graph.valueInfo]) declare(vi);
  for (const [name, { tensor }] of index.constants) if (!types.has(name)) types.set(name, tensor.dataType);
  // Forward pass in graph order (graphs are topologically sorted); unknown stays unknown.
  for (const { node } of index.nodes) {
    const outs = inferOutputTypes(node, (n) => types.get(n));
    node.output.forEach((o, i) => {
      const t = outs[i];
      if (o && t && !types.has(o)) types.set(o, t);
    });
  }
  return types;
}

const INT64_OUT = new Set(['Shape', 'Size', 'NonZero', 'ArgMax', 'ArgMin', 'NonMaxSuppression', 'Unique']);
const BOOL_OUT = new Set(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'Not', 'And', 'Or', 'Xor', 'IsNaN', 'IsInf']);
const INT32_OUT = new Set(['MatMulInteger', 'ConvInteger', 'QLinearMatMulInteger']);

/** Output element types of one node from its inputs' types, for the common ops; [] when unknown. */
function inferOutputTypes(node: NodeProto, typeOf: (name: string) => number | undefined): (number | undefined)[] {
  const op = node.opType;
  const standard = node.domain === '' || node.domain === 'ai.onnx';
  const first = node.input[0] ? typeOf(node.input[0]) : undefined;
  if (op === 'Cast' && standard) return [Number(getAttribute(node, 'to')?.i ?? 0) || undefined];
  if (op === 'QuantizeLinear') {
    const zp = node.input[2] ? typeOf(node.input[2]) : undefined;
    const attr = getAttribute(node, 'output_dtype');
    return [zp ?? (attr && Number(attr.i) ? Number(attr.i) : DataType.UINT8)];
  }
  if (op === 'DequantizeLinear') return [node.input[1] ? typeOf(node.input[1]) : DataType.FLOAT];
  if (op === 'DynamicQuantizeLinear') return [DataType.UINT8, DataType.FLOAT, DataType.UINT8];
  if (op === 'ConstantOfShape') return [getAttribute(node, 'value')?.t?.dataType ?? DataType.FLOAT];
  if (!standard) {
    // Known float-in/float-out contrib ops; other custom ops stay unknown.
    if (['MatMulNBits', 'MatMulIntegerToFloat', 'DynamicQuantizeMatMul', 'Gelu', 'FastGelu', 'BiasGelu', 'SkipLayerNormalization', 'Attention', 'MultiHeadAttention'].includes(op)) {
      return [DataType.FLOAT];
    }
    return [];
  }
  if (INT64_OUT.has(op)) return [DataType.INT64, DataType.INT64, DataType.INT64, DataType.INT64];
  if (BOOL_OUT.has(op)) return [DataType.BOOL];
  if (INT32_OUT.has(op)) return [DataType.INT32];
  if (op === 'Where') return [node.input[1] ? typeOf(node.input[1]) : undefined];
  if (op === 'Range' || op === 'Gather' || op === 'GatherElements' || op === 'GatherND') return [first];
  if (op === 'If' || op === 'Loop' || op === 'Scan') return [];
  // Most remaining standard ops keep the element type of their first input (all outputs alike).
  return node.output.map(() => first);
}
