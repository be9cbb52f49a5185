/**
 * Element-type inference, just enough for static quantization: which tensors are float (worth
 * calibrating and quantizing). Starts from graph inputs, initializers, value_info and outputs,
 * then propagates through nodes in order (rules in onnx/output-types.ts). Unknown ops leave their outputs untyped: calibration
 * exposes those untyped and takes the type ONNX Runtime reports (doc §6.11).
 */
import { DataType } from '../../onnx/dtype';
import { outputElementTypes } from '../../onnx/output-types';
import type { GraphProto, ValueInfoProto } from '../../onnx/schema';

function elemTypeOf(v: ValueInfoProto): number | undefined {
  const t = v.type?.value;
  if (t?.case !== 'tensorType') return undefined;
  return t.value.elemType || undefined;
}

/**
 * Element type of every tensor this pass can type (name → ONNX DataType). A body is typed with
 * `outer`, the types of the graphs enclosing it, for the names it reads from them.
 */
export function inferElemTypes(graph: GraphProto, outer?: ReadonlyMap<string, number>): Map<string, number> {
  const types = new Map<string, number>(outer);
  for (const v of [...graph.input, ...graph.valueInfo, ...graph.output]) {
    const t = elemTypeOf(v);
    if (t) types.set(v.name, t);
  }
  for (const t of graph.initializer) types.set(t.name, t.dataType);
  for (const node of graph.node) {
    const outs = outputElementTypes(node, (name) => types.get(name), { unknownOps: 'unknown' });
    node.output.forEach((name, i) => {
      if (!name || types.has(name)) return;
      const t = outs[i];
      if (t) types.set(name, t);
    });
  }
  return types;
}

export function isFloat32(types: Map<string, number>, name: string): boolean {
  return types.get(name) === DataType.FLOAT;
}
