/**
 * Where new initializers go. With an ExternalDataWriter (input had external data), each
 * quantized tensor is written to the output's data file as soon as it exists, so only one
 * tensor's bytes are in memory at a time (large models, issue 7).
 */
import type { OnnxModel } from '../onnx/model';
import type { ExternalDataWriter } from '../onnx/save';
import type { GraphProto, TensorProto } from '../onnx/schema';
import { readFloat32 } from '../onnx/tensor';

/** Tensors smaller than this stay inline, like ONNX's own saver. */
export const EXTERNAL_THRESHOLD = 1024;

export class InitializerSink {
  constructor(
    private readonly graph: GraphProto,
    private readonly writer: ExternalDataWriter | undefined,
  ) {}

  add(t: TensorProto): TensorProto {
    if (this.writer && t.rawData.length >= EXTERNAL_THRESHOLD) this.writer.externalize(t, t.rawData);
    this.graph.initializer.push(t);
    return t;
  }
}

/** Float values of an initializer, read lazily (external tensors: only that tensor is read). */
export function weightValues(t: TensorProto, model: OnnxModel): Float32Array {
  return readFloat32(t, model);
}

/** Remove initializers by name (after their last consumer was rewritten). */
export function dropInitializers(graph: GraphProto, names: Set<string>): void {
  if (names.size === 0) return;
  graph.initializer = graph.initializer.filter((t) => !names.has(t.name));
  graph.input = graph.input.filter((i) => !names.has(i.name));
}
