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
import { VALUE_PRESERVING_OPS } from '../onnx/op-rules';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../onnx/float16';
import type { NpyArray, NpyDtype } from '../data/npy';
import { alignedCopy, batchAxisOf, batchLayout, fixedBatchOf, generatedElementCount, graphInputs, inputFileNames, isRecurrentState, npyElements, readInputArrays, sampleDims, scalarValue, stateSamples, type InputSpec } from '../data/inputs';
import { ort, type OrtTensor } from '../runtime/ort';
import { seededRandom } from '../util/random';
import { DEFAULT_SAMPLE_RATE, describeProbeShapes, isSampleRateInput, npyTypeOfInput, probeShapes, statedValue, type InputOverrides, type ProbeShape } from '../data/probe';

export type { InputSpec };

/** Values for every input, samples along the first axis (except the inputs in `fixed`). */
export interface InputData {
  samples: number;
  arrays: Map<string, NpyArray>;
  source: 'data' | 'generated';
  /** Inputs fed whole on every run, with no sample axis: scalars and values the user stated. */
  fixed?: Set<string>;
  /**
   * Inputs whose samples go on another axis of the model's input than the first (a recurrent
   * state's batch is dim 1): stored samples-first all the same, moved when fed.
   */
  batchAxes?: Map<string, number>;
  /** The shapes a run uses and where their symbolic dims came from (generated inputs). */
  shapes?: ProbeShape[];
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
  if (specs.every((s) => data.arrays.get(s.name)?.dtype === npyTypeOfInput(s))) return data;
  const arrays = new Map<string, NpyArray>();
  for (const spec of specs) arrays.set(spec.name, convertTo(data.arrays.get(spec.name)!, npyTypeFor(spec), spec.name));
  return { ...data, arrays };
}


function npyTypeFor(spec: InputSpec): NpyDtype {
  const t = npyTypeOfInput(spec);
  if (!t) throw new InputError(`input '${spec.name}' has type ${dtypeName(spec.elemType)}, which evaluation does not support`);
  return t;
}

/**
 * Read evaluation data for these inputs (a `.npy` file for one input, or a folder of `NAME.npy`
 * whose entries stay, links followed, inside the folder or `roots`: readInputArrays).
 */
