/**
 * GPTQ-style error compensation for weight-only MatMulNBits (Frantar et al., 2022): the rows of a
 * [K, N] weight are quantized in order along K, and each row's rounding error is spread over the
 * rows not yet quantized, weighted by the inverse of the input's second-moment matrix H = XᵀX
 * measured on calibration data. The output error on those inputs falls, not only the weight
 * error. Each block's scale and zero point are chosen when the block is reached, from the weights
 * as the earlier rows' compensation left them (as in GPTQ with groups along K).
 *
 * H is computed by ONNX Runtime itself: each activation tensor A gets Reshape(A, [-1, K]) →
 * Transpose → MatMul as extra graph outputs, so only K×K floats per tensor come back per batch.
 */
import { create } from '@bufbuild/protobuf';
import { throwIfCancelled, WorkError } from '../errors';
import { makeNode, makeValueInfo } from '../onnx/builder';
import { DataType } from '../onnx/dtype';
import type { OnnxModel } from '../onnx/model';
import { GraphProtoSchema, ModelProtoSchema, type ModelProto, type NodeProto, type TensorProto } from '../onnx/schema';
import { makeTensor } from '../onnx/tensor';
import type { JobContext } from '../progress';
import { afterProducers, planSlices, runOnce, type CalibrationTarget } from '../calibrate/run';
import { sessionOf } from '../calibrate/stages';
import { batchCount, batches, type CalibrationData } from '../calibrate/data';
import { formatBytes } from '../report/format';

/** What GPTQ measured for one activation tensor: XᵀX (float64, row-major [K, K]) over `rows` rows of X. */
export interface Gram {
  xtx: Float64Array;
  rows: number;
}

/** An activation tensor (MatMul's A, by `name`) whose K features are the weight's K rows. */
export interface GramTarget extends CalibrationTarget {
  K: number;
}

/**
 * Calibration samples GPTQ leaves out of its statistics, the last quarter (none below 4 samples):
 * the result's fidelity is measured on them, samples the compensation never fitted.
 */
export function gptqHeldOut(samples: number): number {
  return samples >= 4 ? Math.floor(samples / 4) : 0;
}

/** Dampening added to H's diagonal, as a share of its mean (GPTQ's default). */
const DAMP = 0.01;

/** Bytes of one target's exposed K×K output per run, held twice (ONNX Runtime's buffer and the copy handed over). */
const gramBytes = (K: number): number => 2 * 4 * K * K;

/** A copy of the model that also outputs XᵀX (float32 [K, K]) of each target, X = the target reshaped to [-1, K]. */
function gramModel(proto: ModelProto, targets: GramTarget[]): { model: ModelProto; outputs: { gram: string; count: string }[] } {
  const graph = proto.graph;
  if (!graph) throw new WorkError('the model has no graph to calibrate');
  const reshapes: NodeProto[] = [];
  // Transpose and Shape read the reshaped rows; the MatMul reads the Transpose.
  const ofRows: NodeProto[] = [];
  const products: NodeProto[] = [];
  const shapes: TensorProto[] = [];
  const outputs: { gram: string; count: string }[] = [];
  targets.forEach((t, i) => {
    const base = `${t.name}__gptq_${i}`;
    const shape = `${base}_shape`;
    shapes.push(makeTensor(shape, DataType.INT64, [2], new Uint8Array(BigInt64Array.from([-1n, BigInt(t.K)]).buffer)));
    reshapes.push(makeNode('Reshape', [t.name, shape], [`${base}_rows`], {}, { name: `${base}_rows` }));
    ofRows.push(makeNode('Transpose', [`${base}_rows`], [`${base}_cols`], { perm: [1, 0] }, { name: `${base}_cols` }));
    products.push(makeNode('MatMul', [`${base}_cols`, `${base}_rows`], [`${base}_gram`], {}, { name: `${base}_gram` }));
    // [rows, K]: how many rows this batch gave.
    ofRows.push(makeNode('Shape', [`${base}_rows`], [`${base}_count`], {}, { name: `${base}_count` }));
    outputs.push({ gram: `${base}_gram`, count: `${base}_count` });
  });
  // Each added node right after what it reads, so every activation is freed as in plain inference.
  const node = afterProducers(afterProducers(afterProducers(graph.node, reshapes), ofRows), products);
  const output = [
    ...graph.output,
    ...targets.flatMap((t, i) => [makeValueInfo(outputs[i]?.gram ?? '', DataType.FLOAT, [t.K, t.K]), makeValueInfo(outputs[i]?.count ?? '', DataType.INT64, [2])]),
  ];
  const newGraph = create(GraphProtoSchema, { ...graph, node, initializer: [...graph.initializer, ...shapes], output });
  return { model: create(ModelProtoSchema, { ...proto, graph: newGraph }), outputs };
}

