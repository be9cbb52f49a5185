/** Shared by the static quantization tests: options, ORT evaluation, optimized-graph op counts. */
import * as path from 'node:path';
import { readNpy, npyToFloat32 } from '../../../../src/core/data/npy';
import { modelToBytes } from '../../../../src/core/onnx/save';
import type { ModelProto } from '../../../../src/core/onnx/schema';
import { createSession, ort } from '../../../../src/core/runtime/ort';
import { makeSelection, type ResolvedOptions } from '../../../../src/core/quantize/selection';
import { optimizedOpTypes } from '../../../../src/core/quantize/static/fusionCheck';

export const FIXTURES = path.join(__dirname, '../../../fixtures');

export function staticOptions(overrides: Partial<ResolvedOptions> = {}): ResolvedOptions {
  return {
    mode: 'static',
    format: 'qdq',
    calibrationData: undefined,
    calibrationMethod: 'minmax',
    percentile: 99.99,
    histogramBins: 2048,
    calibrationBatch: 16,
    memoryBudget: 512,
    movingAverage: false,
    perChannel: true,
    reduceRange: false,
    symmetricActivations: false,
    activationType: 'uint8',
    weightSymmetric: true,
    weightBits: 8,
    blockSize: 32,
    accuracyLevel: 0,
    weightClipping: 'none',
    weightRounding: 'nearest',
    preset: 'x86',
    quantizeConv: false,
    opTypes: undefined,
    nodes: undefined,
    excludeNodes: [],
    validate: true,
    fidelity: true,
    speedCheck: false,
    requireSpeedup: undefined,
    force: false,
    externalData: 'auto',
    addQdqPairToWeight: false,
    dataRoots: [],
    ...overrides,
  };
}

export const allNodes = () => makeSelection({ opTypes: undefined, nodes: undefined, excludeNodes: [] });

/** Run a model (bytes) on an [N, ...] float32 array in one batch; returns the first output's data. */
export async function runModel(model: ModelProto | Uint8Array, input: Float32Array, dims: number[], inputName = 'image'): Promise<Float32Array> {
  const bytes = model instanceof Uint8Array ? model : modelToBytes(model);
  const session = await createSession(bytes, { threads: 1 });
  const O = ort();
  const out = await session.run({ [inputName]: new O.Tensor('float32', input, dims) });
  const first = out[session.outputNames[0]!]!;
  await session.release();
  return first.data as Float32Array;
}

export function argmaxAccuracy(logits: Float32Array, labels: ArrayLike<number>, classes: number): number {
  let ok = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[i * classes + c]! > logits[i * classes + best]!) best = c;
    if (best === Number(labels[i])) ok++;
  }
  return ok / labels.length;
}

export function digitsTest(): { x: Float32Array; y: number[]; n: number } {
  const x = npyToFloat32(readNpy(path.join(FIXTURES, 'digits_test_x.npy')));
  const yArr = readNpy(path.join(FIXTURES, 'digits_test_y.npy'));
  const y = Array.from(npyToFloat32(yArr));
  return { x, y, n: y.length };
}

/** Op types (with counts) of the graph ONNX Runtime actually runs after its optimizations. */
export const optimizedOpCounts = (model: ModelProto): Promise<Map<string, number>> => optimizedOpTypes(model);

export function modelBytes(model: ModelProto): number {
  return modelToBytes(model).length;
}
