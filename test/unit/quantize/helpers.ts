/** Running models in onnxruntime-node and comparing outputs, for the quantizer tests. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeNpy, npyToFloat32, readNpy } from '../../../src/core/data/npy';
import { parseModel } from '../../../src/core/onnx/model';
import type { ModelProto } from '../../../src/core/onnx/schema';
import { walkGraphs } from '../../../src/core/onnx/walk';
import { createSession, ort, type OrtTensor } from '../../../src/core/runtime/ort';

export const FIXTURES = path.join(__dirname, '../../fixtures');
export const fixture = (name: string) => path.join(FIXTURES, name);

export function tempDir(label = 'quantize'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `oq-${label}-`));
}

export interface Feed {
  type: 'float32' | 'int64' | 'bool';
  data: Float32Array | BigInt64Array | boolean[];
  dims: number[];
}

/** Run a model and return its first output as float32 values. */
export async function runModel(file: string, feeds: Record<string, Feed>, options: { optimizedModelFilePath?: string } = {}): Promise<Float32Array> {
  const session = await createSession(file, { threads: 1, ...options });
  try {
    const O = ort();
    const inputs: Record<string, OrtTensor> = {};
    for (const [name, f] of Object.entries(feeds)) inputs[name] = new O.Tensor(f.type, f.data as never, f.dims);
    const out = await session.run(inputs);
    const first = out[session.outputNames[0]!]!;
    return first.data as Float32Array;
  } finally {
    await session.release();
  }
}

let digits: { x: Float32Array; y: number[]; n: number } | undefined;
export function digitsTest(): { x: Float32Array; y: number[]; n: number } {
  if (!digits) {
    const x = readNpy(fixture('digits_test_x.npy'));
    const y = readNpy(fixture('digits_test_y.npy'));
    const labels = new BigInt64Array(y.data.buffer.slice(y.data.byteOffset, y.data.byteOffset + y.data.byteLength));
    digits = { x: npyToFloat32(x), y: Array.from(labels, Number), n: x.shape[0]! };
  }
  return digits;
}

export async function digitsLogits(file: string): Promise<Float32Array> {
  const d = digitsTest();
  return runModel(file, { image: { type: 'float32', data: d.x, dims: [d.n, 1, 8, 8] } });
}

/** Top-1 accuracy in percent on the digits test set. */
export function accuracy(logits: Float32Array, labels: number[], classes = 10): number {
  let right = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[i * classes + c]! > logits[i * classes + best]!) best = c;
    if (best === labels[i]) right++;
  }
  return (100 * right) / labels.length;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Signal-to-quantization-noise ratio in dB (20·log10(‖a‖/‖a−b‖)). */
export function sqnrDb(reference: ArrayLike<number>, other: ArrayLike<number>): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < reference.length; i++) {
    s += reference[i]! ** 2;
    n += (reference[i]! - other[i]!) ** 2;
  }
  return 10 * Math.log10(s / Math.max(n, 1e-30));
}

/** Op types ORT's optimiser made of a model (session at level 'all', optimized graph saved and parsed). */
export async function optimizedOpCounts(file: string): Promise<Map<string, number>> {
  const proto = await optimizedModel(file);
  const counts = new Map<string, number>();
  for (const n of proto.graph!.node) counts.set(n.opType, (counts.get(n.opType) ?? 0) + 1);
  return counts;
}

/** The graph ORT's optimiser made of a model (session at level 'all'), bodies of If/Loop/Scan included. */
export async function optimizedModel(file: string): Promise<ModelProto> {
  const dir = tempDir('opt');
  try {
    const opt = path.join(dir, 'optimized.onnx');
    const session = await createSession(file, { optimizedModelFilePath: opt, threads: 1 });
    await session.release();
    return parseModel(fs.readFileSync(opt), opt);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Op types of the nodes inside If/Loop/Scan bodies (any depth), contrib ops as `domain.Op`. */
export function bodyOpCounts(proto: ModelProto): Map<string, number> {
  const counts = new Map<string, number>();
  if (!proto.graph) return counts;
  for (const { graph, depth } of walkGraphs(proto.graph)) {
    if (depth === 0) continue;
    for (const n of graph.node) {
      const op = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType;
      counts.set(op, (counts.get(op) ?? 0) + 1);
    }
  }
  return counts;
}

export function opCounts(file: string): Map<string, number> {
  const proto = parseModel(fs.readFileSync(file), file);
  const counts = new Map<string, number>();
  for (const n of proto.graph!.node) counts.set(n.opType, (counts.get(n.opType) ?? 0) + 1);
  return counts;
}

/** The digits calibration set dimmed 20×: activation ranges far narrower than real digits have. */
export function unlikeCalibration(file: string): string {
  const calib = readNpy(fixture('digits_calib_x.npy'));
  const x = Float32Array.from(new Float32Array(new Uint8Array(calib.data).buffer), (v) => v * 0.05);
  fs.writeFileSync(file, encodeNpy({ dtype: 'float32', shape: calib.shape, data: new Uint8Array(x.buffer) }));
  return file;
}
