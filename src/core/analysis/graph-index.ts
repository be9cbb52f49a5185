/**
 * Lookup tables over a model's graphs, built once per analysis: constant tensors by name
 * (initializers and Constant nodes, all graphs), consumers and producers of every tensor, and
 * element types (declared, or propagated through the graph with a few cheap rules).
 */
import { DataType } from '../onnx/dtype';
import type { GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto } from '../onnx/schema';
import { walkGraphs } from '../onnx/walk';
import { getAttribute } from '../onnx/builder';

export interface NodeRef {
  node: NodeProto;
  /** Index of the node in its graph. */
  index: number;
  /** 0 for the main graph, deeper for If/Loop/Scan bodies. */
  depth: number;
  graph: GraphProto;
}

export interface ConstantRef {
  tensor: TensorProto;
  kind: 'initializer' | 'constant';
  depth: number;
}

export class GraphIndex {
  readonly constants = new Map<string, ConstantRef>();
  readonly consumers = new Map<string, NodeRef[]>();
  readonly producers = new Map<string, NodeRef>();
  readonly nodes: NodeRef[] = [];
  /** Constant-node tensors by identity → the node output that names them (their own name may differ). */
  readonly constantOutputs = new Map<TensorProto, string>();
  private readonly types = new Map<string, number>();

  constructor(readonly model: ModelProto) {
    const main = model.graph;
    if (!main) return;
    for (const { graph, depth } of walkGraphs(main)) {
      for (const t of graph.initializer) this.constants.set(t.name, { tensor: t, kind: 'initializer', depth });
      for (const vi of [...graph.input, ...graph.output, ...graph.valueInfo]) this.declare(vi);
      graph.node.forEach((node, index) => {
        const ref: NodeRef = { node, index, depth, graph };
        this.nodes.push(ref);
        for (const input of node.input) {
          if (!input) continue;
          let list = this.consumers.get(input);
          if (!list) this.consumers.set(input, (list = []));
          list.push(ref);
        }
        for (const output of node.output) if (output) this.producers.set(output, ref);
        if (node.opType === 'Constant' && node.domain === '' && node.output[0]) {
          const value = getAttribute(node, 'value')?.t;
          if (value) {
            this.constants.set(node.output[0], { tensor: value, kind: 'constant', depth });
            this.constantOutputs.set(value, node.output[0]);
          }
        }
      });
    }
    for (const [name, c] of this.constants) if (!this.types.has(name)) this.types.set(name, c.tensor.dataType);
    this.propagateTypes();
  }

  private declare(vi: ValueInfoProto): void {
    const t = vi.type?.value;
    if (t?.case === 'tensorType' && t.value.elemType) this.types.set(vi.name, t.value.elemType);
  }

  /** Element type of a tensor, or undefined when neither declared nor inferable. */
  elemType(name: string): number | undefined {
    return this.types.get(name);
  }

  constant(name: string): TensorProto | undefined {
    return this.constants.get(name)?.tensor;
  }

  /** Forward pass in graph order (graphs are topologically sorted); unknown stays unknown. */
  private propagateTypes(): void {
    for (const { node } of this.nodes) {
      const outs = inferOutputTypes(node, (n) => this.types.get(n));
      node.output.forEach((o, i) => {
        const t = outs[i];
        if (o && t && !this.types.has(o)) this.types.set(o, t);
      });
    }
  }
}

const INT64_OUT = new Set(['Shape', 'Size', 'NonZero', 'ArgMax', 'ArgMin', 'NonMaxSuppression', 'Unique']);
const BOOL_OUT = new Set(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'Not', 'And', 'Or', 'Xor', 'IsNaN', 'IsInf']);
const INT32_OUT = new Set(['MatMulInteger', 'ConvInteger', 'QLinearMatMulInteger']);

/** Output element types of one node from its inputs' types, for the common ops; [] when unknown. */
function inferOutputTypes(node: NodeProto, typeOf: (name: string) => number | undefined): (number | undefined)[] {
  const op = node.opType;
  const standard = node.domain === '' || node.domain === 'ai.onnx';
  const first = node.input[0] ? typeOf(node.input[0]) : undefined;
  if (op === 'Cast' && standard) return [Number(getAttribute(node, 'to')?.i ?? 0) || undefined];
  if (op === 'QuantizeLinear') {
    const zp = node.input[2] ? typeOf(node.input[2]) : undefined;
    const attr = getAttribute(node, 'output_dtype');
    return [zp ?? (attr && Number(attr.i) ? Number(attr.i) : DataType.UINT8)];
  }
  if (op === 'DequantizeLinear') return [node.input[1] ? typeOf(node.input[1]) : DataType.FLOAT];
  if (op === 'DynamicQuantizeLinear') return [DataType.UINT8, DataType.FLOAT, DataType.UINT8];
  if (op === 'ConstantOfShape') return [getAttribute(node, 'value')?.t?.dataType ?? DataType.FLOAT];
  if (!standard) {
    // Known float-in/float-out contrib ops; other custom ops stay unknown.
    if (['MatMulNBits', 'MatMulIntegerToFloat', 'DynamicQuantizeMatMul', 'Gelu', 'FastGelu', 'BiasGelu', 'SkipLayerNormalization', 'Attention', 'MultiHeadAttention'].includes(op)) {
      return [DataType.FLOAT];
    }
    return [];
  }
  if (INT64_OUT.has(op)) return [DataType.INT64, DataType.INT64, DataType.INT64, DataType.INT64];
  if (BOOL_OUT.has(op)) return [DataType.BOOL];
  if (INT32_OUT.has(op)) return [DataType.INT32];
  if (op === 'Where') return [node.input[1] ? typeOf(node.input[1]) : undefined];
  if (op === 'Range' || op === 'Gather' || op === 'GatherElements' || op === 'GatherND') return [first];
  if (op === 'If' || op === 'Loop' || op === 'Scan') return [];
  // Most remaining standard ops keep the element type of their first input (all outputs alike).
  return node.output.map(() => first);
}