export interface GramOptions {
  batchSize: number;
  /** Bytes the exposed K×K outputs of one session may take; more targets are run in further passes. */
  memoryBudget: number;
  threads?: number;
}

/** XᵀX of each target over every calibration sample, by tensor name. */
export async function collectGrams(model: OnnxModel, proto: ModelProto, targets: GramTarget[], data: CalibrationData, options: GramOptions, ctx: JobContext = {}): Promise<Map<string, Gram>> {
  const grams = new Map<string, Gram>();
  const slices = planSlices(targets, new Map(targets.map((t) => [t.name, gramBytes(t.K)])), Math.max(options.memoryBudget / 2, 1));
  const perSlice = batchCount(data, options.batchSize);
  const total = slices.length * perSlice;
  ctx.log?.(`GPTQ: second moments of ${targets.length} activation tensor(s) over ${data.samples} sample(s), ${slices.length} pass(es) (${formatBytes(targets.reduce((s, t) => s + 8 * t.K * t.K, 0))} of statistics)`);
  let done = 0;
  for (const slice of slices) {
    throwIfCancelled(ctx.signal);
    const { model: withGrams, outputs } = gramModel(proto, slice);
    const session = await sessionOf(withGrams, model, options.threads ?? 0);
    try {
      for (const batch of batches(data, options.batchSize)) {
        throwIfCancelled(ctx.signal);
        const results = await runOnce(session, batch, outputs.flatMap((o) => [o.gram, o.count]));
        slice.forEach((t, i) => {
          const out = results[outputs[i]?.gram ?? ''];
          const count = results[outputs[i]?.count ?? ''];
          if (!out || !count) throw new WorkError(`GPTQ: ONNX Runtime returned no statistics for '${t.name}'`);
          const values = out.data as Float32Array;
          let acc = grams.get(t.name);
          if (!acc) grams.set(t.name, (acc = { xtx: new Float64Array(t.K * t.K), rows: 0 }));
          const xtx = acc.xtx;
          for (let j = 0; j < values.length; j++) xtx[j] = (xtx[j] ?? 0) + (values[j] ?? 0);
          acc.rows += Number((count.data as BigInt64Array)[0] ?? 0n);
        });
        done++;
        ctx.onProgress?.({ stage: 'calibrating', fraction: done / Math.max(total, 1), message: `GPTQ statistics: ${done}/${total} batch(es)` });
      }
    } finally {
      await session.release();
    }
  }
  return grams;
}

/** In-place lower Cholesky factor of a symmetric positive-definite [K, K] matrix; false when it is not positive definite. */
function choleskyLower(a: Float64Array, K: number): boolean {
  for (let j = 0; j < K; j++) {
    let d = a[j * K + j] ?? 0;
    for (let p = 0; p < j; p++) d -= (a[j * K + p] ?? 0) * (a[j * K + p] ?? 0);
    if (!(d > 0)) return false;
    const ljj = Math.sqrt(d);
    a[j * K + j] = ljj;
    for (let i = j + 1; i < K; i++) {
      let s = a[i * K + j] ?? 0;
      for (let p = 0; p < j; p++) s -= (a[i * K + p] ?? 0) * (a[j * K + p] ?? 0);
      a[i * K + j] = s / ljj;
    }
    for (let p = j + 1; p < K; p++) a[j * K + p] = 0;
  }
  return true;
}

