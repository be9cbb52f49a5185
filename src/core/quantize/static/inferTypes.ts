/**
 * Element-type inference, just enough for static quantization: which tensors are float (worth
 * calibrating and quantizing). Starts from graph inputs, initializers, value_info and outputs,
 * then propagates through nodes in order (rules in onnx/output-types.ts). Unknown ops leave their outputs untyped: calibration
 * exposes those untyped and takes the type ONNX Runtime reports (doc §6.11).
 */
import { DataType } from '../../onnx/dtype';
import { outputElementTypes } from '../../onnx/output-types';
import type { GraphProto, NodeProto, ValueInfoProto } from '../../onnx/schema';

function elemTypeOf(v: ValueInfoProto): number | undefined {
  const t = v.type?.value;
  if (t?.case !== 'tensorType') return undefined;
  return t.value.elemType || undefined;
}

/**
 * Element type of every tensor this pass can type (name → ONNX DataType). A body is typed with
 * `outer`, the types of the graphs enclosing it, for the names it reads from them.
 */
export function inferElemTypes(graph: GraphProto, outer?: ReadonlyMap<string, number>, depth = 0): Map<string, number> {
  const types = new Map<string, number>(outer);
  for (const v of [...graph.input, ...graph.valueInfo, ...graph.output]) {
    const t = elemTypeOf(v);
    if (t) types.set(v.name, t);
  }
  for (const t of graph.initializer) types.set(t.name, t.dataType);
  for (const node of graph.node) {
    const outs = node.opType === 'If' && (!node.domain || node.domain === 'ai.onnx') ? ifOutputTypes(node, types, depth) : outputElementTypes(node, (name) => types.get(name), { unknownOps: 'unknown' });
    node.output.forEach((name, i) => {
      if (!name || types.has(name)) return;
      const t = outs[i];
      if (t) types.set(name, t);
    });
  }
  return types;
}

const MAX_NESTING = 32;

/** An If's outputs have its branches' output types: declared, else inferred in the branch (both branches agree, or the If is invalid). */
function ifOutputTypes(node: NodeProto, outer: ReadonlyMap<string, number>, depth: number): (number | undefined)[] {
  const branches = ['then_branch', 'else_branch'].map((a) => node.attribute.find((x) => x.name === a)?.g).filter((g): g is GraphProto => g !== undefined);
  return node.output.map((_, i) => {
    for (const g of branches) {
      const out = g.output[i];
      // Nesting is bounded: a hostile file may nest Ifs deeper than the call stack goes.
      const t = out && (elemTypeOf(out) ?? (depth < MAX_NESTING ? inferElemTypes(g, outer, depth + 1).get(out.name) : undefined));
      if (t) return t;
    }
    return undefined;
  });
}

export function isFloat32(types: Map<string, number>, name: string): boolean {
  return types.get(name) === DataType.FLOAT;
}
