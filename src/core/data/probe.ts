/**
 * The inputs a run uses when the user gives no data: shapes for symbolic dims and values the user
 * may state (`--input-shape NAME=D1xD2…`, `--input NAME=VALUE|FILE.npy`), and the defaults used
 * otherwise, each with a note saying where it came from so that every report can print them:
 * - the batch dim (first axis) is 1;
 * - image dims (height, width of a rank-4 float input) come from the model's metadata, else 224;
 *   a symbolic channel dim is 3;
 * - audio: a scalar integer input named as a sample rate (`sr`, `sample_rate`…) is 16000; a
 *   waveform (rank-2 float [batch, samples] in a model with a sample-rate input, or whose dim is
 *   named samples/audio/wave) is 512 samples long (32 ms at 16 kHz: one STFT window or VAD chunk,
 *   where 128 is shorter than the window); the batch dim of an RNN state input ([layers, batch,
 *   hidden], named state/h/c…) is the batch;
 * - every other symbolic dim (sequence, length, frames…) is 128;
 * - dims sharing a symbolic name share a value (a stated `seq` applies to every input using it).
 */
import * as fs from 'node:fs';
import { InputError } from '../errors';
import { DataType, isFloatType } from '../onnx/dtype';
import type { ModelProto } from '../onnx/schema';
import { float32ToFloat16Bits } from '../onnx/float16';
import { readNpy, type NpyArray, type NpyDtype } from './npy';
import { isRecurrentState, type InputSpec } from './inputs';

/** What the user stated about the inputs (CLI flags, recipe fields, remembered per model in the editor). */
export interface InputOverrides {
  /** Input name → full shape, e.g. `{ ids: [1, 128] }`. */
  shapes?: Record<string, number[]>;
  /** Input name → a value: a number or comma-separated numbers (`16000`, `1,0,1`), or a `.npy` file. */
  values?: Record<string, string>;
}

export const DEFAULT_SEQUENCE = 128;
export const DEFAULT_IMAGE = 224;
export const DEFAULT_SAMPLE_RATE = 16000;
export const DEFAULT_AUDIO_SAMPLES = 512;

/** A scalar (or [1]) integer input named as a sample rate: audio models branch on its value. */
export function isSampleRateInput(spec: InputSpec): boolean {
  const d = spec.dims;
  const scalar = d !== undefined && (d.length === 0 || (d.length === 1 && d[0] === 1));
  return scalar && !isFloatType(spec.elemType) && /^(sr|fs|sample_?rate|sampling_?rate|samplerate)$/i.test(spec.name);
}

/** [batch, samples] float: a waveform when the model takes a sample rate or the dim says so. */
function isWaveform(spec: InputSpec, specs: InputSpec[]): boolean {
  const d = spec.dims;
  if (!d || d.length !== 2 || !isFloatType(spec.elemType) || (typeof d[1] === 'number' && d[1] > 0)) return false;
  return specs.some(isSampleRateInput) || (typeof d[1] === 'string' && /sample|audio|wave|signal|pcm/i.test(d[1]));
}


/** `NAME=1x128` (or `NAME=[1,128]`, `NAME=1,128`): the name is everything before the last '='. */
export function parseInputShape(text: string): [string, number[]] {
  const eq = text.lastIndexOf('=');
  const name = text.slice(0, eq).trim();
  const dims = text
    .slice(eq + 1)
    .replace(/^\s*\[|\]\s*$/g, '')
    .split(/[x×,]/)
    .map((s) => s.trim());
  if (eq <= 0 || dims.some((d) => !/^\d+$/.test(d))) {
    throw new InputError(`--input-shape expects NAME=D1xD2… with whole numbers (e.g. ids=1x128; '' for a scalar is not a shape), got '${text}'`);
  }
  return [name, dims.map(Number)];
}

/** `NAME=16000`, `NAME=1,0,1` or `NAME=path/to/file.npy`. */
export function parseInputValue(text: string): [string, string] {
  const eq = text.indexOf('=');
  const name = text.slice(0, eq).trim();
  const value = text.slice(eq + 1).trim();
  if (eq <= 0 || !value) throw new InputError(`--input expects NAME=VALUE or NAME=FILE.npy (e.g. sample_rate=16000), got '${text}'`);
  return [name, value];
}

/** Overrides from repeated `--input-shape` / `--input` flags; undefined when none was given. */
export function inputOverridesFrom(shapes: readonly string[] = [], values: readonly string[] = []): InputOverrides | undefined {
  if (!shapes.length && !values.length) return undefined;
  const out: InputOverrides = {};
  if (shapes.length) out.shapes = Object.fromEntries(shapes.map(parseInputShape));
  if (values.length) out.values = Object.fromEntries(values.map(parseInputValue));
  return out;
}

