/** Sessions for evaluation, including in-memory copies that expose intermediate tensors. */
import * as fs from 'node:fs';
import { create } from '@bufbuild/protobuf';
import type { OnnxModel } from '../onnx/model';
import { isExternal } from '../onnx/model';
import { modelToBytes, tempPathFor } from '../onnx/save';
import { GraphProtoSchema, ModelProtoSchema, ValueInfoProtoSchema, type GraphProto, type ModelProto } from '../onnx/schema';
import { walkTensors } from '../onnx/walk';
import { float16BitsToFloat32 } from '../onnx/float16';
import { DataType } from '../onnx/dtype';
import { isRecurrentState } from '../data/inputs';
import { createSession, type InferenceSession, type SessionOptions } from '../runtime/ort';

/**
 * A session on a copy of `model` whose graph also outputs `extraOutputs` (name-only value infos:
 * ONNX Runtime infers their types, readable from `outputMetadata`). The loaded model is left as it was.
 */
export async function sessionWithOutputs(model: OnnxModel, extraOutputs: readonly string[], options: SessionOptions): Promise<InferenceSession> {
  return sessionForVariant(model, withOutputs(model.proto, extraOutputs), options);
}

/** `proto` with extra main-graph outputs (names that are outputs already are left alone). */
export function withOutputs(proto: ModelProto, extraOutputs: readonly string[]): ModelProto {
  const graph = proto.graph;
  if (!graph) return proto;
  const present = new Set(graph.output.map((o) => o.name));
  const added = [...new Set(extraOutputs)].filter((n) => n && !present.has(n)).map((name) => create(ValueInfoProtoSchema, { name }));
  return withGraph(proto, { ...graph, output: [...graph.output, ...added] });
}

/** A shallow copy of `proto` with another graph (tensors are shared, not copied). */
export function withGraph(proto: ModelProto, graph: Omit<GraphProto, '$typeName' | '$unknown'>): ModelProto {
  return create(ModelProtoSchema, { ...proto, graph: create(GraphProtoSchema, graph) });
}

/**
 * A session on `variant`, an in-memory variant of `model`. A model with external data is written
 * next to the original for the session to find its data file, and removed again at once.
 */
export async function sessionForVariant(model: OnnxModel, variant: ModelProto, options: SessionOptions): Promise<InferenceSession> {
  const bytes = modelToBytes(variant);
  if (!usesExternalData(model)) return createSession(bytes, options);
  const tmp = tempPathFor(model.path);
  fs.writeFileSync(tmp, bytes, { flag: 'wx' });
  try {
    return await createSession(tmp, options);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

function usesExternalData(model: OnnxModel): boolean {
  if (!model.proto.graph) return false;
  for (const { tensor } of walkTensors(model.proto.graph)) if (isExternal(tensor)) return true;
  return false;
}

/** Output values as float32 (float16/float64/integers converted), for error metrics. */
export function asFloat32(value: { data: unknown; type: string }): Float32Array {
  const d = value.data;
  if (d instanceof Float32Array) return d;
  if (value.type === 'float16' && d instanceof Uint16Array) return Float32Array.from(d, float16BitsToFloat32);
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) return Float32Array.from(d, Number);
  if (ArrayBuffer.isView(d)) return Float32Array.from(d as unknown as ArrayLike<number>);
  throw new Error(`cannot read a ${value.type} output as numbers`);
}

/** Most samples one run of `session` takes: its smallest fixed first input dim, else Infinity. */
export function maxBatchOfSession(session: Pick<InferenceSession, 'inputMetadata'>): number {
  let max = Infinity;
  for (const m of session.inputMetadata) {
    // A recurrent state's first dim counts layers × directions, not samples.
    if (m.isTensor && isRecurrentState({ name: m.name, elemType: m.type.startsWith('float') ? DataType.FLOAT : DataType.UNDEFINED, dims: [...m.shape] })) continue;
    const d = m.isTensor ? m.shape[0] : undefined;
    if (typeof d === 'number' && d > 0) max = Math.min(max, d);
  }
  return max;
}
