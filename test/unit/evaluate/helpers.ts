/** Shared by the evaluation tests: fixture paths, models built on the fly, an independent ORT oracle. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ortNode from 'onnxruntime-node';
import { loadModel } from '../../../src/core/onnx/model';
import { saveModel } from '../../../src/core/onnx/save';
import { floatTensor, readFloat32, tensorShape } from '../../../src/core/onnx/tensor';
import { makeGraph, makeModel, makeNode, makeValueInfo } from '../../../src/core/onnx/builder';
import { parseNpy } from '../../../src/core/data/npy';

export const FIXTURES = path.join(__dirname, '../../fixtures');
export const fixture = (name: string) => path.join(FIXTURES, name);
export const TEST_X = fixture('digits_test_x.npy');
export const TEST_Y = fixture('digits_test_y.npy');

/** A temporary folder, removed when the test process exits. */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `oq-${prefix}-`));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A copy of `source` with initializer `name` transformed value by value. */
export function withWeights(source: string, out: string, name: string, f: (v: number, i: number) => number): string {
  const m = loadModel(source);
  const g = m.proto.graph!;
  const i = g.initializer.findIndex((t) => t.name === name);
  if (i < 0) throw new Error(`no initializer ${name}`);
  const t = g.initializer[i]!;
  g.initializer[i] = floatTensor(t.name, tensorShape(t), Array.from(readFloat32(t), f));
  saveModel(m.proto, out, { force: true });
  return out;
}

/** Deterministic noise in [-1, 1). */
export function noise(seed: number): (i: number) => number {
  return (i) => {
    const x = Math.sin((i + 1) * 12.9898 + seed * 78.233) * 43758.5453;
    return 2 * (x - Math.floor(x)) - 1;
  };
}

/** Arg-max accuracy computed directly with onnxruntime-node, sample by sample (the oracle). */
export async function oracleAccuracy(modelPath: string, xPath: string, yPath: string): Promise<number> {
  const x = parseNpy(fs.readFileSync(xPath));
  const y = parseNpy(fs.readFileSync(yPath));
  const xs = new Float32Array(new Uint8Array(x.data).buffer);
  const ys = new BigInt64Array(new Uint8Array(y.data).buffer);
  const session = await ortNode.InferenceSession.create(modelPath);
  const per = x.shape.slice(1).reduce((a, b) => a * b, 1);
  let correct = 0;
  for (let s = 0; s < x.shape[0]!; s++) {
    const input = new ortNode.Tensor('float32', xs.slice(s * per, (s + 1) * per), [1, ...x.shape.slice(1)]);
    const out = (await session.run({ [session.inputNames[0]!]: input }))[session.outputNames[0]!]!.data as Float32Array;
    let best = 0;
    for (let j = 1; j < out.length; j++) if (out[j]! > out[best]!) best = j;
    if (BigInt(best) === ys[s]) correct++;
  }
  await session.release();
  return correct / x.shape[0]!;
}

/**
 * An MLP-like model (32 → 64 → 64 → 10, MatMul + Relu) whose middle MatMul holds a few huge
 * weights on a row that only ever meets zeros: they never change the output, but they stretch
 * the per-tensor quantization range so that every ordinary weight of that layer is lost.
 */
export function buildOutlierMlp(out: string): string {
  const n = noise(3);
  let k = 0;
  const w = (rows: number, cols: number, sd: number) => Array.from({ length: rows * cols }, () => n(k++) * sd * 1.7);
  const W1 = w(32, 64, 0.2);
  for (let r = 0; r < 32; r++) W1[r * 64] = -1; // inputs are ≥ 0: channel 0 after Relu is always 0
  const W2 = w(64, 64, 0.1);
  for (const j of [3, 17, 40]) W2[j] = 40; // row 0 of W2 meets channel 0
  const graph = makeGraph(
    [
      makeNode('MatMul', ['x', 'W1'], ['h1'], {}, { name: 'mm1' }),
      makeNode('Relu', ['h1'], ['a1'], {}, { name: 'relu1' }),
      makeNode('MatMul', ['a1', 'W2'], ['h2'], {}, { name: 'mm2_outlier' }),
      makeNode('Relu', ['h2'], ['a2'], {}, { name: 'relu2' }),
      makeNode('MatMul', ['a2', 'W3'], ['y'], {}, { name: 'mm3' }),
    ],
    'outlier_mlp',
    [makeValueInfo('x', 1, ['batch', 32])],
    [makeValueInfo('y', 1, ['batch', 10])],
    [floatTensor('W1', [32, 64], W1), floatTensor('W2', [64, 64], W2), floatTensor('W3', [64, 10], w(64, 10, 0.2))],
  );
  saveModel(makeModel(graph, { '': 17 }), out, { force: true });
  return out;
}

/** Does the quantizer exist yet? (Written concurrently by other engineers.) */
export function quantizerAvailable(): boolean {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return typeof (require('../../../src/core/quantize/index') as { quantizeFile?: unknown }).quantizeFile === 'function';
  } catch {
    return false;
  }
}
