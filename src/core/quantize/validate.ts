/**
 * Proof that a quantized model works in the installed ONNX Runtime: load it and run it once,
 * on the first calibration batch when there is calibration data, else on generated inputs
 * (symbolic dims → 1, integer inputs → small valid values such as token id 0/1).
 */
import { WorkError } from '../errors';
import { batches, loadCalibrationData, modelInputs, type ModelInput } from '../calibrate/data';
import { DataType, dtypeName } from '../onnx/dtype';
import { generatedElementCount } from '../data/inputs';
import type { GraphProto } from '../onnx/schema';
import { createSession, ort, type OrtTensor } from '../runtime/ort';

export async function validateModel(file: string, graph: GraphProto, calibrationData?: string): Promise<void> {
  const session = await createSession(file);
  try {
    const inputs = modelInputs(graph);
    const feeds: Record<string, OrtTensor> = {};
    const O = ort();
    const first = calibrationData ? batches(loadCalibrationData(calibrationData, inputs), 1).next().value : undefined;
    if (first) {
      for (const f of first.feeds) feeds[f.name] = new O.Tensor(f.type, f.values as never, f.dims);
    } else {
      for (const input of inputs) feeds[input.name] = generatedInput(input);
    }
    let results: Record<string, OrtTensor>;
    try {
      results = await session.run(feeds);
    } catch (e) {
      throw new WorkError(`ONNX Runtime loads the quantized model but cannot run it: ${(e as Error).message.split('\n')[0]}`);
    }
    for (const [name, t] of Object.entries(results)) {
      if (t.type === 'float32' && (t.data as Float32Array).some((v) => Number.isNaN(v))) {
        throw new WorkError(`the quantized model produces NaN in output '${name}'`);
      }
    }
  } finally {
    await session.release();
  }
}

/** A deterministic input for a graph input: floats in [0, 1), integers 0/1, booleans false. */
export function generatedInput(input: ModelInput): OrtTensor {
  const O = ort();
  const dims = (input.dims ?? []).map((d) => (typeof d === 'number' && d > 0 ? d : 1));
  const n = generatedElementCount(input.name, dims, 'pass calibration data to validate with, or --no-validate');
  switch (input.elemType) {
    case DataType.FLOAT:
      return new O.Tensor('float32', Float32Array.from({ length: n }, (_, i) => ((i * 7919) % 1000) / 1000), dims);
    case DataType.DOUBLE:
      return new O.Tensor('float64', Float64Array.from({ length: n }, (_, i) => ((i * 7919) % 1000) / 1000), dims);
    case DataType.INT64:
      return new O.Tensor('int64', BigInt64Array.from({ length: n }, (_, i) => BigInt(i % 2)), dims);
    case DataType.INT32:
      return new O.Tensor('int32', Int32Array.from({ length: n }, (_, i) => i % 2), dims);
    case DataType.BOOL:
      return new O.Tensor('bool', new Uint8Array(n), dims);
    case DataType.UINT8:
      return new O.Tensor('uint8', new Uint8Array(n), dims);
    case DataType.INT8:
      return new O.Tensor('int8', new Int8Array(n), dims);
    case DataType.FLOAT16:
      return new O.Tensor('float16', new Uint16Array(n), dims);
    default:
      throw new WorkError(`cannot generate a validation input for '${input.name}' of type ${dtypeName(input.elemType)}; pass calibration data or --no-validate`);
  }
}
