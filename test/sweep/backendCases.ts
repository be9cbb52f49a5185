/**
 * Debian's ONNX backend test models (package libonnx-testdata): each folder holds model.onnx and
 * test_data_set_N/{input,output}_K.pb TensorProto files. Loads a case, runs a model on its inputs
 * in ONNX Runtime and compares outputs with the backend suite's tolerance.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { parseModel } from '../../src/core/onnx/model';
import { modelToBytes } from '../../src/core/onnx/save';
import { TensorProtoSchema, type ModelProto, type TensorProto } from '../../src/core/onnx/schema';
import { createSession, type OrtTensor } from '../../src/core/runtime/ort';
import { BACKEND_ROOT, toOrtTensor } from './backendData';

export const TESTDATA_SUITES = ['node', 'pytorch-converted', 'pytorch-operator', 'simple'] as const;

export interface BackendCase {
  /** "suite/name", e.g. "node/test_softmax_axis_0". */
  id: string;
  dir: string;
  model: ModelProto;
  /** Input and expected output tensors of test_data_set_0, by graph input/output order. */
  inputs: TensorProto[];
  outputs: TensorProto[];
}

export function testdataInstalled(): boolean {
  return fs.existsSync(path.join(BACKEND_ROOT, 'node'));
}

/** Every case folder of the given suites that has a model and a first data set. */
export function listCases(suites: readonly string[] = TESTDATA_SUITES): string[] {
  const out: string[] = [];
  for (const suite of suites) {
    const root = path.join(BACKEND_ROOT, suite);
    if (!fs.existsSync(root)) continue;
    for (const name of fs.readdirSync(root).sort()) {
      if (fs.existsSync(path.join(root, name, 'model.onnx')) && fs.existsSync(path.join(root, name, 'test_data_set_0'))) out.push(`${suite}/${name}`);
    }
  }
  return out;
}

const readPb = (file: string) => fromBinary(TensorProtoSchema, fs.readFileSync(file));

export function loadCase(id: string): BackendCase {
  const dir = path.join(BACKEND_ROOT, id);
  const model = parseModel(fs.readFileSync(path.join(dir, 'model.onnx')), id);
  const set = path.join(dir, 'test_data_set_0');
  const files = (prefix: string) =>
    fs
      .readdirSync(set)
      .filter((f) => f.startsWith(prefix) && f.endsWith('.pb'))
      .sort((a, b) => parseInt(a.slice(prefix.length), 10) - parseInt(b.slice(prefix.length), 10))
      .map((f) => readPb(path.join(set, f)));
  return { id, dir, model, inputs: files('input_'), outputs: files('output_') };
}

/** Feeds for the model's real inputs (initializers listed as inputs are not fed). */
export function feedsFor(model: ModelProto, inputs: TensorProto[]): Record<string, OrtTensor> {
  const inits = new Set((model.graph?.initializer ?? []).map((t) => t.name));
  const names = (model.graph?.input ?? []).map((v) => v.name).filter((n) => !inits.has(n));
  const feeds: Record<string, OrtTensor> = {};
  names.forEach((name, i) => {
    const input = inputs[i];
    if (input) feeds[name] = toOrtTensor(input);
  });
  return feeds;
}

/** Run `model` (in memory) on feeds; outputs in graph output order. */
export async function runProto(model: ModelProto, feeds: Record<string, OrtTensor>): Promise<OrtTensor[]> {
  const session = await createSession(modelToBytes(model), { threads: 1 });
  try {
    const result = await session.run(feeds);
    return session.outputNames.map((n) => {
      const t = result[n];
      if (!t) throw new Error(`ONNX Runtime returned no output '${n}'`);
      return t;
    });
  } finally {
    await session.release();
  }
}

/** The difference between an output and its expected value, or undefined when they agree (rtol 1e-3, atol 1e-7 like ONNX's backend tests). */
export function outputMismatch(actual: OrtTensor, expected: TensorProto | OrtTensor, rtol = 1e-3, atol = 1e-7): string | undefined {
  const exp = 'dataType' in expected ? toOrtTensor(expected) : expected;
  if (actual.dims.join(',') !== exp.dims.join(',')) return `shape [${actual.dims.join(', ')}] instead of [${exp.dims.join(', ')}]`;
  const a = actual.data as ArrayLike<number | bigint | string | boolean>;
  const e = exp.data as ArrayLike<number | bigint | string | boolean>;
  for (let i = 0; i < e.length; i++) {
    const x = a[i];
    const y = e[i];
    if (typeof y === 'number' && typeof x === 'number') {
      if (Number.isNaN(y) && Number.isNaN(x)) continue;
      if (x === y || Math.abs(x - y) <= atol + rtol * Math.abs(y)) continue;
      return `element ${i} is ${x} instead of ${y}`;
    }
    if (x !== y) return `element ${i} is ${String(x)} instead of ${String(y)}`;
  }
  return undefined;
}
