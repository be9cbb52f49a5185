/**
 * Element types of a model's tensors: declared (inputs, outputs, value_info, constants), or
 * propagated through the graphs in order (rules in onnx/output-types.ts). One pass, computed once per index.
 */
import type { ModelIndex } from './graph-index';
import type { ValueInfoProto } from './schema';
import { ifOutputTypes, outputElementTypes } from './output-types';
import { isIfNode } from './walk';

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
  // Forward passes in graph order (graphs are topologically sorted); unknown stays unknown. An If's
  // outputs take its branches' output types, known only once the branch is typed: the main graph
  // comes before its bodies in the index, so a pass is repeated while it still types something.
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const before = types.size;
    for (const { node } of index.nodes) {
      const outs = isIfNode(node) ? ifOutputTypes(node, (_, name) => types.get(name)) : outputElementTypes(node, (n) => types.get(n), { unknownOps: 'first' });
      node.output.forEach((o, i) => {
        const t = outs[i];
        if (o && t && !types.has(o)) types.set(o, t);
      });
    }
    if (types.size === before) break;
  }
  return types;
}

/** Passes over the nodes: one per level of If nesting whose outputs feed later nodes is enough in practice. */
const MAX_PASSES = 4;
