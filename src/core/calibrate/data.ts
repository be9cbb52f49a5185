/**
 * Calibration data: `.npy` arrays whose first axis is the sample axis. A single-input model takes
 * one file; a multi-input model a folder holding `INPUTNAME.npy` per input. Arrays are checked
 * against the model's inputs (names, element type, non-batch dims) before anything runs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../errors';
import { DataType, dtypeName } from '../onnx/dtype';
import type { GraphProto } from '../onnx/schema';
import type { NpyArray, NpyDtype } from '../data/npy';
import { alignedCopy, batchAxisOf, batchLayout, checkFinite, fileNameForInput, fixedBatchOf, graphInputs, inputFileNames, npyElements, readInputArrays, sampleDims, scalarValue, stateSamples, type InputSpec } from '../data/inputs';

export { fileNameForInput } from '../data/inputs';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../onnx/float16';

export const HOW_TO_PROVIDE =
  'pass --calibration-data x.npy (single-input model) or a folder of INPUTNAME.npy files (one per model input); the first axis of each array is the sample axis';

export type ModelInput = InputSpec;

/** ORT tensor element type names. */
export type OrtElemType = 'float32' | 'float16' | 'float64' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'uint16' | 'bool';

export type SampleArray = Float32Array | Float64Array | Uint16Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

export interface CalibrationInput {
  name: string;
  type: OrtElemType;
  /** Shape of one sample (the array's shape without its first axis). */
  sampleShape: number[];
  /** All samples, C order, in the element type the model expects. */
  values: SampleArray;
  /** The model's axis that samples go on (1 for a recurrent state); 0 when absent. */
  batchAxis?: number;
  /** A scalar input: `values` is its one value, fed whole to every run. */
  fixed?: boolean;
}

export interface CalibrationData {
  samples: number;
  inputs: CalibrationInput[];
  /** Largest batch the model accepts (its first dim when fixed). */
  fixedBatch: number | undefined;
}

/** The graph's real inputs (initializers listed as inputs in old models are not inputs to feed). */
export function modelInputs(graph: GraphProto): ModelInput[] {
  return graphInputs(graph);
}

/** File name for an input inside a calibration folder (characters unsafe in file names become '_'). */
export function loadCalibrationData(location: string | undefined, inputs: ModelInput[], roots: readonly string[] = []): CalibrationData {
  if (!location) throw new InputError(`static quantization needs calibration data: ${HOW_TO_PROVIDE}`);
  if (!fs.existsSync(location)) throw new InputError(`calibration data '${location}' does not exist; ${HOW_TO_PROVIDE}`);
  const arrays = readInputArrays(location, inputs, {
    fileNames: inputFileNames,
    missingInFolder: (folder, name) => new InputError(`calibration folder '${folder}' has no ${fileNameForInput(name)} for model input '${name}'`),
    notSingleInput: (specs) =>
      new InputError(`the model has ${specs.length} inputs (${specs.map((i) => i.name).join(', ')}); give a folder with one INPUTNAME.npy per input, not a single file`),
  }, roots);
  let samples: number | undefined;
  const fixedBatch = fixedBatchOf(inputs);
  const out: CalibrationInput[] = [];
  for (const input of inputs) {
    const { file, arr } = arrays.get(input.name)!;
    const checked = checkArray(input, arr, file);
    if (checked.input.fixed) {
      out.push(checked.input);
      continue;
    }
    if (samples === undefined) samples = checked.samples;
    else if (samples !== checked.samples) {
      throw new InputError(`calibration arrays disagree on the number of samples: '${input.name}' has ${checked.samples}, others ${samples}`);
    }
    out.push(checked.input);
  }
  // Only scalars: each run feeds the same values, one sample.
  if (samples === undefined && out.length > 0) samples = 1;
  if (!samples) throw new InputError(`calibration data '${location}' holds no samples (first axis is 0)`);
  if (fixedBatch !== undefined && samples < fixedBatch) {
    throw new InputError(`the model's batch size is fixed at ${fixedBatch}, but the calibration data has only ${samples} samples`);
  }
  return { samples, inputs: out, fixedBatch };
}

const ACCEPTED: Partial<Record<number, { type: OrtElemType; from: NpyDtype[] }>> = {
  [DataType.FLOAT]: { type: 'float32', from: ['float32', 'float64', 'float16'] },
  [DataType.FLOAT16]: { type: 'float16', from: ['float16', 'float32'] },
  [DataType.DOUBLE]: { type: 'float64', from: ['float64', 'float32'] },
  [DataType.INT64]: { type: 'int64', from: ['int64', 'int32'] },
  [DataType.INT32]: { type: 'int32', from: ['int32'] },
  [DataType.INT16]: { type: 'int16', from: ['int16'] },
  [DataType.INT8]: { type: 'int8', from: ['int8'] },
  [DataType.UINT8]: { type: 'uint8', from: ['uint8'] },
  [DataType.UINT16]: { type: 'uint16', from: ['uint16'] },
  [DataType.BOOL]: { type: 'bool', from: ['bool', 'uint8'] },
};

