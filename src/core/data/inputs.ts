/**
 * Model inputs and the `.npy` arrays that feed them, shared by calibration and evaluation: the
 * graph's real inputs, reading one file (single-input model) or a folder of `INPUTNAME.npy`,
 * and typed views of an array's bytes. Each caller keeps its own checks and error wording.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../errors';
import { isInside, realpathOrSelf } from '../onnx/paths';
import { fileError, statRegularFile } from '../util/files';
import { DataType, isFloatType } from '../onnx/dtype';
import type { GraphProto } from '../onnx/schema';
import { readNpy, type NpyArray, type NpyDtype } from './npy';

export interface InputSpec {
  name: string;
  elemType: number;
  /** Numbers for fixed dims, strings for symbolic ones, null when unknown. */
  dims: (number | string | null)[] | undefined;
}

/** The graph's real inputs (initializers listed as inputs by old exporters are not inputs to feed). */
export function graphInputs(graph: GraphProto): InputSpec[] {
  const inits = new Set(graph.initializer.map((t) => t.name));
  return graph.input
    .filter((v) => !inits.has(v.name))
    .map((v) => {
      const t = v.type?.value.case === 'tensorType' ? v.type.value.value : undefined;
      const dims = t?.shape?.dim.map((d) => (d.value.case === 'dimValue' ? Number(d.value.value) : d.value.case === 'dimParam' ? d.value.value : null));
      return { name: v.name, elemType: t?.elemType ?? DataType.UNDEFINED, dims };
    });
}

/** The largest batch the model accepts: the smallest fixed first dim over the inputs, undefined when none is fixed. */
export function fixedBatchOf(specs: InputSpec[]): number | undefined {
  let fixed: number | undefined;
  for (const s of specs) {
    // A recurrent state's first dim counts layers × directions, not samples.
    if (isRecurrentState(s)) continue;
    const d = s.dims?.[0];
    if (typeof d === 'number' && d > 0) fixed = fixed === undefined ? d : Math.min(fixed, d);
  }
  return fixed;
}

/** [layers × directions, batch, hidden] float named as a recurrent state (Silero's h, c, state): dim 1 is the batch. */
export function isRecurrentState(spec: InputSpec): boolean {
  const d = spec.dims;
  return !!d && d.length === 3 && isFloatType(spec.elemType) && typeof d[0] === 'number' && d[0] > 0 && /^(state|states|h|c|h0|c0|hx|cx|hidden|cell)$/i.test(spec.name);
}

/**
 * The axis of the model's input that samples go on when runs are batched: 0, or 1 for a
 * recurrent state ([layers × directions, batch, hidden]); undefined for a scalar, which takes
 * one value fed whole to every run.
 */
export function batchAxisOf(spec: InputSpec): 0 | 1 | undefined {
  if (spec.dims?.length === 0) return undefined;
  return isRecurrentState(spec) ? 1 : 0;
}

/** The shape of one sample of a batched input: the model's dims without its batch axis. */
export function sampleDims(spec: InputSpec): (number | string | null)[] | undefined {
  const axis = batchAxisOf(spec);
  return axis === undefined ? [] : spec.dims?.filter((_, i) => i !== axis);
}

/**
 * Data for a recurrent state, samples on the first axis: [N, layers, hidden] (each sample's
 * state with its batch axis dropped), or [N, layers, 1, hidden] (each sample's state as the
 * model takes it at batch 1), which is read as the former.
 */
export function stateSamples(spec: InputSpec, arr: NpyArray, label: string): NpyArray {
  const want = sampleDims(spec) ?? [];
  const fits = (shape: number[]) => shape.length === want.length && want.every((d, i) => typeof d !== 'number' || d <= 0 || shape[i] === d);
  if (fits(arr.shape.slice(1))) return arr;
  const [n = 0, layers = 0, one, ...rest] = arr.shape;
  if (one === 1 && fits([layers, ...rest])) return { ...arr, shape: [n, layers, ...rest] };
  const dims = spec.dims ?? [];
  throw new InputError(
    `${label} has shape [${arr.shape.join(', ')}], but '${spec.name}' is a recurrent state [${dims.map((d) => d ?? '?').join(', ')}] whose dim 1 is the batch: ` +
      `give its samples on the first axis, [N, ${want.map((d) => d ?? '?').join(', ')}] (each sample's state without the batch axis)`,
  );
}

/**
 * The one value a scalar input is fed on every run, from the data given for it: a 0-d array, or
 * one value per sample ([N]) that is the same for all samples (a sample rate, a flag). Different
 * values cannot share a run, so they are refused with the input named.
 */
