/**
 * The one read-only index over a model's graphs, and the one node identity.
 *
 * `indexModel(proto)` walks the main graph and every If/Loop/Scan body once and records:
 * - every node with its `key` (identity) and `label` (display), its position and its scope;
 * - producers and consumers of every tensor name (consumers include nodes of subgraphs that read
 *   an outer-scope name, and graph outputs are listed in `graphOutputs`);
 * - initializers and Constant-node values by tensor name;
 * - the scopes: the main graph and each subgraph with its owner node, attribute, depth, key path
 *   and the outer-scope names it reads.
 *
 * Node keys (`nodeKey`) are what lists, recipes, `--nodes` / `--exclude-nodes`, reports and
 * diagnostics use to name a node, so every part of the tool agrees on them:
 * - the node's name when it is non-empty and unique in its graph;
 * - else its first non-empty output name (unique in a valid graph);
 * - else `<opType>_<index>`; and when that is taken too, a `_<n>` suffix;
 * - nodes of a subgraph carry their path: `<owner key>/<attribute>/<key in the subgraph>`.
 * Keys are unique in the whole model. They are a function of the graph alone, so indexing the
 * same (or a copied) graph again gives the same keys.
 *
 * Indexing also records each node's key on the node object, so code holding only a NodeProto
 * (a rewrite's per-node handler, a skip list) gets the same key with `nodeKey(node)`; a node
 * made by a rewrite that replaces an indexed one takes its key with `carryKey`.
 *
 * The index does not follow later edits: a rewrite indexes the graph before it changes it.
 */
import { create } from '@bufbuild/protobuf';
import { getAttribute } from './builder';
import { GraphProtoSchema, type GraphProto, type ModelProto, type NodeProto, type TensorProto } from './schema';
import { attributeGraphs } from './walk';

/** Separator between the owner key, the attribute and the inner key of a subgraph node. */
export const SCOPE_SEPARATOR = '/';

export interface GraphScope {
  graph: GraphProto;
  /** 0 for the main graph, 1 for a body of a main-graph node, and so on. */
  depth: number;
  /** The node owning this body and its attribute (then_branch, else_branch, body); undefined for the main graph. */
  owner?: { node: NodeProto; attribute: string; key: string };
  parent?: GraphScope;
  /** Key prefix of this scope's nodes: '' for the main graph, `<owner key>/<attribute>/` below. */
  path: string;
  /** Names this graph (or a graph inside it) reads that it does not define: they come from an outer scope. */
  outerNames: ReadonlySet<string>;
}

export interface IndexedNode {
  node: NodeProto;
  /** Unique identity in the model (see the module comment). */
  key: string;
  /** For display: the node name, else its key within its graph. */
  label: string;
  /** Position in its graph. */
  index: number;
  scope: GraphScope;
}

export interface ConstantValue {
  tensor: TensorProto;
  kind: 'initializer' | 'constant';
  scope: GraphScope;
}

export class ModelIndex {
  /** Main graph first, then every subgraph (depth-first, in node order). */
  readonly scopes: readonly GraphScope[];
  /** Every node of every graph, main graph first, in graph order. */
  readonly nodes: readonly IndexedNode[];
  /** Output names of the main graph. */
  readonly graphOutputs: ReadonlySet<string>;
  private readonly byNode = new Map<NodeProto, IndexedNode>();
  private readonly byKeyMap = new Map<string, IndexedNode>();
  private readonly producerMap = new Map<string, IndexedNode>();
  private readonly consumerMap = new Map<string, IndexedNode[]>();
  private readonly constantMap = new Map<string, ConstantValue>();

  constructor(readonly main: GraphProto) {
    const nodes: IndexedNode[] = [];
    const taken = new Set<string>();
    // While building, each scope's outer names are still being filled and it knows its owner's entry.
    type Building = GraphScope & { outerNames: Set<string>; ownerEntry?: IndexedNode; parent?: Building };
    const built: Building[] = [];
    // Explicit stack (hostile files can nest subgraphs deeply); children pushed in reverse so the
    // walk visits them in node order.
    const stack: Building[] = [{ graph: main, depth: 0, path: '', outerNames: new Set() }];
    for (let scope = stack.pop(); scope; scope = stack.pop()) {
      const parent = scope;
      built.push(parent);
      const keys = localKeys(parent.graph, parent.path, taken);
      const children: Building[] = [];
      parent.graph.node.forEach((node, index) => {
        const key = keys[index] ?? fallbackKey(node);
        const entry: IndexedNode = { node, key, label: node.name || key.slice(parent.path.length), index, scope: parent };
        nodes.push(entry);
        this.byNode.set(node, entry);
        assignedKeys.set(node, key);
        this.byKeyMap.set(key, entry);
        for (const attr of node.attribute) {
          for (const g of attributeGraphs(attr)) {
            const path = `${key}${SCOPE_SEPARATOR}${attr.name}${SCOPE_SEPARATOR}`;
            children.push({ graph: g, depth: parent.depth + 1, owner: { node, attribute: attr.name, key }, ownerEntry: entry, parent, path, outerNames: new Set() });
          }
        }
      });
      stack.push(...children.reverse());
    }
    // Scopes are in pre-order: walking them backwards settles every body before its owner's graph.
    for (const scope of [...built].reverse()) {
      for (const n of localOuterNames(scope.graph)) scope.outerNames.add(n);
      if (scope.parent) {
        const parentDefines = definedNames(scope.parent.graph);
        for (const n of scope.outerNames) if (!parentDefines.has(n)) scope.parent.outerNames.add(n);
      }
    }
    const scopes: GraphScope[] = built;
    this.scopes = scopes;
    this.nodes = nodes;
    this.graphOutputs = new Set(main.output.map((o) => o.name));

    for (const scope of scopes) {
      for (const t of scope.graph.initializer) this.constantMap.set(t.name, { tensor: t, kind: 'initializer', scope });
    }
    for (const entry of nodes) {
      const { node, scope } = entry;
      for (const o of node.output) if (o) this.producerMap.set(o, entry);
      for (const i of new Set(node.input)) if (i) this.addConsumer(i, entry);
      if (node.opType === 'Constant' && (node.domain === '' || node.domain === 'ai.onnx') && node.output[0]) {
        const value = getAttribute(node, 'value')?.t;
        if (value) this.constantMap.set(node.output[0], { tensor: value, kind: 'constant', scope });
      }
    }
    // A node whose body reads an outer name consumes it too (If/Loop/Scan implicit inputs), after its direct readers.
    for (const scope of built) {
      const owner = scope.ownerEntry;
      if (owner) for (const n of scope.outerNames) if (!owner.node.input.includes(n)) this.addConsumer(n, owner);
      delete scope.ownerEntry;
    }
  }