export function loadInputData(dataPath: string, allSpecs: InputSpec[], overrides?: InputOverrides, roots: readonly string[] = []): InputData {
  if (!fs.existsSync(dataPath)) throw new InputError(`data '${dataPath}' does not exist`);
  // Inputs the user gave a value for (--input NAME=...) are fed that value; the data feeds the rest.
  const stated = overrides?.values ?? {};
  const specs = allSpecs.filter((s) => stated[s.name] === undefined);
  const files = readInputArrays(dataPath, specs, {
    fileNames: inputFileNames,
    missingInFolder: (folder, name) => new InputError(`data folder '${folder}' has no '${name}.npy' for input '${name}'`),
    notSingleInput: (all) => new InputError(`the model has ${all.length} inputs (${all.map((s) => s.name).join(', ')}): give a folder with one INPUTNAME.npy per input`),
  }, roots);
  const arrays = new Map<string, NpyArray>();
  for (const [name, { arr }] of files) arrays.set(name, arr);
  let samples = -1;
  const fixed = new Set<string>();
  const batchAxes = new Map<string, number>();
  for (const spec of specs) {
    let arr = convertTo(arrays.get(spec.name)!, npyTypeFor(spec), spec.name);
    const axis = batchAxisOf(spec);
    const label = `data for input '${spec.name}'`;
    if (axis === undefined) {
      // A scalar (a sample rate, a flag): its one value is fed whole to every run.
      arrays.set(spec.name, scalarValue(spec.name, arr, label));
      fixed.add(spec.name);
      continue;
    }
    if (axis !== 0) {
      arr = stateSamples(spec, arr, label);
      batchAxes.set(spec.name, axis);
    }
    arrays.set(spec.name, arr);
    const per = sampleDims(spec);
    if (spec.dims && per && arr.shape.length !== per.length + 1) {
      throw new InputError(`data for input '${spec.name}' has shape [${arr.shape.join(', ')}], the model expects rank ${spec.dims.length} ([${spec.dims.map((d) => d ?? '?').join(', ')}]) with samples on the first axis`);
    }
    per?.forEach((d, i) => {
      if (typeof d === 'number' && arr.shape[i + 1] !== d) {
        throw new InputError(`data for input '${spec.name}' has shape [${arr.shape.join(', ')}], the model expects [${spec.dims!.map((x) => x ?? '?').join(', ')}]`);
      }
    });
    const n = arr.shape[0] ?? 1;
    if (samples >= 0 && n !== samples) throw new InputError(`data files disagree on the number of samples (${samples} and ${n} for '${spec.name}')`);
    samples = n;
  }
  // Only scalars: every run feeds the same values, one sample.
  if (samples < 0 && fixed.size > 0) samples = 1;
  if (samples <= 0) throw new InputError(`data '${dataPath}' holds no samples`);
  if (specs.length < allSpecs.length) {
    const shapes = probeShapes({} as ModelProto, allSpecs, { shapes: overrides?.shapes ?? {} });
    for (const spec of allSpecs) {
      if (stated[spec.name] === undefined) continue;
      arrays.set(spec.name, statedValue(spec, stated[spec.name]!, shapes.find((p) => p.name === spec.name)!.dims));
      fixed.add(spec.name);
    }
  }
  return { samples, arrays, source: 'data', ...(fixed.size ? { fixed } : {}), ...(batchAxes.size ? { batchAxes } : {}) };
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
 * Inputs matching the signature: `samples` on the first axis, symbolic dims from the user's
 * overrides or the probe defaults (data/probe.ts); floats uniform in [0, 1), integer inputs in
 * [0, vocab) when they index a Gather whose table size is known (token ids), else in [0, 2)
 * (masks, small ids). Scalars (an integer scalar is 1, a float scalar 0.5) and values the user
 * stated are fed whole on every run.
 */
export function generateInputData(proto: ModelProto, specs: InputSpec[], samples: number, overrides?: InputOverrides, seed = 1234): InputData {
  const rand = seededRandom(seed);
  const arrays = new Map<string, NpyArray>();
  const fixed = new Set<string>();
  const batchAxes = new Map<string, number>();
  const shapes = probeShapes(proto, specs, overrides);
  for (const spec of specs) {
    const dtype = npyTypeFor(spec);
    const probe = shapes.find((p) => p.name === spec.name)!;
    const stated = overrides?.values?.[spec.name];
    if (stated !== undefined) {
      arrays.set(spec.name, statedValue(spec, stated, probe.dims));
      fixed.add(spec.name);
      continue;
    }
    if (!spec.dims) throw new InputError(`input '${spec.name}' has no shape in the model; pass --data or --input-shape ${spec.name}=D1xD2…`);
    if (spec.dims.length === 0) {
      const value = isSampleRateInput(spec) ? DEFAULT_SAMPLE_RATE : dtype === 'float32' || dtype === 'float64' || dtype === 'float16' ? 0.5 : 1;
      arrays.set(spec.name, statedValue(spec, String(value), []));
      fixed.add(spec.name);
      continue;
    }
    if (isRecurrentState(spec)) {
      // The initial state a recurrent model starts from: zeros for every sample, [layers, batch, hidden] when fed.
      const shape = [samples, ...probe.dims.filter((_, i) => i !== 1)];
      const n = shape.reduce((a, b) => a * b, 1);
      arrays.set(spec.name, { dtype, shape, data: new Uint8Array(n * (dtype === 'float64' ? 8 : dtype === 'float16' ? 2 : 4)) });
      batchAxes.set(spec.name, 1);
      continue;
    }
    const shape = [samples, ...probe.dims.slice(1)];
    const count = generatedElementCount(spec.name, shape, 'give real inputs (--data; for quantize --calibration-data, or --no-validate) or a smaller --input-shape');
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
  return { samples, arrays, source: 'generated', shapes, ...(fixed.size ? { fixed } : {}), ...(batchAxes.size ? { batchAxes } : {}) };
}

/** What one run of `batch` samples feeds, for reports: `ids [1, 128] (seq=128 (sequence default))`. */
export function describeInputs(data: InputData, batch: number): string {
  const shapeOf = (name: string, arr: NpyArray) => {
    if (data.fixed?.has(name)) return arr.shape;
    const axis = data.batchAxes?.get(name) ?? 0;
    const sample = arr.shape.slice(1);
    return [...sample.slice(0, axis), batch, ...sample.slice(axis)];
  };
  if (data.shapes) {
    return describeProbeShapes(data.shapes.map((s) => ({ ...s, dims: shapeOf(s.name, data.arrays.get(s.name)!), notes: data.fixed?.has(s.name) && !s.dims.length ? ['scalar'] : s.notes })));
  }
  return [...data.arrays].map(([name, arr]) => `${name} [${shapeOf(name, arr).join(', ')}]`).join('; ');
}

/** Exclusive upper bound for an integer input: the size of a Gather table it indexes, else 2. */
function integerRange(proto: ModelProto, inputName: string): number {
  const g = proto.graph;
  if (!g) return 2;
  const inits = new Map(g.initializer.map((t) => [t.name, t]));
  const consumers = new Map<string, NodeProto[]>();
  for (const n of g.node) for (const i of n.input) if (i) (consumers.get(i) ?? consumers.set(i, []).get(i)!).push(n);
  // Follow value-preserving ops a few steps (Cast, Reshape, ...) to the Gather that uses the ids.
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
        } else if (VALUE_PRESERVING_OPS.has(n.opType) && n.input[0] === name && n.output[0]) {
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
    if (data.fixed?.has(name)) {
      feeds[name] = new o.Tensor((ORT_TYPE[arr.dtype] ?? arr.dtype) as 'float32', npyElements(arr.dtype, alignedCopy(arr.data)) as unknown as Float32Array, arr.shape);
      continue;
    }
    const elementBytes = arr.data.length / Math.max(1, arr.shape.reduce((a, b) => a * b, 1));
    const batch = batchLayout(arr.data, elementBytes, arr.shape.slice(1), start, count, data.batchAxes?.get(name) ?? 0);
    // A fresh, aligned copy (Buffer#slice would be a view into the file buffer).
    const values = npyElements(arr.dtype, alignedCopy(batch.bytes));
    const type = ORT_TYPE[arr.dtype] ?? arr.dtype;
    feeds[name] = new o.Tensor(type as 'float32', values as unknown as Float32Array, batch.dims);
  }
  return feeds;
}

/** Take the first `count` samples (or fewer when the data holds fewer). */
export function firstSamples(data: InputData, count: number): InputData {
  return sampleRange(data, 0, count);
}

/** Take `count` samples from sample `start` on (or fewer when the data holds fewer). */
export function sampleRange(data: InputData, start: number, count: number): InputData {
  const from = Math.min(Math.max(0, start), data.samples);
  const n = Math.min(count, data.samples - from);
  if (from === 0 && n === data.samples) return data;
  const arrays = new Map<string, NpyArray>();
  for (const [name, arr] of data.arrays) {
    if (data.fixed?.has(name)) {
      arrays.set(name, arr);
      continue;
    }
    const perSample = arr.data.length / Math.max(1, arr.shape[0] ?? 1);
    arrays.set(name, { dtype: arr.dtype, shape: [n, ...arr.shape.slice(1)], data: arr.data.subarray(from * perSample, (from + n) * perSample) });
  }
  return { ...data, samples: n, arrays };
}

/** Resolve the evaluation inputs: data when given, else `generated` samples. */
export function evaluationInputs(proto: ModelProto, specs: InputSpec[], dataPath: string | undefined, generated: number, overrides?: InputOverrides, roots: readonly string[] = []): InputData {
  return dataPath ? loadInputData(dataPath, specs, overrides, roots) : generateInputData(proto, specs, generated, overrides);
}
