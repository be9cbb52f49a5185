/**
 * Small constructors for ONNX messages: used by the quantizer to emit nodes and by tests and
 * benchmarks to build models in TypeScript (no Python needed).
 */
import { create } from '@bufbuild/protobuf';
import {
  AttributeProtoSchema,
  AttributeProto_AttributeType as AttrType,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  TensorShapeProtoSchema,
  TensorShapeProto_DimensionSchema,
  TypeProtoSchema,
  TypeProto_TensorSchema,
  ValueInfoProtoSchema,
  type AttributeProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from './schema';

export type AttrValue = number | bigint | string | number[] | bigint[] | string[] | TensorProto | GraphProto | { float: number } | { floats: number[] };

/**
 * A shallow copy of a message with some fields changed. Unlike `create(Schema, { ...message })`,
 * which hands back the spread object itself, the copy keeps the message's prototype, so proto2
 * fields absent from the file (a node's `domain`) still read as their defaults.
 */
export function withFields<T extends object>(message: T, changes: Partial<T>): T {
  return Object.assign(Object.create(Object.getPrototypeOf(message) as object) as T, message, changes);
}

/** Integers (JS numbers that are whole) become INT/INTS; use {float: x} to force a float. */
export function makeAttribute(name: string, value: AttrValue): AttributeProto {
  const a = create(AttributeProtoSchema, { name });
  if (typeof value === 'number') {
    if (Number.isInteger(value)) {
      a.type = AttrType.INT;
      a.i = BigInt(value);
    } else {
      a.type = AttrType.FLOAT;
      a.f = value;
    }
  } else if (typeof value === 'bigint') {
    a.type = AttrType.INT;
    a.i = value;
  } else if (typeof value === 'string') {
    a.type = AttrType.STRING;
    a.s = new TextEncoder().encode(value) as Uint8Array<ArrayBuffer>;
  } else if (Array.isArray(value)) {
    if (value.length > 0 && typeof value[0] === 'string') {
      a.type = AttrType.STRINGS;
      a.strings = (value as string[]).map((s) => new TextEncoder().encode(s) as Uint8Array<ArrayBuffer>);
    } else if (value.every((v) => typeof v === 'bigint' || Number.isInteger(v))) {
      a.type = AttrType.INTS;
      a.ints = (value as (number | bigint)[]).map((v) => BigInt(v));
    } else {
      a.type = AttrType.FLOATS;
      a.floats = value as number[];
    }
  } else if ('float' in value) {
    a.type = AttrType.FLOAT;
    a.f = value.float;
  } else if ('floats' in value) {
    a.type = AttrType.FLOATS;
    a.floats = value.floats;
  } else if (value.$typeName === 'onnx.TensorProto') {
    a.type = AttrType.TENSOR;
    a.t = value;
  } else {
    a.type = AttrType.GRAPH;
    a.g = value;
  }
  return a;
}

export function makeNode(
  opType: string,
  inputs: string[],
  outputs: string[],
  attrs: Record<string, AttrValue> = {},
  options: { name?: string; domain?: string } = {},
): NodeProto {
  return create(NodeProtoSchema, {
    opType,
    input: inputs,
    output: outputs,
    name: options.name ?? outputs[0] ?? opType,
    domain: options.domain ?? '',
    attribute: Object.entries(attrs).map(([k, v]) => makeAttribute(k, v)),
  });
}

/** A tensor value info; dims are numbers, symbolic names, or null for unknown. */
export function makeValueInfo(name: string, elemType: number, dims?: (number | string | null)[]): ValueInfoProto {
  const tensorType = create(TypeProto_TensorSchema, { elemType });
  if (dims) {
    tensorType.shape = create(TensorShapeProtoSchema, {
      dim: dims.map((d) =>
        create(TensorShapeProto_DimensionSchema, {
          value: typeof d === 'number' ? { case: 'dimValue', value: BigInt(d) } : typeof d === 'string' ? { case: 'dimParam', value: d } : { case: undefined },
        }),
      ),
    });
  }
  return create(ValueInfoProtoSchema, {
    name,
    type: create(TypeProtoSchema, { value: { case: 'tensorType', value: tensorType } }),
  });
}

export function makeGraph(
  nodes: NodeProto[],
  name: string,
  inputs: ValueInfoProto[],
  outputs: ValueInfoProto[],
  initializers: TensorProto[] = [],
  valueInfo: ValueInfoProto[] = [],
): GraphProto {
  return create(GraphProtoSchema, { node: nodes, name, input: inputs, output: outputs, initializer: initializers, valueInfo });
}

export function makeModel(
  graph: GraphProto,
  opsets: Record<string, number> = { '': 17 },
  options: { irVersion?: number; producerName?: string; producerVersion?: string } = {},
): ModelProto {
  return create(ModelProtoSchema, {
    irVersion: BigInt(options.irVersion ?? 8),
    producerName: options.producerName ?? 'onnx-quantizer-tests',
    producerVersion: options.producerVersion ?? '0',
    graph,
    opsetImport: Object.entries(opsets).map(([domain, version]) => create(OperatorSetIdProtoSchema, { domain, version: BigInt(version) })),
  });
}

/** Read an attribute of a node with a typed default. */
export function getAttribute(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attribute.find((a) => a.name === name);
}

export function attrInt(node: NodeProto, name: string, fallback: number): number {
  const a = getAttribute(node, name);
  return a ? Number(a.i) : fallback;
}

export function attrFloat(node: NodeProto, name: string, fallback: number): number {
  const a = getAttribute(node, name);
  return a ? a.f : fallback;
}

export function attrInts(node: NodeProto, name: string): number[] | undefined {
  const a = getAttribute(node, name);
  return a ? a.ints.map(Number) : undefined;
}

export function attrString(node: NodeProto, name: string, fallback: string): string {
  const a = getAttribute(node, name);
  return a ? new TextDecoder().decode(a.s) : fallback;
}

/** Opset version the model imports for a domain ('' and 'ai.onnx' are the same). */
export function opsetVersion(model: ModelProto, domain = ''): number | undefined {
  const want = domain === 'ai.onnx' ? '' : domain;
  const entry = model.opsetImport.find((o) => (o.domain === 'ai.onnx' ? '' : o.domain) === want);
  return entry ? Number(entry.version) : undefined;
}