export function scalarValue(name: string, arr: NpyArray, label: string): NpyArray {
  const count = arr.shape.reduce((a, b) => a * b, 1);
  if (arr.shape.length > 1 || count === 0) {
    throw new InputError(`${label} has shape [${arr.shape.join(', ')}], but '${name}' is a scalar input: give a 0-d array or one value per sample (shape [N])`);
  }
  const size = arr.data.length / count;
  const first = arr.data.subarray(0, size);
  for (let i = 1; i < count; i++) {
    const at = i * size;
    if (first.some((b, k) => arr.data[at + k] !== b)) {
      const values = npyElements(arr.dtype, alignedCopy(arr.data));
      throw new InputError(
        `${label} holds different values for the scalar input '${name}' (${String(values[0])} at sample 0, ${String(values[i])} at sample ${i}); ` +
          `a scalar takes one value for a whole run: give one value (a 0-d array, or --input ${name}=VALUE)`,
      );
    }
  }
  return { dtype: arr.dtype, shape: [], data: alignedCopy(first) };
}

/**
 * Samples [start, start + count) of sample-first bytes (`perSample` elements of `elementBytes`
 * each, one sample shaped `sampleShape`) laid out with the sample axis at `axis`, as the model
 * takes them: a view for axis 0, a moved copy otherwise.
 */
export function batchLayout(bytes: Uint8Array, elementBytes: number, sampleShape: number[], start: number, count: number, axis: number): { bytes: Uint8Array; dims: number[] } {
  const per = sampleShape.reduce((a, b) => a * b, 1) * elementBytes;
  const slice = bytes.subarray(start * per, (start + count) * per);
  const dims = [...sampleShape.slice(0, axis), count, ...sampleShape.slice(axis)];
  if (axis === 0) return { bytes: slice, dims };
  // outer × [count] × inner, from count × outer × inner.
  const outer = sampleShape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = per / outer;
  const out = new Uint8Array(slice.length);
  for (let s = 0; s < count; s++) {
    for (let o = 0; o < outer; o++) out.set(slice.subarray(s * per + o * inner, s * per + (o + 1) * inner), (o * count + s) * inner);
  }
  return { bytes: out, dims };
}

/**
 * Most elements generated for one input when no data is given (128 MB as float32): a tiny model
 * may declare a billion-element input, and then the user has to give real data instead.
 */
export const MAX_GENERATED_ELEMENTS = 2 ** 25;

/** The element count of a generated input of `shape`, or an InputError (asking for data) when too large. */
export function generatedElementCount(name: string, shape: number[], ask: string): number {
  let count = 1;
  for (const d of shape) count *= d;
  if (!(count <= MAX_GENERATED_ELEMENTS)) {
    throw new InputError(`input '${name}' declares [${shape.join(', ')}] = ${count} elements, too many to generate (limit ${MAX_GENERATED_ELEMENTS}); ${ask}`);
  }
  return count;
}

/** The file a data folder holds for an input (what calibration folders are written with): the name, characters file systems refuse replaced. */
export function fileNameForInput(name: string): string {
  return `${name.replace(/[/\\:*?"<>|]/g, '_')}.npy`;
}

/**
 * The files a data folder may hold for an input, in the order they are tried: the name itself,
 * fileNameForInput's, and every character outside [A-Za-z0-9_.-] replaced. Calibration and
 * evaluation read the same folders (quantize checks fidelity on its calibration data), so both use these.
 */
export function inputFileNames(name: string): string[] {
  return [...new Set([`${name}.npy`, fileNameForInput(name), `${name.replace(/[^A-Za-z0-9_.-]/g, '_')}.npy`])];
}

/** How a caller names input files in a folder and words the two ways the files can be wrong. */
export interface InputFileRules {
  /** File names to try, in order, for an input inside a data folder. */
  fileNames(inputName: string): string[];
  missingInFolder(folder: string, inputName: string): InputError;
  notSingleInput(specs: InputSpec[]): InputError;
}

/**
 * Read the array of every input from `location` (an existing file or folder), with the file it came from.
 * A folder's entries are read only when, links followed, they lie inside the folder itself or one
 * of `roots` (the model's folder on the command line, the workspace folders in the editor): a
 * committed link in a data folder does not lead the reader elsewhere. A file given directly is the
 * caller's choice and is not confined here.
 */
