/**
 * Debian's ONNX backend test models (package libonnx-testdata): where they are, their test data
 * sets (TensorProto files input_N.pb / output_N.pb) as ONNX Runtime feeds, and those inputs
 * written as a calibration folder of INPUTNAME.npy files.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { fileNameForInput } from '../../src/core/calibrate/data';
import { encodeNpy, type NpyDtype } from '../../src/core/data/npy';
import { alignedCopy, graphInputs, npyElements } from '../../src/core/data/inputs';
import { DataType } from '../../src/core/onnx/dtype';
import { TensorProtoSchema, type GraphProto, type TensorProto } from '../../src/core/onnx/schema';
import { tensorBytes, tensorShape } from '../../src/core/onnx/tensor';
import { ort, type OrtTensor } from '../../src/core/runtime/ort';

export const BACKEND_ROOT = process.env.ONNX_BACKEND_DATA ?? '/usr/share/libonnx-testdata/data';
export const BACKEND_GROUPS = ['node', 'pytorch-converted', 'pytorch-operator', 'simple', 'real'] as const;

export interface BackendModel {
  /** group/test name, e.g. "node/test_abs". */
  id: string;
  group: string;
  dir: string;
  model: string;
  dataSets: string[];
}

/** Every backend test that ships a model.onnx (the "real" group only lists download URLs), sorted by id. */
export function listBackendModels(root = BACKEND_ROOT): BackendModel[] {
  const out: BackendModel[] = [];
  for (const group of BACKEND_GROUPS) {
    const groupDir = path.join(root, group);
    if (!fs.existsSync(groupDir)) continue;
    for (const name of fs.readdirSync(groupDir).sort()) {
      const dir = path.join(groupDir, name);
      const model = path.join(dir, 'model.onnx');
      if (!fs.existsSync(model)) continue;
      const dataSets = fs
        .readdirSync(dir)
        .filter((d) => d.startsWith('test_data_set_'))
        .sort()
        .map((d) => path.join(dir, d));
      out.push({ id: `${group}/${name}`, group, dir, model, dataSets });
    }
  }
  return out;
}

/** The input TensorProtos of one data set (input_0.pb, input_1.pb, ...), in file order. */
export function readDataSetInputs(dataSet: string): TensorProto[] {
  const files = fs
    .readdirSync(dataSet)
    .filter((f) => /^input_\d+\.pb$/.test(f))
    .sort((a, b) => parseInt(a.slice('input_'.length), 10) - parseInt(b.slice('input_'.length), 10));
  return files.map((f) => fromBinary(TensorProtoSchema, fs.readFileSync(path.join(dataSet, f))));
}

const ORT_TYPE: Partial<Record<number, string>> = {
  [DataType.FLOAT]: 'float32',
  [DataType.DOUBLE]: 'float64',
  [DataType.FLOAT16]: 'float16',
  [DataType.INT64]: 'int64',
  [DataType.UINT64]: 'uint64',
  [DataType.INT32]: 'int32',
  [DataType.UINT32]: 'uint32',
  [DataType.INT16]: 'int16',
  [DataType.UINT16]: 'uint16',
  [DataType.INT8]: 'int8',
  [DataType.UINT8]: 'uint8',
  [DataType.BOOL]: 'bool',
};

const NPY_TYPE: Partial<Record<number, NpyDtype>> = {
  [DataType.FLOAT]: 'float32',
  [DataType.DOUBLE]: 'float64',
  [DataType.FLOAT16]: 'float16',
  [DataType.INT64]: 'int64',
  [DataType.INT32]: 'int32',
  [DataType.INT16]: 'int16',
  [DataType.INT8]: 'int8',
  [DataType.UINT8]: 'uint8',
  [DataType.UINT16]: 'uint16',
  [DataType.UINT32]: 'uint32',
  [DataType.UINT64]: 'uint64',
  [DataType.BOOL]: 'bool',
};

/** Why a data set cannot be fed as plain tensors (sequence/optional inputs, unsupported types), or undefined. */
export function unfeedableReason(graph: GraphProto, inputs: TensorProto[]): string | undefined {
  const specs = graph.input.filter((v) => !graph.initializer.some((t) => t.name === v.name));
  for (const v of specs) if (v.type?.value.case !== 'tensorType') return `input '${v.name}' is a ${v.type?.value.case ?? 'untyped value'}, not a tensor`;
  if (inputs.length > specs.length) return `${inputs.length} input files for ${specs.length} graph inputs`;
  for (const t of inputs) {
    if (t.dataType !== DataType.STRING && !ORT_TYPE[t.dataType]) return `input of ONNX type ${t.dataType}`;
  }
  return undefined;
}

/** Graph input name for each input file: the file's own name when it is one, else by position. */
export function inputNames(graph: GraphProto, inputs: TensorProto[]): string[] {
  const names = graphInputs(graph).map((s) => s.name);
  const own = inputs.map((t) => t.name);
  if (own.every((n) => names.includes(n)) && new Set(own).size === own.length) return own;
  return names.slice(0, inputs.length);
}

export function toOrtTensor(t: TensorProto): OrtTensor {
  const O = ort();
  const dims = tensorShape(t);
  if (t.dataType === DataType.STRING) return new O.Tensor('string', t.stringData.map((b) => new TextDecoder().decode(b)), dims);
  const type = ORT_TYPE[t.dataType];
  const npy = NPY_TYPE[t.dataType];
  if (!type || !npy) throw new Error(`tensor '${t.name}': ONNX type ${t.dataType} has no ONNX Runtime tensor type here`);
  return new O.Tensor(type as 'float32', npyElements(npy, alignedCopy(tensorBytes(t))) as Float32Array, dims);
}

/**
 * Write the data sets' inputs as a calibration folder (INPUTNAME.npy, samples on the first axis):
 * the sets are concatenated along axis 0 when their shapes allow it, else the first set alone.
 * Returns why not when an input cannot be calibration data (a scalar, strings, an unsupported type).
 */
export function writeCalibrationFolder(graph: GraphProto, dataSets: TensorProto[][], folder: string): string | undefined {
  const first = dataSets[0];
  if (!first) return 'no test data set';
  const names = inputNames(graph, first);
  if (graphInputs(graph).length !== first.length) return `the test feeds ${first.length} of ${graphInputs(graph).length} graph inputs`;
  if (first.some((t) => t.dims.length > 0 && t.dims[0] !== first[0]?.dims[0])) return 'the inputs do not share a first (sample) axis';
  fs.mkdirSync(folder, { recursive: true });
  const sameRest = (a: TensorProto, b: TensorProto) => a.dims.length === b.dims.length && a.dims.every((d, i) => i === 0 || d === b.dims[i]);
  const usable = dataSets.filter((set) => set.length === first.length && set.every((t, i) => t.dataType === first[i]?.dataType && sameRest(t, first[i] ?? t)));
  for (const [i, t] of first.entries()) {
    const dtype = NPY_TYPE[t.dataType];
    if (!dtype) return `input '${names[i]}' has ONNX type ${t.dataType}, which .npy calibration files do not carry here`;
    if (t.dims.length === 0) return `input '${names[i]}' is a scalar (no sample axis)`;
    const column = usable.map((set) => set[i] ?? t);
    const parts = column.map((x) => tensorBytes(x));
    const data = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      data.set(p, at);
      at += p.length;
    }
    const shape = tensorShape(t);
    shape[0] = column.reduce((n, x) => n + Number(x.dims[0]), 0);
    fs.writeFileSync(path.join(folder, fileNameForInput(names[i] ?? t.name)), encodeNpy({ dtype, shape, data }));
  }
  return undefined;
}
