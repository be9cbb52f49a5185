/**
 * A float16 model (weights and compute in half precision, as converters write them to halve the
 * size) widened to float32, so that the int8/int4 engines, which quantize float32 weights, can
 * work on it. Widening is exact: every float16 value is a float32 value.
 *
 * - every float16 tensor (initializers, Constant values, tensor attributes, in every subgraph)
 *   is stored as float32;
 * - `to`/`dtype` attributes naming float16 (Cast, EyeLike, Random*) name float32; a Cast whose
 *   input is then float already (the converter's float16 ↔ float32 border casts) is removed;
 * - value_info and subgraph inputs/outputs typed float16 say float32;
 * - the main graph's float16 inputs and outputs keep their type (the model's interface), through
 *   one Cast each at the border.
 */
import { clone } from '@bufbuild/protobuf';
import { makeNode } from '../onnx/builder';
import { DataType } from '../onnx/dtype';
import { ModelProtoSchema, TensorProto_DataLocation, type GraphProto, type ModelProto, type NodeProto, type ValueInfoProto } from '../onnx/schema';
import { bytesOf, readFloat32, type TensorSource } from '../onnx/tensor';
import { walkGraphs, walkTensors } from '../onnx/walk';
import { inferElemTypes } from './static/inferTypes';

export interface Widened {
  proto: ModelProto;
  /** Float16 tensors stored as float32. */
  tensors: number;
  /** First outputs of the Casts between float16 and float32 that became no-ops and were removed. */
  castsRemoved: string[];
}

/** The model widened to float32, or undefined when it stores no float16 tensor. */
export function widenFloat16(original: ModelProto, source?: TensorSource): Widened | undefined {
  if (!original.graph || ![...walkTensors(original.graph)].some((v) => v.tensor.dataType === DataType.FLOAT16)) return undefined;
  // Types of the main graph before widening: which Casts read a float tensor (and so become no-ops).
  const types = inferElemTypes(original.graph);
  const proto = clone(ModelProtoSchema, original);
  const main = proto.graph;
  if (!main) return undefined;
  let tensors = 0;
  for (const { tensor } of walkTensors(main)) {
    if (tensor.dataType !== DataType.FLOAT16) continue;
    const values = readFloat32(tensor, source);
    tensor.dataType = DataType.FLOAT;
    tensor.rawData = bytesOf(Float32Array.from(values)) as Uint8Array<ArrayBuffer>;
    tensor.int32Data = [];
    tensor.dataLocation = TensorProto_DataLocation.DEFAULT;
    tensor.externalData = [];
    tensors++;
  }
  for (const { graph, depth } of walkGraphs(main)) {
    for (const node of graph.node) {
      for (const a of node.attribute) if ((a.name === 'to' || a.name === 'dtype') && Number(a.i) === DataType.FLOAT16) a.i = BigInt(DataType.FLOAT);
    }
    for (const v of [...graph.valueInfo, ...(depth > 0 ? [...graph.input, ...graph.output] : [])]) widenType(v);
  }
  const castsRemoved = removeFloatCasts(main, types);
  keepBorderTypes(main);
  return { proto, tensors, castsRemoved };
}

function tensorTypeOf(v: ValueInfoProto) {
  const t = v.type?.value;
  return t?.case === 'tensorType' ? t.value : undefined;
}

function widenType(v: ValueInfoProto): void {
  const t = tensorTypeOf(v);
  if (t?.elemType === DataType.FLOAT16) t.elemType = DataType.FLOAT;
}

const isFloat = (t: number | undefined) => t === DataType.FLOAT || t === DataType.FLOAT16;

/**
 * Remove main-graph Casts to float whose input was float16 or float32: after widening they change
 * nothing. One that writes a graph output has its producer write that output instead (when the
 * producer is a node of the main graph and its tensor is no graph output itself). Returns the
 * first outputs of the removed Casts.
 */
function removeFloatCasts(main: GraphProto, types: Map<string, number>): string[] {
  const outputs = new Set(main.output.map((o) => o.name));
  const produced = new Map<string, NodeProto>();
  for (const node of main.node) for (const o of node.output) if (o) produced.set(o, node);
  const renamed = new Map<string, string>();
  const removed: string[] = [];
  const kept: NodeProto[] = [];
  for (const node of main.node) {
    const to = Number(node.attribute.find((a) => a.name === 'to')?.i ?? -1);
    const input = node.input[0] ?? '';
    const output = node.output[0] ?? '';
    const noOp = node.opType === 'Cast' && node.domain === '' && to === DataType.FLOAT && isFloat(types.get(input));
    if (noOp && !outputs.has(output)) {
      renamed.set(output, renamed.get(input) ?? input);
      removed.push(output);
      continue;
    }
    const producer = produced.get(input);
    if (noOp && producer && !outputs.has(input) && !renamed.has(input)) {
      // The producer writes the graph output; readers of its old tensor read the output.
      producer.output = producer.output.map((o) => (o === input ? output : o));
      renamed.set(input, output);
      removed.push(output);
      continue;
    }
    kept.push(node);
  }
  if (removed.length) {
    main.node = kept;
    renameUses(main, (n) => renamed.get(n));
  }
  return removed;
}

/** Replace every read of a name (in every graph, subgraph reads of outer names included). */
function renameUses(main: GraphProto, rename: (name: string) => string | undefined): void {
  for (const { graph } of walkGraphs(main)) {
    for (const node of graph.node) node.input = node.input.map((n) => (n ? (rename(n) ?? n) : n));
    for (const o of graph.output) o.name = graph === main ? o.name : (rename(o.name) ?? o.name);
  }
}

/** Float16 graph inputs and outputs stay float16: a Cast after each such input, before each such output. */
function keepBorderTypes(main: GraphProto): void {
  const front: NodeProto[] = [];
  const back: NodeProto[] = [];
  const inputs = new Map<string, string>();
  for (const v of main.input) {
    if (tensorTypeOf(v)?.elemType !== DataType.FLOAT16) continue;
    const wide = `${v.name}_float32`;
    inputs.set(v.name, wide);
    front.push(makeNode('Cast', [v.name], [wide], { to: DataType.FLOAT }, { name: `${v.name}_widen` }));
  }
  if (inputs.size) renameUses(main, (n) => inputs.get(n));
  for (const v of main.output) {
    if (tensorTypeOf(v)?.elemType !== DataType.FLOAT16) continue;
    const wide = `${v.name}_float32`;
    for (const node of main.node) node.output = node.output.map((n) => (n === v.name ? wide : n));
    renameUses(main, (n) => (n === v.name ? wide : undefined));
    back.push(makeNode('Cast', [wide], [v.name], { to: DataType.FLOAT16 }, { name: `${v.name}_narrow` }));
  }
  main.node = [...front, ...main.node, ...back];
}
