/**
 * Static quantization inside If branches. ONNX Runtime returns no tensor of a body as a model
 * output, so calibration runs a copy of the model in which each body tensor to observe is carried
 * out (onnx/branches.ts). Only the branch a sample takes runs, so a branch that no calibration
 * sample takes gets no range and stays float. Loop and Scan bodies run many times per call and
 * are left float (their reason is in index.ts).
 *
 * Weights a body reads from an enclosing graph (an outer-scope initializer or Constant) are copied
 * into the body under a new name first, so the planner and the writers see them as the body's own.
 */
import { ifBranches } from '../../onnx/branches';
import { withFields } from '../../onnx/builder';
import { carryKey, SCOPE_SEPARATOR, type GraphScope, type ModelIndex } from '../../onnx/graph-index';
import type { GraphProto, NodeProto, TensorProto } from '../../onnx/schema';
import { inferElemTypes } from './inferTypes';
import { COMPUTE_OPS } from './plan';

/** One If branch as static mode plans it. */
export interface StaticBody {
  scope: GraphScope;
  /** The branch with the outer-scope weights of its compute ops copied in (what is planned and written). */
  graph: GraphProto;
  types: Map<string, number>;
  /** The branch's own node for each node of `graph` that the weight copies changed. */
  originalOf: Map<NodeProto, NodeProto>;
  /** Key prefix of its nodes, without the trailing separator (the `subgraph` of skipped nodes). */
  path: string;
}

/**
 * The If branches reachable from the main graph through If nodes only, each ready to plan, typed
 * with the types of the graphs around it (`mainTypes`, the main graph's, when the caller has them).
 */
export function staticBodies(index: ModelIndex, fresh: (base: string) => string, mainTypes?: Map<string, number>): StaticBody[] {
  // Scopes come in pre-order: a branch's enclosing graph is typed before it.
  const typesOf = new Map<GraphScope, Map<string, number>>();
  const out: StaticBody[] = [];
  for (const scope of ifBranches(index)) {
    const parent = scope.parent;
    let outer = parent ? typesOf.get(parent) : undefined;
    if (parent && !outer) typesOf.set(parent, (outer = mainTypes ?? inferElemTypes(parent.graph)));
    const originalOf = new Map<NodeProto, NodeProto>();
    const graph = withOuterWeights(scope, fresh, originalOf);
    const types = inferElemTypes(graph, outer);
    typesOf.set(scope, types);
    out.push({ scope, graph, types, originalOf, path: scope.path.slice(0, -SCOPE_SEPARATOR.length) });
  }
  return out;
}

/** Constants of the enclosing graphs by name (the nearest one wins, as name resolution does). */
function outerConstants(scope: GraphScope): Map<string, TensorProto> {
  const out = new Map<string, TensorProto>();
  for (let s = scope.parent; s; s = s.parent) {
    for (const t of s.graph.initializer) if (!out.has(t.name)) out.set(t.name, t);
    for (const n of s.graph.node) {
      const v = n.opType === 'Constant' ? n.attribute.find((a) => a.name === 'value')?.t : undefined;
      if (v && n.output[0] && !out.has(n.output[0])) out.set(n.output[0], v);
    }
  }
  return out;
}

function withOuterWeights(scope: GraphScope, fresh: (base: string) => string, originalOf: Map<NodeProto, NodeProto>): GraphProto {
  const g = scope.graph;
  const local = new Set<string>([...g.initializer.map((t) => t.name), ...g.input.map((v) => v.name), ...g.node.flatMap((n) => n.output)]);
  const outer = outerConstants(scope);
  const copies: TensorProto[] = [];
  const copied = new Map<string, string>();
  const node = g.node.map((n) => {
    if (!COMPUTE_OPS.has(n.opType) || (n.domain && n.domain !== 'ai.onnx')) return n;
    let changed = false;
    const input = n.input.map((i, k) => {
      const t = k > 0 && i && !local.has(i) ? outer.get(i) : undefined;
      if (!t) return i;
      changed = true;
      let name = copied.get(i);
      if (!name) {
        name = fresh(`${i}_in_body`);
        copied.set(i, name);
        copies.push(withFields(t, { name }));
      }
      return name;
    });
    if (!changed) return n;
    const copy = carryKey(n, withFields(n, { input }));
    originalOf.set(copy, n);
    return copy;
  });
  if (!copies.length) return g;
  return withFields(g, { node, initializer: [...g.initializer, ...copies] });
}

