/**
 * Model inputs for evaluation: read from `.npy` data (one file for a single-input model, or a
 * folder of `INPUTNAME.npy`; first axis = samples) or generated to match the input signature,
 * then cut into batches of ONNX Runtime tensors.
 */
import * as fs from 'node:fs';
import { InputError } from '../errors';
import { DataType, dtypeName, isFloatType } from '../onnx/dtype';
import type { ModelProto, NodeProto } from '../onnx/schema';
import { tensorShape } from '../onnx/tensor';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../onnx/float16';
import type { NpyArray, NpyDtype } from '../data/npy';
import { alignedCopy, fixedBatchOf, generatedElementCount, graphInputs, npyElements, readInputArrays, type InputSpec } from '../data/inputs';
import { ort, type OrtTensor } from '../runtime/ort';
import { seededRandom } from '../util/random';

export type { InputSpec };

/** Values for every input, samples along the first axis. */
export interface InputData {
  samples: number;
  arrays: Map<string, NpyArray>;
  source: 'data' | 'generated';
}

/** The graph's real inputs (initializers listed as inputs by old exporters are not inputs). */
export function modelInputs(proto: ModelProto): InputSpec[] {
  return proto.graph ? graphInputs(proto.graph) : [];
}

/**
 * Same input names (order aside), or an InputError naming the difference. Element types must
 * match too, except between float types (a float16-IO candidate gets its data converted).
 */
export function checkSameInputs(reference: InputSpec[], candidate: InputSpec[]): void {
  const a = reference.map((s) => s.name).sort();
  const b = candidate.map((s) => s.name).sort();
  if (a.length !== b.length || a.some((n, i) => n !== b[i])) {
    throw new InputError(`reference and candidate have different inputs: reference [${a.join(', ')}], candidate [${b.join(', ')}]`);
  }
  for (const r of reference) {
    const c = candidate.find((s) => s.name === r.name)!;
    if (r.elemType !== c.elemType && !(isFloatType(r.elemType) && isFloatType(c.elemType))) {
      throw new InputError(`input '${r.name}' is ${dtypeName(r.elemType)} in the reference but ${dtypeName(c.elemType)} in the candidate`);
    }
  }
}

/** The same samples in the element types `specs` expect (float16 ↔ float32 ↔ float64). */
export function adaptInputData(data: InputData, specs: InputSpec[]): InputData {
  if (specs.every((s) => data.arrays.get(s.name)?.dtype === NPY_OF[s.elemType])) return data;
  const arrays = new Map<string, NpyArray>();
  for (const spec of specs) arrays.set(spec.name, convertTo(data.arrays.get(spec.name)!, npyTypeFor(spec), spec.name));
  return { samples: data.samples, arrays, source: data.source };
}

const NPY_OF: Partial<Record<number, NpyDtype>> = {
  [DataType.FLOAT]: 'float32',
  [DataType.DOUBLE]: 'float64',
  [DataType.FLOAT16]: 'float16',
  [DataType.INT64]: 'int64',
  [DataType.INT32]: 'int32',
  [DataType.INT8]: 'int8',
  [DataType.UINT8]: 'uint8',
  [DataType.BOOL]: 'bool',
};

function npyTypeFor(spec: InputSpec): NpyDtype {
  const t = NPY_OF[spec.elemType];
  if (!t) throw new InputError(`input '${spec.name}' has type ${dtypeName(spec.elemType)}, which evaluation does not support`);
  return t;
}