/** `ids=1x128 sample_rate=16000`: the overrides as flags say them (for logs and the editor's memory). */
export function formatInputOverrides(o: InputOverrides | undefined): string {
  if (!o) return '';
  return [...Object.entries(o.shapes ?? {}).map(([n, d]) => `${n}=${d.join('x')}`), ...Object.entries(o.values ?? {}).map(([n, v]) => `${n}=${v}`)].join(' ');
}

/** Parse `ids=1x128 sample_rate=16000` (space-separated; an entry with an `x`-list of numbers is a shape). */
export function parseInputOverridesText(text: string): InputOverrides | undefined {
  const parts = text.split(/\s+/).filter(Boolean);
  const isShape = (p: string) => /=\s*\[?\d+(\s*[x×]\s*\d+)+\]?$/.test(p);
  return inputOverridesFrom(parts.filter(isShape), parts.filter((p) => !isShape(p)));
}

/** Names in the overrides that are no input of the model: an InputError listing the real ones. */
export function checkOverrideNames(o: InputOverrides | undefined, specs: InputSpec[]): void {
  if (!o) return;
  const names = new Set(specs.map((s) => s.name));
  for (const n of [...Object.keys(o.shapes ?? {}), ...Object.keys(o.values ?? {})]) {
    if (!names.has(n)) throw new InputError(`the model has no input '${n}' (its inputs: ${specs.map((s) => s.name).join(', ') || 'none'})`);
  }
}

/** One input's probe shape and where each symbolic dim's value came from. */
export interface ProbeShape {
  name: string;
  dims: number[];
  /** e.g. `seq=128 (default)`, `height=224 (default)`, `stated`; empty when the model fixes every dim. */
  notes: string[];
  /** The model gives this input symbolic or unknown dims, or it is a scalar: a probe's first suspect. */
  guessed: boolean;
}

/** Probe shapes for every input: stated shapes win, then the defaults above. */
export function probeShapes(proto: ModelProto, specs: InputSpec[], overrides: InputOverrides | undefined, batch = 1): ProbeShape[] {
  checkOverrideNames(overrides, specs);
  const stated = overrides?.shapes ?? {};
  // Symbolic names fixed by a stated shape apply to every input that uses them.
  const byParam = new Map<string, number>();
  for (const spec of specs) {
    const s = stated[spec.name];
    if (!s) continue;
    if (spec.dims && s.length !== spec.dims.length) {
      throw new InputError(`--input-shape ${spec.name}=${s.join('x')} has rank ${s.length}, but the model's input '${spec.name}' has rank ${spec.dims.length} [${spec.dims.map((d) => d ?? '?').join(', ')}]`);
    }
    spec.dims?.forEach((d, i) => {
      if (typeof d === 'number' && d > 0 && s[i] !== d) throw new InputError(`--input-shape ${spec.name}=${s.join('x')}: dim ${i} of '${spec.name}' is fixed at ${d} in the model`);
      if (typeof d === 'string') byParam.set(d, s[i]!);
    });
  }
  const image = imageSizeFromMetadata(proto);
  return specs.map((spec) => {
    const s = stated[spec.name];
    if (s) return { name: spec.name, dims: [...s], notes: ['stated'], guessed: false };
    const dims = spec.dims ?? [];
    const notes: string[] = [];
    const layout = imageLayout(spec);
    const waveform = isWaveform(spec, specs);
    const state = isRecurrentState(spec);
    const out = dims.map((d, i) => {
      if (typeof d === 'number' && d > 0) return d;
      const label = typeof d === 'string' && d ? d : `dim ${i}`;
      if (typeof d === 'string' && byParam.has(d)) {
        notes.push(`${label}=${byParam.get(d)} (stated for another input)`);
        return byParam.get(d)!;
      }
      let v: number;
      let why: string;
      if (i === 0 || (state && i === 1)) [v, why] = [batch, 'batch'];
      else if (waveform && i === 1) [v, why] = [DEFAULT_AUDIO_SAMPLES, 'audio window default'];
      else if (layout && layout.channel === i) [v, why] = [3, 'image channels'];
      else if (layout && layout.spatial.includes(i)) [v, why] = image ? [image, 'image size from the model metadata'] : [DEFAULT_IMAGE, 'image default'];
      else [v, why] = [DEFAULT_SEQUENCE, isFloatType(spec.elemType) ? 'length default' : 'sequence default'];
      if (typeof d === 'string') byParam.set(d, v);
      notes.push(why === label ? `${label}=${v}` : `${label}=${v} (${why})`);
      return v;
    });
    return { name: spec.name, dims: out, notes, guessed: !spec.dims || dims.length === 0 || notes.length > 0 };
  });
}