  private addConsumer(name: string, entry: IndexedNode): void {
    let list = this.consumerMap.get(name);
    if (!list) this.consumerMap.set(name, (list = []));
    if (!list.includes(entry)) list.push(entry);
  }

  /** The indexed entry of a node, undefined for nodes the index never saw (made after indexing). */
  entry(node: NodeProto): IndexedNode | undefined {
    return this.byNode.get(node);
  }

  /** The node's key; nodes made after indexing get `nodeKey` (a carried key, else name or first output). */
  keyOf(node: NodeProto): string {
    return this.byNode.get(node)?.key ?? nodeKey(node);
  }

  byKey(key: string): IndexedNode | undefined {
    return this.byKeyMap.get(key);
  }

  /** The node writing a tensor. */
  producer(name: string): IndexedNode | undefined {
    return this.producerMap.get(name);
  }

  /** Nodes reading a tensor, directly or (for If/Loop/Scan) from a body; each node once. */
  consumers(name: string): readonly IndexedNode[] {
    return this.consumerMap.get(name) ?? [];
  }

  initializer(name: string): TensorProto | undefined {
    const c = this.constantMap.get(name);
    return c?.kind === 'initializer' ? c.tensor : undefined;
  }

  /** An initializer or a Constant node's value, with where it lives. */
  constant(name: string): ConstantValue | undefined {
    return this.constantMap.get(name);
  }

  /** Every constant tensor by name (initializers and Constant outputs of all graphs). */
  get constants(): ReadonlyMap<string, ConstantValue> {
    return this.constantMap;
  }
}

/** Keys given by the latest index that saw each node object. */
const assignedKeys = new WeakMap<NodeProto, string>();

/**
 * The key the latest index of its graph gave this node; a node never indexed (made by a rewrite)
 * gets `fallbackKey`.
 */
export function nodeKey(node: NodeProto): string {
  return assignedKeys.get(node) ?? fallbackKey(node);
}

/** A node that replaces `from` (same op rewritten, e.g. BatchNormalization folded into a Conv) keeps its key. */
export function carryKey(from: NodeProto, to: NodeProto): NodeProto {
  const key = assignedKeys.get(from);
  if (key !== undefined) assignedKeys.set(to, key);
  return to;
}

/** Index a model (or one graph and its subgraphs). An empty model gives an empty index. */
export function indexModel(model: ModelProto | GraphProto): ModelIndex {
  if (model.$typeName === 'onnx.GraphProto') return new ModelIndex(model);
  return new ModelIndex(model.graph ?? create(GraphProtoSchema));
}

/** The key of a node seen without its graph: its name, else its first non-empty output, else its op type. */
export function fallbackKey(node: NodeProto): string {
  return node.name || node.output.find((o) => o) || node.opType;
}

/** Keys of one graph's nodes, in node order, reserving them in `taken` (model-wide). */
function localKeys(graph: GraphProto, prefix: string, taken: Set<string>): string[] {
  const nameCount = new Map<string, number>();
  for (const n of graph.node) if (n.name) nameCount.set(n.name, (nameCount.get(n.name) ?? 0) + 1);
  const keys: (string | undefined)[] = new Array(graph.node.length);
  const claim = (i: number, local: string): boolean => {
    const key = prefix + local;
    if (taken.has(key)) return false;
    taken.add(key);
    keys[i] = key;
    return true;
  };
  // Unique names first, so an unnamed node whose output happens to equal a name never takes it.
  graph.node.forEach((n, i) => {
    if (n.name && nameCount.get(n.name) === 1) claim(i, n.name);
  });
  graph.node.forEach((n, i) => {
    if (keys[i] !== undefined) return;
    const out = n.output.find((o) => o);
    if (out && claim(i, out)) return;
    const base = `${n.opType}_${i}`;
    if (claim(i, base)) return;
    for (let k = 2; !claim(i, `${base}_${k}`); k++);
  });
  return keys as string[];
}

/** Names a graph defines: its inputs, initializers and node outputs. */
function definedNames(graph: GraphProto): Set<string> {
  const defined = new Set<string>();
  for (const v of graph.input) defined.add(v.name);
  for (const t of graph.initializer) defined.add(t.name);
  for (const s of graph.sparseInitializer) if (s.values?.name) defined.add(s.values.name);
  for (const n of graph.node) for (const o of n.output) if (o) defined.add(o);
  return defined;
}

/** Names a graph's own nodes and outputs read that it does not define (bodies not included). */
function localOuterNames(graph: GraphProto): string[] {
  const defined = definedNames(graph);
  const out: string[] = [];
  for (const n of graph.node) for (const i of n.input) if (i && !defined.has(i)) out.push(i);
  for (const o of graph.output) if (!defined.has(o.name)) out.push(o.name);
  return out;
}
