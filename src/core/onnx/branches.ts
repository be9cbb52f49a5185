/**
 * If branches as places to read tensors from: which branches are reachable from the main graph
 * through If nodes only, a copy of a model whose branch tensors are carried out as main-graph
 * outputs (ONNX Runtime returns no tensor of a body otherwise), and a model's nodes with some
 * branches replaced. Used by static calibration and by the per-layer error.
 */
import { makeNode, makeValueInfo, withFields } from './builder';
import { DataType } from './dtype';
import { carryKey, type GraphScope, type ModelIndex } from './graph-index';
import type { GraphProto, ModelProto, NodeProto } from './schema';
import { floatTensor } from './tensor';
import { attributeGraphs, isIfNode } from './walk';

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

/** Names made from a base that none of `taken` has (each one made is added to it). */
export function uniqueNamer(taken: Set<string>): (base: string) => string {
  return (base) => {
    let name = base;
    for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
    taken.add(name);
    return name;
  };
}

/** A body of a standard If node. */
export const isIfBranch = (scope: GraphScope | undefined): boolean => scope?.owner !== undefined && isIfNode(scope.owner.node);

/** The If branches reachable from the main graph through If nodes only (Loop/Scan bodies and what they hold excluded). */
export function ifBranches(index: ModelIndex): GraphScope[] {
  return index.scopes.filter((scope) => {
    if (scope.depth === 0) return false;
    for (let s: GraphScope | undefined = scope; s && s.depth > 0; s = s.parent) if (!isIfBranch(s)) return false;
    return true;
  });
}

/** A tensor inside a branch: which branch, and its name there. */
export interface CarriedTensor {
  body: GraphProto;
  tensor: string;
}

/**
 * A copy of the model in which each wanted branch tensor is also a main-graph output: an extra
 * output of its branch (through an Identity), an empty tensor from the other branch in its place,
 * an extra output of every If up to the main graph. Wanted tensors must be float32 (the stand-in
 * is). `carried` maps the new output names to the branch tensors. Branches are found by object
 * identity (the scopes' graphs of an index of `proto`).
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
    if (!isIfNode(n)) return n;
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
export function withBodies(nodes: readonly NodeProto[], replaced: ReadonlyMap<GraphProto, GraphProto>, finalOf?: Map<GraphProto, GraphProto>): NodeProto[] {
  if (replaced.size === 0) return [...nodes];
  const rebuild = (g: GraphProto): GraphProto => {
    const next = replaced.get(g) ?? g;
    const node = swapIn(next.node);
    const result = node === next.node ? next : withFields(next, { node });
    // A branch that is replaced or holds replaced branches ends as a new object: `finalOf` says which.
    if (result !== g) finalOf?.set(g, result);
    return result;
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
