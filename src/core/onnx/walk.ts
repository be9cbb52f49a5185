import type { AttributeProto, GraphProto, NodeProto, TensorProto } from './schema';

/** A graph and where it sits: the main graph has depth 0, subgraphs of If/Loop/Scan deeper. */
export interface GraphVisit {
  graph: GraphProto;
  depth: number;
  /** The node owning this subgraph and the attribute name, undefined for the main graph. */
  owner?: { node: NodeProto; attribute: string };
}

/**
 * Every graph in the model, main graph first, without recursion (hostile files can nest
 * subgraphs deeply; an explicit stack cannot overflow the call stack).
 */
export function* walkGraphs(main: GraphProto): Generator<GraphVisit> {
  const stack: GraphVisit[] = [{ graph: main, depth: 0 }];
  while (stack.length) {
    const visit = stack.pop()!;
    yield visit;
    const children: GraphVisit[] = [];
    for (const node of visit.graph.node) {
      for (const attr of node.attribute) {
        for (const g of attributeGraphs(attr)) {
          children.push({ graph: g, depth: visit.depth + 1, owner: { node, attribute: attr.name } });
        }
      }
    }
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
  }
}

/** A standard (ai.onnx) If node: its then_branch and else_branch run one or the other. */
export function isIfNode(node: NodeProto): boolean {
  return node.opType === 'If' && (!node.domain || node.domain === 'ai.onnx');
}

export function attributeGraphs(attr: AttributeProto): GraphProto[] {
  const out: GraphProto[] = [];
  if (attr.g) out.push(attr.g);
  out.push(...attr.graphs);
  return out;
}

/** Where a tensor lives, for messages and for moving it (Constant nodes, initializers). */
export interface TensorVisit {
  tensor: TensorProto;
  graphDepth: number;
  kind: 'initializer' | 'constant' | 'attribute' | 'sparse';
  node?: NodeProto;
}

/** Every dense tensor stored in the model: initializers, Constant values, tensor attributes. */
export function* walkTensors(main: GraphProto): Generator<TensorVisit> {
  for (const { graph, depth } of walkGraphs(main)) {
    for (const t of graph.initializer) yield { tensor: t, graphDepth: depth, kind: 'initializer' };
    for (const s of graph.sparseInitializer) {
      if (s.values) yield { tensor: s.values, graphDepth: depth, kind: 'sparse' };
      if (s.indices) yield { tensor: s.indices, graphDepth: depth, kind: 'sparse' };
    }
    for (const node of graph.node) {
      for (const attr of node.attribute) {
        const kind = node.opType === 'Constant' && node.domain === '' ? 'constant' : 'attribute';
        if (attr.t) yield { tensor: attr.t, graphDepth: depth, kind, node };
        for (const t of attr.tensors) yield { tensor: t, graphDepth: depth, kind, node };
      }
    }
  }
}