/** Read evaluation data for these inputs (a `.npy` file for one input, or a folder of `NAME.npy`). */
export function loadInputData(dataPath: string, specs: InputSpec[]): InputData {
  if (!fs.existsSync(dataPath)) throw new InputError(`data '${dataPath}' does not exist`);
  const files = readInputArrays(dataPath, specs, {
    fileNames: (name) => [name, name.replace(/[^A-Za-z0-9_.-]/g, '_')].map((n) => `${n}.npy`),
    missingInFolder: (folder, name) => new InputError(`data folder '${folder}' has no '${name}.npy' for input '${name}'`),
    notSingleInput: (all) => new InputError(`the model has ${all.length} inputs (${all.map((s) => s.name).join(', ')}): give a folder with one INPUTNAME.npy per input`),
  });
  const arrays = new Map<string, NpyArray>();
  for (const [name, { arr }] of files) arrays.set(name, arr);
  let samples = -1;
  for (const spec of specs) {
    const arr = convertTo(arrays.get(spec.name)!, npyTypeFor(spec), spec.name);
    arrays.set(spec.name, arr);
    if (spec.dims && arr.shape.length !== spec.dims.length) {
      throw new InputError(`data for input '${spec.name}' has shape [${arr.shape.join(', ')}], the model expects rank ${spec.dims.length} ([${spec.dims.map((d) => d ?? '?').join(', ')}]) with samples on the first axis`);
    }
    spec.dims?.forEach((d, i) => {
      if (i > 0 && typeof d === 'number' && arr.shape[i] !== d) {
        throw new InputError(`data for input '${spec.name}' has shape [${arr.shape.join(', ')}], the model expects [${spec.dims!.map((x) => x ?? '?').join(', ')}]`);
      }
    });
    const n = arr.shape[0] ?? 1;
    if (samples >= 0 && n !== samples) throw new InputError(`data files disagree on the number of samples (${samples} and ${n} for '${spec.name}')`);
    samples = n;
  }
  if (samples <= 0) throw new InputError(`data '${dataPath}' holds no samples`);
  return { samples, arrays, source: 'data' };
}

