/**
 * Where new initializers go. With an ExternalDataWriter (input had external data), each
 * quantized tensor is written to the output's data file as soon as it exists, so only one
 * tensor's bytes are in memory at a time (large models, issue 7).
 */
import type { OnnxModel } from '../onnx/model';
import type { ExternalDataWriter } from '../onnx/save';
import type { GraphProto, TensorProto } from '../onnx/schema';
import { readFloat32 } from '../onnx/tensor';
import { throwIfCancelled } from '../errors';
import type { JobContext } from '../progress';

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

/**
 * Cancellation checks and progress between nodes: every node is checked; the event loop gets a
 * turn (so an abort or a progress message can get through) every 16 nodes or 100 ms, whichever
 * comes first — a model of a few huge tensors still reacts within about one tensor.
 */
export class NodePacer {
  private last = performance.now();

  constructor(
    private readonly ctx: JobContext,
    private readonly total: number,
  ) {}

  async step(i: number): Promise<void> {
    throwIfCancelled(this.ctx.signal);
    const now = performance.now();
    if (i % 16 !== 0 && now - this.last < 100) return;
    this.last = now;
    this.ctx.onProgress?.({ stage: 'quantizing', fraction: this.total ? i / this.total : 0, message: `${i + 1}/${this.total}` });
    await new Promise<void>((r) => setImmediate(r));
    throwIfCancelled(this.ctx.signal);
  }
}
