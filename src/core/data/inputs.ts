/**
 * Model inputs and the `.npy` arrays that feed them, shared by calibration and evaluation: the
 * graph's real inputs, reading one file (single-input model) or a folder of `INPUTNAME.npy`,
 * and typed views of an array's bytes. Each caller keeps its own checks and error wording.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { InputError } from '../errors';
import { DataType } from '../onnx/dtype';
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
    const d = s.dims?.[0];
    if (typeof d === 'number' && d > 0) fixed = fixed === undefined ? d : Math.min(fixed, d);
  }
  return fixed;
}

/** How a caller names input files in a folder and words the two ways the files can be wrong. */
export interface InputFileRules {
  /** File names to try, in order, for an input inside a data folder. */
  fileNames(inputName: string): string[];
  missingInFolder(folder: string, inputName: string): InputError;
  notSingleInput(specs: InputSpec[]): InputError;
}

/** Read the array of every input from `location` (an existing file or folder), with the file it came from. */
export function readInputArrays(location: string, specs: InputSpec[], rules: InputFileRules): Map<string, { file: string; arr: NpyArray }> {
  const arrays = new Map<string, { file: string; arr: NpyArray }>();
  if (fs.statSync(location).isDirectory()) {
    for (const spec of specs) {
      const file = rules.fileNames(spec.name).map((n) => path.join(location, n)).find((f) => fs.existsSync(f));
      if (!file) throw rules.missingInFolder(location, spec.name);
      arrays.set(spec.name, { file, arr: readNpy(file) });
    }
  } else {
    if (specs.length !== 1) throw rules.notSingleInput(specs);
    arrays.set(specs[0]!.name, { file: location, arr: readNpy(location) });
  }
  return arrays;
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
