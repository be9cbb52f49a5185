/**
 * Runs the float model over the calibration data in ONNX Runtime with the wanted intermediate
 * tensors exposed as extra graph outputs (on an in-memory copy), reducing each batch into
 * streaming statistics as it goes. Optimizations are disabled so every tensor name survives.
 */
import { create } from '@bufbuild/protobuf';
import { throwIfCancelled, WorkError } from '../errors';
import { isExternal, type OnnxModel } from '../onnx/model';
import { modelToBytes } from '../onnx/save';
import { GraphProtoSchema, ModelProtoSchema, TensorProtoSchema, TensorProto_DataLocation, ValueInfoProtoSchema, type ModelProto, type TensorProto } from '../onnx/schema';
import { makeValueInfo } from '../onnx/builder';
import { tensorByteSize, tensorBytes } from '../onnx/tensor';
import { createSession, ort, type OrtTensor } from '../runtime/ort';
import type { JobContext } from '../progress';
import { batchCount, batches, type Batch, type CalibrationData } from './data';
import { Calibrator, type RangeOptions, type TensorRange } from './methods';

export interface CalibrationTarget {
  name: string;
  /** ONNX element type when known; unknown tensors are exposed untyped and typed by the run. */
  elemType?: number | undefined;
}

export interface CalibrationResult {
  ranges: Map<string, TensorRange>;
  /** Element type ONNX Runtime reported for each exposed tensor ('float32', 'int64', ...). */
  observedTypes: Map<string, string>;
  samples: number;
  batches: number;
  seconds: number;
  /** Bytes of calibration state at the end (independent of the number of samples). */
  stateBytes: number;
}

export interface CollectOptions extends RangeOptions {
  batchSize: number;
  threads?: number;
  /** Bytes of exposed tensors one run may return; batches shrink to fit. Default 512 MiB. */
  memoryBudget?: number;
}

const DEFAULT_MEMORY_BUDGET = 512 * 2 ** 20;

/** Inlined external data must leave room for the graph under the 2 GiB protobuf limit. */
const INLINE_LIMIT = 1.8 * 2 ** 30;

/** A copy of the model whose graph also outputs `targets` (shares tensors; never mutates the original). */
export function exposeTensors(proto: ModelProto, targets: CalibrationTarget[], source?: Pick<OnnxModel, 'external'>): ModelProto {
  const graph = proto.graph!;
  const existing = new Set(graph.output.map((o) => o.name));
  // Untyped outputs (type unknown to our inference) are typed by ORT itself at run time.
  const extra = targets
    .filter((t) => !existing.has(t.name))
    .map((t) => (t.elemType ? makeValueInfo(t.name, t.elemType) : create(ValueInfoProtoSchema, { name: t.name })));
  // ORT sessions built from bytes cannot resolve external data: inline it in the copy.
  const externalBytes = graph.initializer.filter(isExternal).reduce((sum, t) => sum + tensorByteSize(t), 0);
  if (externalBytes > INLINE_LIMIT) {
    throw new WorkError(
      `calibration needs the model in memory with its ${(externalBytes / 2 ** 30).toFixed(1)} GiB of external weights, over the 2 GiB protobuf limit; static quantization of models this large is not supported yet (use dynamic or weight-only mode)`,
    );
  }
  const initializer = graph.initializer.map((t) => (isExternal(t) ? inlineTensor(t, source) : t));
  const newGraph = create(GraphProtoSchema, { ...graph, initializer, output: [...graph.output, ...extra] });
  return create(ModelProtoSchema, { ...proto, graph: newGraph });
}

function inlineTensor(t: TensorProto, source?: Pick<OnnxModel, 'external'>): TensorProto {
  const bytes = tensorBytes(t, source);
  return create(TensorProtoSchema, {
    ...t,
    rawData: bytes as Uint8Array<ArrayBuffer>,
    externalData: [],
    dataLocation: TensorProto_DataLocation.DEFAULT,
  });
}

/** Run calibration and return one range per target tensor (float tensors only). */
export async function collectRanges(
  model: ModelProto,
  targets: CalibrationTarget[],
  data: CalibrationData,
  options: CollectOptions,
  ctx: JobContext = {},
  source?: Pick<OnnxModel, 'external'>,
): Promise<CalibrationResult> {
  const started = Date.now();
  const augmented = exposeTensors(model, targets, source);
  const session = await createSession(modelToBytes(augmented), { optimization: 'disabled', threads: options.threads ?? 0 });
  const O = ort();
  const names = targets.map((t) => t.name);
  const calibrator = new Calibrator(names, options);
  const observedTypes = new Map<string, string>();
  let done = 0;
  let total = batchCount(data, options.batchSize);
  const runBatch = async (batch: Batch): Promise<number> => {
    throwIfCancelled(ctx.signal);
    const feeds: Record<string, OrtTensor> = {};
    for (const f of batch.feeds) feeds[f.name] = new O.Tensor(f.type, f.values as Float32Array, f.dims);
    let results: Record<string, OrtTensor>;
    try {
      results = (await session.run(feeds, names)) as Record<string, OrtTensor>;
    } catch (e) {
      throw new WorkError(`calibration run failed on samples ${batch.start}..${batch.start + batch.count - 1}: ${(e as Error).message.split('\n')[0]}`);
    }
    let bytes = 0;
    for (const name of names) {
      const t = results[name];
      if (!t) continue;
      observedTypes.set(name, t.type);
      bytes += (t.data as ArrayBufferView).byteLength ?? 0;
      if (t.type === 'float32') calibrator.update(name, t.data as Float32Array);
    }
    done++;
    ctx.onProgress?.({ stage: 'calibrating', fraction: done / total, message: `calibrating ${done}/${total}` });
    return bytes;
  };
  try {
    let size = options.batchSize;
    let from = 0;
    if (!data.fixedBatch && size > 1 && data.samples > 1) {
      // One sample first: its intermediate tensors tell how many samples fit the memory budget per run
      // (a big CNN exposes hundreds of MB of activations per sample).
      total = 1 + batchCount(data, size, 1);
      const perSample = await runBatch(batches(data, 1).next().value!);
      from = 1;
      const budget = options.memoryBudget ?? DEFAULT_MEMORY_BUDGET;
      const fits = Math.max(1, Math.floor(budget / Math.max(perSample, 1)));
      if (fits < size) {
        ctx.log?.(`calibration batch lowered from ${size} to ${fits} samples: ${(perSample / 2 ** 20).toFixed(1)} MiB of intermediate tensors per sample`);
        size = fits;
      }
      total = 1 + batchCount(data, size, from);
    }
    for (const batch of batches(data, size, from)) await runBatch(batch);
  } finally {
    await session.release?.();
  }
  const ranges = calibrator.ranges();
  for (const [name, type] of observedTypes) if (type !== 'float32') ranges.delete(name);
  for (const name of names) if (!observedTypes.has(name)) ranges.delete(name);
  return {
    ranges,
    observedTypes,
    samples: data.samples,
    batches: done,
    seconds: (Date.now() - started) / 1000,
    stateBytes: calibrator.stateBytes(),
  };
}
