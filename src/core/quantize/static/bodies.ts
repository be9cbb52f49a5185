/**
 * Static quantization inside If branches. ONNX Runtime returns no tensor of a body as a model
 * output, so calibration runs a copy of the model in which each body tensor to observe is carried
 * out: an extra output of its branch (through an Identity), the other branch giving an empty
 * float tensor in its place, and an extra output of the If, up to the main graph. Only the branch
 * a sample takes runs, so a branch that no calibration sample takes gets no range and stays float.
 * Loop and Scan bodies run many times per call and are left float (their reason is in index.ts).
 *
 * Weights a body reads from an enclosing graph (an outer-scope initializer or Constant) are copied
 * into the body under a new name first, so the planner and the writers see them as the body's own.
 */
import { makeNode, makeValueInfo, withFields } from '../../onnx/builder';
import { DataType } from '../../onnx/dtype';
import { carryKey, SCOPE_SEPARATOR, type GraphScope, type ModelIndex } from '../../onnx/graph-index';
import type { GraphProto, ModelProto, NodeProto, TensorProto } from '../../onnx/schema';
import { floatTensor } from '../../onnx/tensor';
import { attributeGraphs } from '../../onnx/walk';
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

/** Every name used anywhere in the model: new names in any graph must not shadow or collide with them. */
export function modelNames(index: ModelIndex): Set<string> {
  const names = new Set<string>();
  for (const { graph } of index.scopes) {
    for (const t of graph.initializer) names.add(t.name);
    for (const v of [...graph.input, ...graph.output, ...graph.valueInfo]) names.add(v.name);
    for (const n of graph.node) {
      if (n.name) names.add(n.name);
      for (const x of [...n.input, ...n.output]) if (x) names.add(x);
    }
  }
  return names;
}

export function uniqueNamer(taken: Set<string>): (base: string) => string {
  return (base) => {
    let name = base;
    for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
    taken.add(name);
    return name;
  };
}

const isIf = (scope: GraphScope | undefined): boolean => scope?.owner?.node.opType === 'If' && (!scope.owner.node.domain || scope.owner.node.domain === 'ai.onnx');