/** Rank-4 float inputs are images: NCHW unless the last dim is a small fixed channel count. */
function imageLayout(spec: InputSpec): { channel: number; spatial: number[] } | undefined {
  const d = spec.dims;
  if (!d || d.length !== 4 || !isFloatType(spec.elemType)) return undefined;
  const small = (x: unknown) => typeof x === 'number' && x > 0 && x <= 4;
  if (small(d[3]) && !small(d[1])) return { channel: 3, spatial: [1, 2] };
  return { channel: 1, spatial: [2, 3] };
}

/** An image size the exporter wrote into the model's metadata (`image_size`, `input_size`, `img_size`, `resolution`, `height`). */
function imageSizeFromMetadata(proto: ModelProto): number | undefined {
  for (const p of proto.metadataProps ?? []) {
    if (!/^(image[_ ]?size|input[_ ]?size|img[_ ]?size|resolution|height)$/i.test(p.key)) continue;
    const m = /\d+/.exec(p.value);
    if (m && Number(m[0]) > 0) return Number(m[0]);
  }
  return undefined;
}

/** `ids [1, 128] (seq=128 (sequence default))`: one line per input for reports. */
export function describeProbeShapes(shapes: ProbeShape[], batchLabel = 'batch'): string {
  return shapes
    .map((s) => `${s.name} [${s.dims.join(', ')}]${s.notes.length ? ` (${s.notes.join(', ').replace('(batch)', `(${batchLabel})`)})` : ''}`)
    .join('; ');
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

/** The `.npy` element type for an input, undefined when probes cannot make one. */
export function npyTypeOfInput(spec: InputSpec): NpyDtype | undefined {
  return NPY_OF[spec.elemType];
}

/**
 * The array a user stated for an input (`--input NAME=...`), fed whole on every run: numbers fill
 * the input's probe shape (one number is repeated, a list must match the element count), a file is
 * read as it is.
 */
export function statedValue(spec: InputSpec, value: string, shape: number[]): NpyArray {
  const dtype = npyTypeOfInput(spec);
  if (!dtype) throw new InputError(`input '${spec.name}' has a type --input cannot fill`);
  if (/\.npy$/i.test(value) || fs.existsSync(value)) {
    if (!fs.existsSync(value)) throw new InputError(`--input ${spec.name}: file '${value}' does not exist`);
    const arr = readNpy(value);
    if (spec.dims && arr.shape.length !== spec.dims.length) {
      throw new InputError(`--input ${spec.name}=${value} has shape [${arr.shape.join(', ')}], the model expects rank ${spec.dims.length} [${spec.dims.map((d) => d ?? '?').join(', ')}]`);
    }
    return arr;
  }
  const numbers = value.split(',').map((s) => Number(s.trim()));
  if (numbers.some((n) => !Number.isFinite(n))) throw new InputError(`--input ${spec.name}=${value}: expected numbers (e.g. 16000 or 1,0,1) or a .npy file`);
  const count = shape.reduce((a, b) => a * b, 1);
  if (numbers.length !== 1 && numbers.length !== count) {
    throw new InputError(`--input ${spec.name}=${value}: ${numbers.length} numbers for shape [${shape.join(', ')}] (${count} elements); give one number, ${count}, or --input-shape`);
  }
  const at = (i: number) => numbers[numbers.length === 1 ? 0 : i]!;
  if (dtype !== 'float32' && dtype !== 'float64' && dtype !== 'float16' && numbers.some((n) => !Number.isInteger(n))) {
    throw new InputError(`--input ${spec.name}=${value}: the input is ${dtype}, give whole numbers`);
  }
  return { dtype, shape: [...shape], data: typedBytes(dtype, count, at) };
}

/** Little-endian bytes of `count` elements of `dtype`, element i being at(i). */
export function typedBytes(dtype: NpyDtype, count: number, at: (i: number) => number): Uint8Array {
  switch (dtype) {
    case 'float32':
      return new Uint8Array(Float32Array.from({ length: count }, (_, i) => at(i)).buffer);
    case 'float64':
      return new Uint8Array(Float64Array.from({ length: count }, (_, i) => at(i)).buffer);
    case 'float16':
      return new Uint8Array(Uint16Array.from({ length: count }, (_, i) => float32ToFloat16Bits(at(i))).buffer);
    case 'int64':
      return new Uint8Array(BigInt64Array.from({ length: count }, (_, i) => BigInt(at(i))).buffer);
    case 'int32':
      return new Uint8Array(Int32Array.from({ length: count }, (_, i) => at(i)).buffer);
    case 'int8':
      return new Uint8Array(Int8Array.from({ length: count }, (_, i) => at(i)).buffer);
    case 'uint8':
    case 'bool':
      return Uint8Array.from({ length: count }, (_, i) => at(i));
    default:
      throw new InputError(`cannot build a ${dtype} input from numbers`);
  }
}