/** Inverse of a lower-triangular matrix (lower-triangular), row by row so every inner loop reads memory in order. */
function invertLower(l: Float64Array, K: number): Float64Array {
  const inv = new Float64Array(K * K);
  const acc = new Float64Array(K);
  for (let i = 0; i < K; i++) {
    acc.fill(0, 0, i);
    for (let p = 0; p < i; p++) {
      const lip = l[i * K + p] ?? 0;
      if (lip === 0) continue;
      const row = p * K;
      for (let j = 0; j <= p; j++) acc[j] = (acc[j] ?? 0) + lip * (inv[row + j] ?? 0);
    }
    const d = l[i * K + i] ?? 0;
    for (let j = 0; j < i; j++) inv[i * K + j] = -(acc[j] ?? 0) / d;
    inv[i * K + i] = 1 / d;
  }
  return inv;
}

/**
 * The upper Cholesky factor U of H⁻¹ (H⁻¹ = UᵀU) after dampening, and the rows whose input was
 * always zero (their weights never matter). Dampening is raised until H is positive definite.
 * With J the reversal of rows and columns and L the lower Cholesky factor of JHJ, H = RRᵀ with
 * R = JLJ upper, so H⁻¹ = R⁻ᵀR⁻¹ and U = R⁻¹ = J L⁻¹ J: one factorization and one inverse.
 */
export function inverseFactor(gram: Float64Array, K: number): { U: Float64Array; dead: boolean[] } {
  const dead = Array.from({ length: K }, (_, k) => !((gram[k * K + k] ?? 0) > 0));
  let mean = 0;
  for (let k = 0; k < K; k++) mean += dead[k] ? 1 : gram[k * K + k] ?? 0;
  mean /= K;
  const last = K - 1;
  for (let damp = DAMP; damp <= 1e6; damp *= 10) {
    const h = new Float64Array(K * K);
    for (let i = 0; i < K; i++) {
      for (let j = 0; j < K; j++) h[(last - i) * K + (last - j)] = dead[i] || dead[j] ? 0 : (gram[i * K + j] ?? 0);
      h[(last - i) * K + (last - i)] = (dead[i] ? 1 : (gram[i * K + i] ?? 0)) + damp * mean;
    }
    if (!choleskyLower(h, K)) continue;
    const li = invertLower(h, K);
    const U = new Float64Array(K * K);
    for (let i = 0; i < K; i++) for (let j = 0; j <= i; j++) U[(last - i) * K + (last - j)] = li[i * K + j] ?? 0;
    return { U, dead };
  }
  throw new WorkError('GPTQ: the calibration activations give no usable second-moment matrix');
}

/**
 * Row compensation for quantizeBlocks on the row-major [K, N] weight `w` (modified in place):
 * after row k is rounded with error r = w[k] − dequantized, every later row j gets
 * w[j] −= r / U[k,k] · U[k,j]. Rows whose input is always zero are set to 0 first.
 */
export function gptqCompensator(gram: Float64Array, K: number, N: number, w: Float32Array): (k: number, residual: Float64Array) => void {
  const { U, dead } = inverseFactor(gram, K);
  for (let k = 0; k < K; k++) if (dead[k]) w.fill(0, k * N, (k + 1) * N);
  const e = new Float64Array(N);
  return (k, residual) => {
    const d = U[k * K + k] ?? 0;
    for (let n = 0; n < N; n++) e[n] = (residual[n] ?? 0) / d;
    for (let j = k + 1; j < K; j++) {
      const c = U[k * K + j] ?? 0;
      if (c === 0) continue;
      const row = j * N;
      for (let n = 0; n < N; n++) w[row + n] = (w[row + n] ?? 0) - (e[n] ?? 0) * c;
    }
  };
}