/** The If branches reachable from the main graph through If nodes only, each ready to plan. */
export function staticBodies(index: ModelIndex, fresh: (base: string) => string): StaticBody[] {
  const typesOf = new Map<GraphScope, Map<string, number>>();
  const types = (scope: GraphScope): Map<string, number> => {
    let t = typesOf.get(scope);
    if (!t) typesOf.set(scope, (t = inferElemTypes(scope.graph, scope.parent ? types(scope.parent) : undefined)));
    return t;
  };
  const out: StaticBody[] = [];
  for (const scope of index.scopes) {
    if (scope.depth === 0) continue;
    let eligible = true;
    for (let s: GraphScope | undefined = scope; s && s.depth > 0; s = s.parent) if (!isIf(s)) eligible = false;
    if (!eligible) continue;
    const originalOf = new Map<NodeProto, NodeProto>();
    const graph = withOuterWeights(scope, fresh, originalOf);
    out.push({ scope, graph, types: inferElemTypes(graph, scope.parent ? types(scope.parent) : undefined), originalOf, path: scope.path.slice(0, -SCOPE_SEPARATOR.length) });
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

/** A calibration target inside a branch: where it is and what it is called there. */
export interface CarriedTensor {
  body: GraphProto;
  tensor: string;
}

/**
 * A copy of the model for calibration in which each wanted branch tensor is also a main-graph
 * output; `carried` maps those output names to the branch tensors. Branches are found by object
 * identity (the scopes' graphs of the index the bodies came from).
 */
export function carryOut(proto: ModelProto, wanted: ReadonlyMap<GraphProto, readonly string[]>, fresh: (base: string) => string): { proto: ModelProto; carried: Map<string, CarriedTensor> } {
  const main = proto.graph;
  if (!main || wanted.size === 0) return { proto, carried: new Map() };
  const lifted = liftIn(main, wanted, fresh);
  const graph = withFields(lifted.graph, { output: [...main.output, ...lifted.carried.map((c) => makeValueInfo(c.name, DataType.FLOAT))] });
  return { proto: withFields(proto, { graph }), carried: new Map(lifted.carried.map((c) => [c.name, { body: c.body, tensor: c.tensor }])) };
}

interface Lifted {
  graph: GraphProto;
  /** Names in `graph` holding wanted tensors of it or of the branches below it. */
  carried: { name: string; body: GraphProto; tensor: string }[];
}

function liftIn(graph: GraphProto, wanted: ReadonlyMap<GraphProto, readonly string[]>, fresh: (base: string) => string): Lifted {
  const carried: Lifted['carried'] = (wanted.get(graph) ?? []).map((t) => ({ name: t, body: graph, tensor: t }));
  let changed = false;
  const node = graph.node.map((n) => {
    if (n.opType !== 'If' || (n.domain && n.domain !== 'ai.onnx')) return n;
    const thenAttr = n.attribute.find((a) => a.name === 'then_branch');
    const elseAttr = n.attribute.find((a) => a.name === 'else_branch');
    if (!thenAttr?.g || !elseAttr?.g) return n;
    const a = liftIn(thenAttr.g, wanted, fresh);
    const b = liftIn(elseAttr.g, wanted, fresh);
    if (!a.carried.length && !b.carried.length) return n;
    changed = true;
    const thenGraph = withOutputs(a.graph, [...a.carried.map((c) => c.name), ...b.carried.map(() => undefined)], fresh);
    const elseGraph = withOutputs(b.graph, [...a.carried.map(() => undefined), ...b.carried.map((c) => c.name)], fresh);
    const extra = [...a.carried, ...b.carried].map((c) => ({ ...c, name: fresh(`${c.tensor}_carried`) }));
    carried.push(...extra);
    const attribute = n.attribute.map((attr) =>
      attr === thenAttr ? withFields(attr, { g: thenGraph }) : attr === elseAttr ? withFields(attr, { g: elseGraph }) : attr,
    );
    return withFields(n, { output: [...n.output, ...extra.map((c) => c.name)], attribute });
  });
  // Outputs of this graph (when it is a branch) are added by the caller, which knows both branches.
  return { graph: changed ? withFields(graph, { node }) : graph, carried };
}

/** A branch with extra outputs: each named tensor through an Identity, an empty float tensor for each gap. */
function withOutputs(graph: GraphProto, names: (string | undefined)[], fresh: (base: string) => string): GraphProto {
  const nodes: NodeProto[] = [];
  const outputs = names.map((name) => {
    const out = fresh(name ? `${name}_out` : 'not_in_this_branch');
    nodes.push(name ? makeNode('Identity', [name], [out], {}, { name: fresh(`${out}_Identity`) }) : makeNode('Constant', [], [out], { value: floatTensor(out, [0], []) }, { name: fresh(`${out}_Constant`) }));
    return makeValueInfo(out, DataType.FLOAT);
  });
  return withFields(graph, { node: [...graph.node, ...nodes], output: [...graph.output, ...outputs] });
}

/**
 * The main graph's nodes with every replaced branch (by the original branch object) swapped in,
 * at any depth; nodes whose branches did not change are the same objects.
 */
export function withBodies(nodes: readonly NodeProto[], replaced: ReadonlyMap<GraphProto, GraphProto>): NodeProto[] {
  if (replaced.size === 0) return [...nodes];
  const rebuild = (g: GraphProto): GraphProto => {
    const next = replaced.get(g) ?? g;
    const node = swapIn(next.node);
    return node === next.node ? next : withFields(next, { node });
  };
  const swapIn = (list: NodeProto[]): NodeProto[] => {
    let changed = false;
    const out = list.map((n) => {
      if (!n.attribute.some((a) => attributeGraphs(a).length)) return n;
      const attribute = n.attribute.map((a) => {
        if (!a.g && !a.graphs.length) return a;
        const g = a.g ? rebuild(a.g) : undefined;
        const graphs = a.graphs.map(rebuild);
        if (g === a.g && graphs.every((x, i) => x === a.graphs[i])) return a;
        return withFields(a, { ...(g ? { g } : {}), graphs });
      });
      if (attribute.every((a, i) => a === n.attribute[i])) return n;
      changed = true;
      return carryKey(n, withFields(n, { attribute }));
    });
    return changed ? out : list;
  };
  return swapIn([...nodes]);
}
