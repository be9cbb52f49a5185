/**
 * Element types of a model's tensors: declared (inputs, outputs, value_info, constants), or
 * propagated through the graphs in order (rules in onnx/output-types.ts). One pass, computed once per index.
 */
import type { ModelIndex } from '../onnx/graph-index';
import type { ValueInfoProto } from '../onnx/schema';
import { outputElementTypes } from '../onnx/output-types';

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
    const outs = outputElementTypes(node, (n) => types.get(n), { unknownOps: 'first' });
    node.output.forEach((o, i) => {
      const t = outs[i];
      if (o && t && !types.has(o)) types.set(o, t);
    });
  }
  return types;
}