function checkArray(input: ModelInput, arr: NpyArray, file: string): { samples: number; input: CalibrationInput } {
  const accepted = ACCEPTED[input.elemType];
  if (!accepted) throw new InputError(`model input '${input.name}' is ${dtypeName(input.elemType)}, which calibration does not support`);
  if (!accepted.from.includes(arr.dtype)) {
    throw new InputError(`calibration data for input '${input.name}' (${path.basename(file)}) is ${arr.dtype}, but the model expects ${accepted.type}`);
  }
  const label = `calibration data for input '${input.name}' (${path.basename(file)})`;
  const axis = batchAxisOf(input);
  if (axis === undefined) {
    // A scalar (a sample rate, a flag): one value fed whole to every run.
    const value = scalarValue(input.name, arr, label);
    checkFinite(value, label);
    return { samples: 1, input: { name: input.name, type: accepted.type, sampleShape: [], values: convert(value, accepted.type), fixed: true } };
  }
  if (axis !== 0) arr = stateSamples(input, arr, label);
  const dims = input.dims;
  const per = sampleDims(input);
  if (dims && per) {
    if (arr.shape.length !== per.length + 1) {
      throw new InputError(
        `calibration data for input '${input.name}' has shape [${arr.shape.join(', ')}] (rank ${arr.shape.length}), but the model expects rank ${dims.length} [${dims.map((d) => d ?? '?').join(', ')}] with samples on the first axis`,
      );
    }
    per.forEach((want, i) => {
      if (typeof want === 'number' && want > 0 && arr.shape[i + 1] !== want) {
        throw new InputError(
          `calibration data for input '${input.name}' has shape [${arr.shape.join(', ')}], but the model expects [${dims.map((d) => d ?? '?').join(', ')}] (dim ${i + 1} must be ${want})`,
        );
      }
    });
  }
  if (arr.shape.length === 0) throw new InputError(`calibration data for input '${input.name}' is a scalar; the first axis must be the sample axis`);
  checkFinite(arr, label);
  return {
    samples: arr.shape[0]!,
    input: { name: input.name, type: accepted.type, sampleShape: arr.shape.slice(1), values: convert(arr, accepted.type), ...(axis ? { batchAxis: axis } : {}) },
  };
}

function convert(arr: NpyArray, to: OrtElemType): SampleArray {
  // Same type and aligned: a view of the file's bytes, no second copy of the data set.
  if (arr.dtype === to && to === 'float32' && arr.data.byteOffset % 4 === 0) return new Float32Array(arr.data.buffer, arr.data.byteOffset, arr.data.length / 4);
  const from = arr.dtype;
  // ACCEPTED lists which conversions can reach here: besides the ones below, only same type and uint8 → bool.
  const elements = npyElements(from, alignedCopy(arr.data));
  if (from === to || (to === 'bool' && from === 'uint8')) return elements as SampleArray;
  if (to === 'float32' && from === 'float16') return Float32Array.from(elements as Uint16Array, float16BitsToFloat32);
  if (elements instanceof BigInt64Array || elements instanceof BigUint64Array || from === 'float16') {
    throw new InputError(`cannot convert ${from} calibration data to ${to}`);
  }
  switch (to) {
    case 'float32':
      return Float32Array.from(elements);
    case 'float64':
      return Float64Array.from(elements);
    case 'float16':
      return Uint16Array.from(elements, float32ToFloat16Bits);
    case 'int64':
      return BigInt64Array.from(elements, (v) => BigInt(v));
    default:
      throw new InputError(`cannot convert ${from} calibration data to ${to}`);
  }
}

export interface Batch {
  start: number;
  count: number;
  /** Per input: the batch's values (a view, no copy) and dims. */
  feeds: { name: string; type: OrtElemType; values: SampleArray; dims: number[] }[];
}

/** Split the samples from `from` on into batches (the last one smaller, unless the model's batch is fixed). */
export function* batches(data: CalibrationData, batchSize: number, from = 0): Generator<Batch> {
  const size = data.fixedBatch ?? Math.max(1, Math.floor(batchSize));
  for (let start = from; start + (data.fixedBatch ? size : 1) <= data.samples; start += size) {
    const count = Math.min(size, data.samples - start);
    yield {
      start,
      count,
      feeds: data.inputs.map((input) => {
        if (input.fixed) return { name: input.name, type: input.type, values: input.values, dims: [] };
        const per = input.sampleShape.reduce((a, b) => a * b, 1);
        if (!input.batchAxis) return { name: input.name, type: input.type, values: input.values.subarray(start * per, (start + count) * per), dims: [count, ...input.sampleShape] };
        return { name: input.name, type: input.type, ...onBatchAxis(input, start, count) };
      }),
    };
  }
}

/** Samples of a state input moved onto its batch axis (a copy of the same element type). */
function onBatchAxis(input: CalibrationInput, start: number, count: number): { values: SampleArray; dims: number[] } {
  const v = input.values;
  const moved = batchLayout(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), v.BYTES_PER_ELEMENT, input.sampleShape, start, count, input.batchAxis ?? 0);
  const Ctor = v.constructor as new (buffer: ArrayBufferLike, offset: number, length: number) => SampleArray;
  return { values: new Ctor(moved.bytes.buffer, moved.bytes.byteOffset, moved.bytes.byteLength / v.BYTES_PER_ELEMENT), dims: moved.dims };
}

/** How many batches `batches()` yields. */
export function batchCount(data: CalibrationData, batchSize: number, from = 0): number {
  if (data.fixedBatch) return Math.floor((data.samples - from) / data.fixedBatch);
  return Math.ceil((data.samples - from) / Math.max(1, Math.floor(batchSize)));
}