export function readInputArrays(location: string, specs: InputSpec[], rules: InputFileRules, roots: readonly string[] = []): Map<string, { file: string; arr: NpyArray }> {
  const arrays = new Map<string, { file: string; arr: NpyArray }>();
  if (isFolder(location)) {
    let within: string[] | undefined;
    for (const spec of specs) {
      // A name like '../x' must not lead out of the folder.
      const candidates = rules.fileNames(spec.name).filter((n) => isInside(path.resolve(location), path.resolve(location, n)));
      const file = candidates.map((n) => path.join(location, n)).find((f) => fs.existsSync(f));
      if (!file) throw rules.missingInFolder(location, spec.name);
      const what = `data for input '${spec.name}'`;
      // A device or FIFO is named as such (before where it leads).
      statRegularFile(file, what);
      within ??= [location, ...roots].map(realpathOrSelf);
      const real = realpathOrSelf(file);
      if (!within.some((dir) => isInside(dir, real))) {
        throw new InputError(
          `${what}: '${path.basename(file)}' in data folder '${location}' is a link leading out of ${roots.length ? `the folder and ${roots.map((r) => `'${r}'`).join(', ')}` : 'the folder'}; refused (copy the file into the folder, or give the file itself)`,
        );
      }
      arrays.set(spec.name, { file, arr: readNpy(file, what) });
    }
  } else {
    const [only] = specs;
    if (specs.length !== 1 || !only) throw rules.notSingleInput(specs);
    arrays.set(only.name, { file: location, arr: readNpy(location, 'data') });
  }
  return arrays;
}

function isFolder(location: string): boolean {
  try {
    return fs.statSync(location).isDirectory();
  } catch (e) {
    throw fileError(location, 'data', e);
  }
}

/**
 * Refuse float arrays holding NaN or ±Inf: one such value sets a scale to ~1e36 and ruins the
 * model without any error. Names how many and where the first is.
 */
export function checkFinite(arr: NpyArray, label: string): void {
  if (arr.dtype !== 'float32' && arr.dtype !== 'float64' && arr.dtype !== 'float16') return;
  const size = arr.dtype === 'float64' ? 8 : arr.dtype === 'float32' ? 4 : 2;
  const d = arr.data.byteOffset % size === 0 ? arr.data : alignedCopy(arr.data);
  const n = d.length / size;
  const values = arr.dtype === 'float64' ? new Float64Array(d.buffer, d.byteOffset, n) : arr.dtype === 'float32' ? new Float32Array(d.buffer, d.byteOffset, n) : new Uint16Array(d.buffer, d.byteOffset, n);
  let bad = 0;
  let first = -1;
  if (arr.dtype === 'float16') {
    // Exponent bits all set: Inf or NaN.
    for (const [i, bits] of (values as Uint16Array).entries()) {
      if ((bits & 0x7c00) === 0x7c00) {
        if (first < 0) first = i;
        bad++;
      }
    }
  } else {
    const floats = values as Float32Array | Float64Array;
    for (const [i, v] of floats.entries()) {
      if (!Number.isFinite(v)) {
        if (first < 0) first = i;
        bad++;
      }
    }
  }
  if (bad > 0) throw new InputError(`${label} holds ${bad} NaN or infinite value${bad === 1 ? '' : 's'} (first at flat index ${first}); clean the data first`);
}

export type NpyElements = Float32Array | Float64Array | Uint16Array | BigInt64Array | BigUint64Array | Int32Array | Uint32Array | Int16Array | Int8Array | Uint8Array;

/**
 * The elements of `dtype` stored in `bytes` (which must start at offset 0 of its buffer, e.g. a
 * fresh copy): float16 as its raw bits (Uint16Array), uint8 and bool as `bytes` itself.
 */
export function npyElements(dtype: NpyDtype, bytes: Uint8Array): NpyElements {
  const b = bytes.buffer;
  switch (dtype) {
    case 'float32':
      return new Float32Array(b);
    case 'float64':
      return new Float64Array(b);
    case 'float16':
    case 'uint16':
      return new Uint16Array(b);
    case 'int64':
      return new BigInt64Array(b);
    case 'uint64':
      return new BigUint64Array(b);
    case 'int32':
      return new Int32Array(b);
    case 'uint32':
      return new Uint32Array(b);
    case 'int16':
      return new Int16Array(b);
    case 'int8':
      return new Int8Array(b);
    case 'uint8':
    case 'bool':
      return bytes;
  }
}

/** A fresh, aligned copy of the array's bytes (a Buffer from readFile may be a view into a pool). */
export function alignedCopy(bytes: Uint8Array): Uint8Array {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return copy;
}
