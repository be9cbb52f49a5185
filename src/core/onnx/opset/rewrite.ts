/**
 * What an adapter may do while it rewrites one node: read ranks, element types and constant
 * values of the graph (and enclosing graphs), add initializers and nodes in the target opset's
 * form, and refuse when the node cannot be converted exactly.
 */
import { create, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { inferElemTypes } from '../../quantize/static/inferTypes';
import { getAttribute, makeAttribute, makeNode, type AttrValue } from '../builder';
import { DataType } from '../dtype';
import { GraphProtoSchema, TensorProtoSchema, type AttributeProto, type GraphProto, type NodeProto, type TensorProto } from '../schema';
import { bytesOf, float16Tensor, floatTensor, int64Tensor, makeTensor, readTensor } from '../tensor';
import { inferRanks } from './ranks';

/**
 * A shallow copy of a message with some fields replaced. (Spreading a parsed proto2 message into
 * create() loses the defaults of unset fields: `domain` would read undefined instead of ''.)
 */
export function copyMessage<S extends DescMessage>(schema: S, message: MessageShape<S>, changes: Partial<MessageShape<S>> = {}): MessageShape<S> {
  return Object.assign(create(schema), message, changes);
}

/** An adapter's verdict that the node has no exact equivalent in the target opset. */
export class NotConvertible extends Error {}

/** Names and uses shared by every graph of one model (names must stay unique across subgraphs). */
export class ModelNames {
  private readonly taken = new Set<string>();
  private readonly used = new Set<string>();
  private counter = 0;

  constructor(main: GraphProto, graphs: Iterable<GraphProto>) {
    for (const g of graphs) {
      for (const v of [...g.input, ...g.output, ...g.valueInfo]) this.taken.add(v.name);
      for (const t of g.initializer) this.taken.add(t.name);
      for (const n of g.node) {
        if (n.name) this.taken.add(n.name);
        for (const o of n.output) this.taken.add(o);
        for (const i of n.input) {
          this.taken.add(i);
          if (i) this.used.add(i);
        }
      }
      for (const o of g.output) this.used.add(o.name);
    }
    void main;
  }

  fresh(base: string): string {
    let name: string;
    do name = `${base || 'tensor'}__opset_${++this.counter}`;
    while (this.taken.has(name));
    this.taken.add(name);
    return name;
  }

  /** Whether any node (in any graph) reads the tensor or a graph returns it. */
  isUsed(name: string): boolean {
    return this.used.has(name);
  }
}

/** One graph being converted; `parent` answers for names from enclosing graphs (If/Loop/Scan bodies). */
export class GraphScope {
  readonly newInitializers: TensorProto[] = [];
  private readonly ranks: Map<string, number>;
  private readonly types: Map<string, number>;
  private readonly constants = new Map<string, TensorProto>();

  constructor(
    readonly graph: GraphProto,
    readonly names: ModelNames,
    readonly from: number,
    readonly target: number,
    readonly parent?: GraphScope,
  ) {
    this.ranks = inferRanks(graph, (n) => parent?.rank(n));
    this.types = inferElemTypes(graph);
    for (const t of graph.initializer) this.constants.set(t.name, t);
    for (const n of graph.node) {
      const value = n.opType === 'Constant' && (n.domain === '' || n.domain === 'ai.onnx') ? getAttribute(n, 'value')?.t : undefined;
      if (value && n.output[0]) this.constants.set(n.output[0], value);
    }
  }

  rank(name: string): number | undefined {
    return this.ranks.get(name) ?? this.parent?.rank(name);
  }

  elemType(name: string): number | undefined {
    return this.types.get(name) ?? this.parent?.elemType(name);
  }

  constant(name: string): TensorProto | undefined {
    return this.constants.get(name) ?? this.parent?.constant(name);
  }

  /** Whether the tensor is an initializer of this graph (so a reshaped copy can be stored beside it). */
  isInitializer(name: string): boolean {
    return this.graph.initializer.some((t) => t.name === name);
  }

  addInitializer(tensor: TensorProto): string {
    this.newInitializers.push(tensor);
    return tensor.name;
  }

  withInitializers(nodes: NodeProto[]): GraphProto {
    return copyMessage(GraphProtoSchema, this.graph, { node: nodes, initializer: [...this.graph.initializer, ...this.newInitializers] });
  }
}

/** The adapter's handle on one node: emits helper nodes around it in the target opset's form. */
export class NodeRewrite {
  readonly before: NodeProto[] = [];
  readonly after: NodeProto[] = [];

  constructor(readonly scope: GraphScope) {}

  get target(): number {
    return this.scope.target;
  }

  refuse(reason: string): never {
    throw new NotConvertible(reason);
  }

  fresh(base: string): string {
    return this.scope.names.fresh(base);
  }

  /** A new node (named after its first output) emitted before the rewritten node. */
  emit(opType: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue> = {}): NodeProto {
    const node = makeNode(opType, inputs, outputs, attrs, { name: this.fresh(opType) });
    this.before.push(node);
    return node;
  }

  emitAfter(opType: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue> = {}): NodeProto {
    const node = makeNode(opType, inputs, outputs, attrs, { name: this.fresh(opType) });
    this.after.push(node);
    return node;
  }

  int64s(base: string, values: readonly number[]): string {
    return this.scope.addInitializer(int64Tensor(this.fresh(base), [values.length], values));
  }

  floats(base: string, values: readonly number[]): string {
    return this.scope.addInitializer(floatTensor(this.fresh(base), [values.length], values));
  }

  /** A scalar of a float element type (the types Clip-6 and Pad-2 accept). */
  floatScalar(base: string, elemType: number, value: number): string {
    const name = this.fresh(base);
    if (elemType === DataType.FLOAT) return this.scope.addInitializer(floatTensor(name, [], [value]));
    if (elemType === DataType.FLOAT16) return this.scope.addInitializer(float16Tensor(name, [], [value]));
    if (elemType === DataType.DOUBLE) return this.scope.addInitializer(makeTensor(name, DataType.DOUBLE, [], bytesOf(Float64Array.of(value))));
    return this.refuse(`needs a ${value} constant of the type of its input, which is not a float type this converter knows`);
  }

  /** Integer values of a constant tensor, undefined when the tensor is not constant. */
  constantInts(name: string | undefined): number[] | undefined {
    const t = name ? this.scope.constant(name) : undefined;
    if (!t) return undefined;
    return Array.from(readTensor(t) as ArrayLike<number | bigint>, Number);
  }

  constantNumbers(name: string | undefined): number[] | undefined {
    return this.constantInts(name);
  }

  /** `input` with size-1 axes inserted at `axes`: a reshaped copy of an initializer, or an Unsqueeze node. */
  unsqueeze(input: string, axes: number[]): string {
    const init = this.scope.isInitializer(input) ? this.scope.constant(input) : undefined;
    if (init) {
      const dims = init.dims.map(Number);
      for (const a of [...axes].sort((x, y) => x - y)) dims.splice(a, 0, 1);
      const copy = copyMessage(TensorProtoSchema, init, { name: this.fresh(input), dims: dims.map(BigInt) });
      return this.scope.addInitializer(copy);
    }
    const out = this.fresh(input);
    if (this.target >= 13) this.emit('Unsqueeze', [input, this.int64s(`${input}_axes`, axes)], [out]);
    else this.emit('Unsqueeze', [input], [out], { axes });
    return out;
  }
}

export function removeAttribute(node: NodeProto, name: string): AttributeProto | undefined {
  const i = node.attribute.findIndex((a) => a.name === name);
  if (i < 0) return undefined;
  return node.attribute.splice(i, 1)[0];
}

export function setAttribute(node: NodeProto, name: string, value: AttrValue): void {
  removeAttribute(node, name);
  node.attribute.push(makeAttribute(name, value));
}