/** Convert where the meaning is kept (float64 → float32, narrower ints → int64); refuse the rest. */
function convertTo(arr: NpyArray, want: NpyDtype, name: string): NpyArray {
  if (arr.dtype === want) return arr;
  const count = arr.shape.reduce((a, b) => a * b, 1);
  const src = typedView(arr);
  const floats: NpyDtype[] = ['float16', 'float32', 'float64'];
  if (floats.includes(want) && floats.includes(arr.dtype)) {
    const values = Array.from(src as ArrayLike<number>);
    const out =
      want === 'float32' ? Float32Array.from(values) : want === 'float64' ? Float64Array.from(values) : Uint16Array.from(values, float32ToFloat16Bits);
    return { dtype: want, shape: arr.shape, data: new Uint8Array(out.buffer) };
  }
  const ints: NpyDtype[] = ['int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'bool'];
  if ((want === 'int64' || want === 'int32') && ints.includes(arr.dtype)) {
    const out = want === 'int64' ? new BigInt64Array(count) : new Int32Array(count);
    for (let i = 0; i < count; i++) (out as { [k: number]: unknown })[i] = want === 'int64' ? BigInt(src[i] as number | bigint) : Number(src[i]);
    return { dtype: want, shape: arr.shape, data: new Uint8Array(out.buffer) };
  }
  throw new InputError(`data for input '${name}' is ${arr.dtype}, the model expects ${want}`);
}

function typedView(arr: NpyArray): ArrayLike<number | bigint> {
  const elements = npyElements(arr.dtype, alignedCopy(arr.data));
  return arr.dtype === 'float16' ? Array.from(elements as Uint16Array, float16BitsToFloat32) : elements;
}

/**
 * Inputs matching the signature: `samples` on the first axis, other symbolic or unknown dims set
 * to `otherDims`; floats uniform in [0, 1), integer inputs in [0, vocab) when they index a Gather
 * whose table size is known (token ids), else in [0, 2) (masks, small ids).
 */
export function generateInputData(proto: ModelProto, specs: InputSpec[], samples: number, otherDims = samples, seed = 1234): InputData {
  const rand = seededRandom(seed);
  const arrays = new Map<string, NpyArray>();
  for (const spec of specs) {
    const dtype = npyTypeFor(spec);
    if (!spec.dims) throw new InputError(`input '${spec.name}' has no shape in the model; pass --data`);
    const shape = spec.dims.map((d, i) => (i === 0 ? samples : typeof d === 'number' && d > 0 ? d : otherDims));
    if (shape.length === 0) throw new InputError(`input '${spec.name}' is a scalar; pass --data`);
    const count = generatedElementCount(spec.name, shape, 'pass --data with real inputs');
    let data: Uint8Array;
    if (dtype === 'float32' || dtype === 'float64' || dtype === 'float16') {
      const v = Array.from({ length: count }, rand);
      data =
        dtype === 'float32'
          ? new Uint8Array(Float32Array.from(v).buffer)
          : dtype === 'float64'
            ? new Uint8Array(Float64Array.from(v).buffer)
            : new Uint8Array(Uint16Array.from(v, float32ToFloat16Bits).buffer);
    } else {
      const high = dtype === 'bool' ? 2 : integerRange(proto, spec.name);
      const ints = Array.from({ length: count }, () => Math.floor(rand() * high));
      if (dtype === 'int64') data = new Uint8Array(BigInt64Array.from(ints, BigInt).buffer);
      else if (dtype === 'int32') data = new Uint8Array(Int32Array.from(ints).buffer);
      else if (dtype === 'int8') data = new Uint8Array(Int8Array.from(ints).buffer);
      else data = Uint8Array.from(ints);
    }
    arrays.set(spec.name, { dtype, shape, data });
  }
  return { samples, arrays, source: 'generated' };
}

/** Exclusive upper bound for an integer input: the size of a Gather table it indexes, else 2. */
function integerRange(proto: ModelProto, inputName: string): number {
  const g = proto.graph;
  if (!g) return 2;
  const inits = new Map(g.initializer.map((t) => [t.name, t]));
  const consumers = new Map<string, NodeProto[]>();
  for (const n of g.node) for (const i of n.input) if (i) (consumers.get(i) ?? consumers.set(i, []).get(i)!).push(n);
  // Follow value-preserving ops a few steps (Cast, Reshape, ...) to the Gather that uses the ids.
  const passThrough = new Set(['Cast', 'Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Identity']);
  let frontier = [inputName];
  for (let depth = 0; depth < 4 && frontier.length; depth++) {
    const next: string[] = [];
    for (const name of frontier) {
      for (const n of consumers.get(name) ?? []) {
        if (n.opType === 'Gather' && n.input[1] === name) {
          const table = inits.get(n.input[0] ?? '');
          const axis = Number(n.attribute.find((a) => a.name === 'axis')?.i ?? 0n);
          if (table) {
            const dims = tensorShape(table);
            const size = dims[axis < 0 ? dims.length + axis : axis];
            if (size && size > 0) return size;
          }
        } else if (passThrough.has(n.opType) && n.input[0] === name && n.output[0]) {
          next.push(n.output[0]);
        }
      }
    }
    frontier = next;
  }
  return 2;
}

/** Largest number of samples one run may take: a fixed first dim pins it. */
export function maxBatchOf(specs: InputSpec[]): number {
  return fixedBatchOf(specs) ?? Infinity;
}

const ORT_TYPE: Record<string, string> = {
  float32: 'float32',
  float64: 'float64',
  float16: 'float16',
  int64: 'int64',
  int32: 'int32',
  int8: 'int8',
  uint8: 'uint8',
  bool: 'bool',
};

/** ONNX Runtime tensors for samples [start, start + count) of every input. */
export function feedsFor(data: InputData, start: number, count: number): Record<string, OrtTensor> {
  const o = ort();
  const feeds: Record<string, OrtTensor> = {};
  for (const [name, arr] of data.arrays) {
    const perSample = arr.shape.slice(1).reduce((a, b) => a * b, 1);
    const elementBytes = arr.data.length / Math.max(1, arr.shape.reduce((a, b) => a * b, 1));
    // A fresh, aligned copy (Buffer#slice would be a view into the file buffer).
    const bytes = new Uint8Array(count * perSample * elementBytes);
    bytes.set(arr.data.subarray(start * perSample * elementBytes, (start + count) * perSample * elementBytes));
    const values = npyElements(arr.dtype, bytes);
    const type = ORT_TYPE[arr.dtype] ?? arr.dtype;
    feeds[name] = new o.Tensor(type as 'float32', values as unknown as Float32Array, [count, ...arr.shape.slice(1)]);
  }
  return feeds;
}

/** Take the first `count` samples (or fewer when the data holds fewer). */
export function firstSamples(data: InputData, count: number): InputData {
  const n = Math.min(count, data.samples);
  if (n === data.samples) return data;
  const arrays = new Map<string, NpyArray>();
  for (const [name, arr] of data.arrays) {
    const perSample = arr.data.length / Math.max(1, arr.shape[0] ?? 1);
    arrays.set(name, { dtype: arr.dtype, shape: [n, ...arr.shape.slice(1)], data: arr.data.subarray(0, n * perSample) });
  }
  return { samples: n, arrays, source: data.source };
}

/** Resolve the evaluation inputs: data when given, else `generated` samples. */
export function evaluationInputs(proto: ModelProto, specs: InputSpec[], dataPath: string | undefined, generated: number, otherDims?: number): InputData {
  return dataPath ? loadInputData(dataPath, specs) : generateInputData(proto, specs, generated, otherDims);
}
