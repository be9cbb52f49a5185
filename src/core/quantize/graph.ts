/**
 * Graph bookkeeping shared by the rewriting modes: initializer lookup, consumers, unique names,
 * and the hygiene ORT insists on (reference §6.1, §6.6): com.microsoft opset import, no unused
 * initializers, no stale value_info, topological order.
 */
import { create } from '@bufbuild/protobuf';
import { OperatorSetIdProtoSchema, type GraphProto, type ModelProto, type NodeProto, type TensorProto } from '../onnx/schema';
import { walkGraphs } from '../onnx/walk';

export class GraphIndex {
  readonly initializers = new Map<string, TensorProto>();
  private readonly consumerMap = new Map<string, NodeProto[]>();
  private readonly used = new Set<string>();
  readonly graphOutputs: Set<string>;

  constructor(readonly graph: GraphProto) {
    for (const t of graph.initializer) {
      this.initializers.set(t.name, t);
      this.used.add(t.name);
    }
    for (const v of [...graph.input, ...graph.output, ...graph.valueInfo]) this.used.add(v.name);
    this.graphOutputs = new Set(graph.output.map((o) => o.name));
    // Names used in subgraphs too, so new names never shadow an outer-scope reference.
    for (const { graph: g } of walkGraphs(graph)) {
      for (const n of g.node) {
        if (n.name) this.used.add(n.name);
        for (const o of n.output) this.used.add(o);
        for (const i of n.input) this.used.add(i);
      }
      for (const t of g.initializer) this.used.add(t.name);
    }
    for (const n of graph.node) {
      for (const i of n.input) {
        if (!i) continue;
        let list = this.consumerMap.get(i);
        if (!list) this.consumerMap.set(i, (list = []));
        list.push(n);
      }
    }
  }

  consumers(name: string): NodeProto[] {
    return this.consumerMap.get(name) ?? [];
  }

  /** A name not used by any tensor or node yet (and reserved from now on). */
  unique(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }
}

/** Import `domain` at `version` unless the model already does. */
export function ensureOpset(model: ModelProto, domain: string, version: number): void {
  if (model.opsetImport.some((o) => o.domain === domain)) return;
  model.opsetImport.push(create(OperatorSetIdProtoSchema, { domain, version: BigInt(version) }));
}

/** Every tensor name read by any node of the graph or its subgraphs, plus graph outputs. */
function referencedNames(graph: GraphProto): Set<string> {
  const used = new Set<string>(graph.output.map((o) => o.name));
  for (const { graph: g } of walkGraphs(graph)) {
    for (const n of g.node) for (const i of n.input) if (i) used.add(i);
    for (const o of g.output) used.add(o.name);
  }
  return used;
}

/** Drop initializers no node reads (and graph inputs that only declared them, for IR < 4 models). */
export function removeUnusedInitializers(graph: GraphProto): TensorProto[] {
  const used = referencedNames(graph);
  const removed = graph.initializer.filter((t) => !used.has(t.name));
  if (removed.length === 0) return removed;
  const gone = new Set(removed.map((t) => t.name));
  graph.initializer = graph.initializer.filter((t) => !gone.has(t.name));
  graph.input = graph.input.filter((i) => !gone.has(i.name));
  return removed;
}

/** Keep value_info only for tensors that still exist, minus `changed` (types/shapes no longer valid). */
export function pruneValueInfo(graph: GraphProto, changed: Iterable<string> = []): void {
  const produced = new Set<string>();
  for (const n of graph.node) for (const o of n.output) produced.add(o);
  const stale = new Set(changed);
  graph.valueInfo = graph.valueInfo.filter((v) => produced.has(v.name) && !stale.has(v.name));
}

/**
 * Order nodes so every input is produced before use (Kahn's algorithm, stable: keeps the
 * original order where possible). Inputs produced nowhere (graph inputs, initializers, outer
 * scope) count as available.
 */
export function topologicalSort(graph: GraphProto): void {
  const nodes = graph.node;
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => n.output.forEach((o) => o && producer.set(o, i)));
  const pending = new Array<number>(nodes.length).fill(0);
  const dependents: number[][] = nodes.map(() => []);
  nodes.forEach((n, i) => {
    const deps = new Set<number>();
    for (const name of nodeInputsDeep(n)) {
      const p = producer.get(name);
      if (p !== undefined && p !== i) deps.add(p);
    }
    pending[i] = deps.size;
    for (const d of deps) dependents[d]!.push(i);
  });
  const ready: number[] = [];
  nodes.forEach((_, i) => pending[i] === 0 && ready.push(i));
  const order: number[] = [];
  // A min-heap would be faster; graphs here are small enough that a sorted insert is fine.
  while (ready.length) {
    const i = ready.shift()!;
    order.push(i);
    for (const d of dependents[i]!) {
      if (--pending[d]! === 0) {
        let k = 0;
        while (k < ready.length && ready[k]! < d) k++;
        ready.splice(k, 0, d);
      }
    }
  }
  if (order.length !== nodes.length) return; // a cycle: leave as is, ORT will report it
  graph.node = order.map((i) => nodes[i]!);
}

/** Inputs of a node including names its subgraphs read from the outer scope. */
function nodeInputsDeep(node: NodeProto): string[] {
  const out = node.input.filter(Boolean);
  for (const a of node.attribute) {
    const graphs = [...(a.g ? [a.g] : []), ...a.graphs];
    for (const g of graphs) {
      for (const { graph } of walkGraphs(g)) for (const n of graph.node) out.push(...n.input.filter(Boolean));
    }
  }
  return out;
}
