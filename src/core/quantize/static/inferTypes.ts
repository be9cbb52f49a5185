/**
 * Element-type inference, just enough for static quantization: which tensors are float (worth
 * calibrating and quantizing). Starts from graph inputs, initializers, value_info and outputs,
 * then propagates through nodes in order (rules in onnx/output-types.ts). Unknown ops leave their outputs untyped: calibration
 * exposes those untyped and takes the type ONNX Runtime reports (doc §6.11).
 */
import { DataType } from '../../onnx/dtype';
import { ifOutputTypes, outputElementTypes } from '../../onnx/output-types';
import type { GraphProto, ValueInfoProto } from '../../onnx/schema';
import { isIfNode } from '../../onnx/walk';

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
  // A branch that declares no output types is inferred, once, with what is typed where its If is;
  // nesting is bounded (a hostile file may nest Ifs deeper than the call stack goes).
  const branches = new Map<GraphProto, Map<string, number>>();
  const branchType = (g: GraphProto, name: string): number | undefined => {
    if (depth >= MAX_NESTING) return undefined;
    let t = branches.get(g);
    if (!t) branches.set(g, (t = inferElemTypes(g, types, depth + 1)));
    return t.get(name);
  };
  for (const node of graph.node) {
    const outs = isIfNode(node) ? ifOutputTypes(node, branchType) : outputElementTypes(node, (name) => types.get(name), { unknownOps: 'unknown' });
    node.output.forEach((name, i) => {
      if (!name || types.has(name)) return;
      const t = outs[i];
      if (t) types.set(name, t);
    });
  }
  return types;
}

const MAX_NESTING = 32;

export function isFloat32(types: Map<string, number>, name: string): boolean {
  return types.get(name) === DataType.FLOAT;
}
