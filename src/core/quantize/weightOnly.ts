/**
 * Weight-only block quantization: MatMul / Gemm with a constant [K, N] float weight →
 * com.microsoft.MatMulNBits, embedding Gathers → com.microsoft.GatherBlockQuantized (4 or 8 bits, blocks along K). Layout and arithmetic follow ORT's
 * packer (reference §1.9, §6.5): B uint8 [N, k_blocks, block_size·bits/8] (column-major blocks,
 * K zero-padded, element 2i in the low nibble), scales float32 [N, k_blocks], zero points packed
 * (asymmetric) or omitted (symmetric: implicit 2^(bits−1)); MLAS rounds half away from zero
 * and multiplies by the reciprocal of the scale.
 */
import { attrFloat, attrInt, makeNode } from '../onnx/builder';
import { DataType, dtypeName } from '../onnx/dtype';
import type { OnnxModel } from '../onnx/model';
import type { ExternalDataWriter } from '../onnx/save';
import type { ModelProto, NodeProto } from '../onnx/schema';
import { floatTensor, makeTensor, tensorShape } from '../onnx/tensor';
import type { JobContext } from '../progress';
import { RewriteDriver, type Handlers, type OpHandler, type Rewrite, type RewriteContext } from './driver';
import { nodeName, type EngineResult, type NodeSelection, type ResolvedOptions } from './selection';
import { modeOps } from '../onnx/op-rules';
import { indexModel } from '../onnx/graph-index';
import { loadCalibrationData, modelInputs } from '../calibrate/data';
import { collectGrams, gptqCompensator, gptqHeldOut, type Gram, type GramTarget } from './gptq';

const MS = 'com.microsoft';

export interface BlockQuantized {
  /** uint8 [N, kBlocks, blockSize·bits/8]. */
  data: Uint8Array;
  /** float32 [N, kBlocks]. */
  scales: Float32Array;
  /** Packed uint8 [N, ceil(kBlocks·bits/8)] when asymmetric. */
  zeroPoints: Uint8Array | undefined;
  kBlocks: number;
}

/** C roundf: half away from zero. */
function roundAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/** Called after row k of the weight is rounded, with w[k] − dequantized per column; may change the rows after k (GPTQ). */
export type RowCompensation = (k: number, residual: Float64Array) => void;

/**
 * Block-quantize a row-major [K, N] weight for MatMulNBits. Each output column n gets
 * ceil(K / blockSize) blocks along K. Rows are read in order, each block's range when the block is
 * reached, so `compensate` may change rows not yet read.
 */
export function quantizeBlocks(
  w: ArrayLike<number>,
  K: number,
  N: number,
  bits: 4 | 8,
  blockSize: number,
  symmetric: boolean,
  clipping: WeightClipping = 'none',
  compensate?: RowCompensation,
): BlockQuantized {
  const kBlocks = Math.ceil(K / blockSize);
  const blob = (blockSize * bits) / 8;
  const qmax = (1 << bits) - 1;
  const mid = 1 << (bits - 1);
  const data = new Uint8Array(N * kBlocks * blob);
  const scales = new Float32Array(N * kBlocks);
  const zpBytesPerRow = Math.ceil((kBlocks * bits) / 8);
  const zeroPoints = symmetric ? undefined : new Uint8Array(N * zpBytesPerRow);
  // Block row by block row, reading the [K, N] weight sequentially (column-wise reads of a big
  // row-major matrix would miss the cache on every element).
  const lo = new Float64Array(N);
  const hi = new Float64Array(N);
  const ext = new Float64Array(N); // symmetric: signed value of largest magnitude
  const zps = new Int32Array(N);
  const invs = new Float32Array(N);
  const residual = compensate ? new Float64Array(N) : undefined;
  for (let b = 0; b < kBlocks; b++) {
    const k0 = b * blockSize;
    const len = Math.min(blockSize, K - k0);
    lo.fill(0);
    hi.fill(0);
    ext.fill(0);
    for (let i = 0; i < len; i++) {
      const row = (k0 + i) * N;
      for (let n = 0; n < N; n++) {
        const v = w[row + n]!;
        if (symmetric) {
          if (Math.abs(v) > Math.abs(ext[n]!)) ext[n] = v;
        } else {
          if (v < lo[n]!) lo[n] = v;
          if (v > hi[n]!) hi[n] = v;
        }
      }
    }
    if (clipping === 'mse') shrinkRanges(w, k0, len, N, bits, symmetric, lo, hi, ext);
    for (let n = 0; n < N; n++) {
      let scale: number;
      let zp: number;
      if (symmetric) {
        // The signed value of largest magnitude maps exactly to -2^(bits-1).
        scale = Math.fround(ext[n]! / -mid);
        zp = mid;
      } else {
        scale = Math.fround((hi[n]! - lo[n]!) / qmax);
        zp = scale !== 0 ? Math.min(qmax, Math.max(0, roundAway(Math.fround(-lo[n]! / scale)))) : 0;
      }
      scales[n * kBlocks + b] = scale;
      zps[n] = zp;
      invs[n] = scale !== 0 ? Math.fround(1 / scale) : 0;
      if (zeroPoints) {
        if (bits === 8) zeroPoints[n * zpBytesPerRow + b] = zp;
        else zeroPoints[n * zpBytesPerRow + (b >> 1)]! |= b & 1 ? zp << 4 : zp;
      }
    }
    for (let i = 0; i < blockSize; i++) {
      const row = (k0 + i) * N;
      const pad = i >= len; // K padding: value 0
      const byteInBlob = bits === 8 ? i : i >> 1;
      const shift = bits === 4 && i & 1 ? 4 : 0;
      for (let n = 0; n < N; n++) {
        const v = pad ? 0 : w[row + n]!;
        const q = Math.min(qmax, Math.max(0, roundAway(Math.fround(Math.fround(v * invs[n]!) + zps[n]!))));
        data[(n * kBlocks + b) * blob + byteInBlob]! |= q << shift;
        if (residual) residual[n] = v - (q - (zps[n] ?? 0)) * (scales[n * kBlocks + b] ?? 0);
      }
      if (compensate && residual && !pad) compensate(k0 + i, residual);
    }
  }
  return { data, scales, zeroPoints, kBlocks };
}

/**
 * How each block's range is chosen: 'none' is round-to-nearest over the block's full min/max;
 * 'mse' shrinks the range by the factor (1, 0.95, …, 0.5), then each end alone, then a least-squares scale, that gives the block the least squared
 * error after rounding: clipping a few outliers buys a finer step for all other values.
 */
export type WeightClipping = 'none' | 'mse';

const SHRINK_STEPS = 11;
const SHRINK_MIN = 0.5;

/** Squared rounding error of one block (its `len` values in `col`) at this scale and zero point, rounded as quantizeBlocks rounds. */
function blockError(col: Float64Array, len: number, scale: number, zp: number, qmax: number): number {
  if (scale === 0) return 0;
  // In float64 with Math.round (equal to half-away-from-zero once clamped at 0): a search criterion, not the final rounding.
  const inv = 1 / scale;
  let err = 0;
  for (let i = 0; i < len; i++) {
    const v = col[i] ?? 0;
    let q = Math.round(v * inv + zp);
    q = q < 0 ? 0 : q > qmax ? qmax : q;
    const d = (q - zp) * scale - v;
    err += d * d;
  }
  return err;
}

/** blockError at range [lo, hi], with the scale and zero point quantizeBlocks derives from it. */
function asymmetricError(col: Float64Array, len: number, lo: number, hi: number, qmax: number): number {
  const scale = Math.fround((hi - lo) / qmax);
  const zp = scale !== 0 ? Math.min(qmax, Math.max(0, roundAway(Math.fround(-lo / scale)))) : 0;
  return blockError(col, len, scale, zp, qmax);
}

/** Per column of one block row: scale lo/hi (symmetric: ext) down by the factor of least error. */
function shrinkRanges(w: ArrayLike<number>, k0: number, len: number, N: number, bits: 4 | 8, symmetric: boolean, lo: Float64Array, hi: Float64Array, ext: Float64Array): void {
  const qmax = (1 << bits) - 1;
  const mid = 1 << (bits - 1);
  const col = new Float64Array(len);
  for (let n = 0; n < N; n++) {
    for (let i = 0; i < len; i++) col[i] = w[(k0 + i) * N + n] ?? 0;
    const l = lo[n] ?? 0;
    const h = hi[n] ?? 0;
    const x = ext[n] ?? 0;
    const errorAt = (f: number): number =>
      symmetric ? blockError(col, len, Math.fround((x * f) / -mid), mid, qmax) : asymmetricError(col, len, l * f, h * f, qmax);
    let best = 1;
    let bestErr = errorAt(1);
    for (let s = 1; s < SHRINK_STEPS && bestErr > 0; s++) {
      const f = 1 - ((1 - SHRINK_MIN) * s) / (SHRINK_STEPS - 1);
      const e = errorAt(f);
      if (e < bestErr) {
        bestErr = e;
        best = f;
      }
    }
    // Asymmetric blocks: then each end alone (a block's outliers are often on one side).
    let fl = best;
    let fh = best;
    if (!symmetric) {
      for (const end of ['hi', 'lo'] as const) {
        for (let s = 1; s < SHRINK_STEPS; s++) {
          const f = best * (1 - ((1 - SHRINK_MIN) * s) / (SHRINK_STEPS - 1));
          const e = asymmetricError(col, len, end === 'lo' ? l * f : l * fl, end === 'hi' ? h * f : h * fh, qmax);
          if (e < bestErr) {
            bestErr = e;
            if (end === 'lo') fl = f;
            else fh = f;
          }
        }
      }
    }
    // Then the least-squares step for the codes that range gives (zero point kept), a few times:
    // s = Σ v·(q−zp) / Σ (q−zp)², re-rounded, kept while the error falls.
    let scale = symmetric ? Math.fround((x * best) / -mid) : Math.fround((h * fh - l * fl) / qmax);
    let zp = symmetric ? mid : scale !== 0 ? Math.min(qmax, Math.max(0, roundAway(Math.fround((-l * fl) / scale)))) : 0;
    // Asymmetric blocks also try the neighbouring zero points.
    const zps = symmetric ? [0] : [0, -1, 1];
    for (let it = 0; it < REFINE_STEPS && scale !== 0; it++) {
      let improved = false;
      const inv = Math.fround(1 / scale);
      for (const dz of zps) {
        const z = zp + dz;
        if (z < 0 || z > qmax) continue;
        let num = 0;
        let den = 0;
        for (let i = 0; i < len; i++) {
          const v = col[i] ?? 0;
          const c = Math.min(qmax, Math.max(0, roundAway(Math.fround(Math.fround(v * inv) + z)))) - z;
          num += v * c;
          den += c * c;
        }
        const next = den > 0 ? Math.fround(num / den) : scale;
        const e = blockError(col, len, next, z, qmax);
        if (e < bestErr && next > 0 === scale > 0) {
          bestErr = e;
          scale = next;
          zp = z;
          improved = true;
        }
      }
      if (!improved) break;
    }
    // Back to the range quantizeBlocks derives this scale and zero point from.
    if (symmetric) ext[n] = scale * -mid;
    else {
      lo[n] = -zp * scale;
      hi[n] = (qmax - zp) * scale;
    }
  }
}

const REFINE_STEPS = 4;

/** Float values of a MatMulNBits weight (for tests and error measurement): [K, N] row-major. */
export function dequantizeBlocks(q: BlockQuantized, K: number, N: number, bits: 4 | 8, blockSize: number): Float32Array {
  const out = new Float32Array(K * N);
  const blob = (blockSize * bits) / 8;
  const zpRow = Math.ceil((q.kBlocks * bits) / 8);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < q.kBlocks; b++) {
      const scale = q.scales[n * q.kBlocks + b]!;
      let zp = 1 << (bits - 1);
      if (q.zeroPoints) {
        const byte = q.zeroPoints[n * zpRow + (bits === 8 ? b : b >> 1)]!;
        zp = bits === 8 ? byte : b & 1 ? byte >> 4 : byte & 15;
      }
      for (let i = 0; i < blockSize && b * blockSize + i < K; i++) {
        const byte = q.data[(n * q.kBlocks + b) * blob + (bits === 8 ? i : i >> 1)]!;
        const v = bits === 8 ? byte : i & 1 ? byte >> 4 : byte & 15;
        out[(b * blockSize + i) * N + n] = (v - zp) * scale;
      }
    }
  }
  return out;
}

export interface WeightOnlyExtra {
  /** Symmetric blocks (no zero points). Default false: asymmetric, as ORT's tool. */
  symmetric?: boolean;
  accuracyLevel?: number;
  /** XᵀX of MatMul inputs on calibration data, by tensor name: those weights get GPTQ error compensation. */
  grams?: ReadonlyMap<string, Gram>;
  /** Filled with the keys of the nodes quantized with GPTQ. */
  compensated?: string[];
  /** Filled with the nodes left to round-to-nearest because their input gave fewer rows than it has features. */
  tooFewRows?: { node: string; rows: number; K: number }[];
}

/** Op types weight-only mode handles by default. */
/** The op types weight-only mode looks at (op-rules table). */
export const WEIGHT_ONLY_OP_TYPES: ReadonlySet<string> = modeOps('weight-only');

/** The node's per-node override, else the global --weight-bits. */
const bitsFor = (node: NodeProto, rc: RewriteContext): 4 | 8 => rc.selection.overridesFor(node).bits ?? rc.options.weightBits;

/** MatMul / Gemm with a constant [K, N] (Gemm: transB/alpha folded) float weight → com.microsoft.MatMulNBits (+ Add for Gemm's C). */
export function weightOnlyMatMul(extra: WeightOnlyExtra = {}): OpHandler {
  return {
    rewrite(node, rc): Rewrite {
      const isGemm = node.opType === 'Gemm';
      const blockSize = rc.options.blockSize;
      const [a, b, c] = node.input;
      if (!a || !b) return { skip: 'missing input' };
      if (rc.weight(a)) return { skip: 'input A is constant (fold it instead)' };
      const wt = rc.weight(b);
      if (!wt) return { skip: 'B is computed by the graph, not a constant weight (activation × activation)' };
      if (wt.tensor.dataType !== DataType.FLOAT) return { skip: `B is ${dtypeName(wt.tensor.dataType)}, only float32 weights are quantized` };
      if (wt.tensor.dims.length !== 2) return { skip: `B has rank ${wt.tensor.dims.length}, MatMulNBits needs a 2-D weight` };
      if (isGemm && attrInt(node, 'transA', 0) !== 0) return { skip: 'transA=1 is not supported' };
      const transB = isGemm && attrInt(node, 'transB', 0) !== 0;
      const alpha = isGemm ? attrFloat(node, 'alpha', 1) : 1;
      const beta = isGemm ? attrFloat(node, 'beta', 1) : 1;
      const ct = rc.weight(c);
      if (isGemm && c && !ct && beta !== 1) return { skip: 'non-constant C with beta ≠ 1' };
      const [d0, d1] = tensorShape(wt.tensor) as [number, number];
      const K = transB ? d1 : d0;
      const N = transB ? d0 : d1;
      if (K < 16) return { skip: `K = ${K} is too small for block quantization` };
      const bits = bitsFor(node, rc);
      const src = rc.values(wt.tensor);
      let w: Float32Array = src;
      if (transB || alpha !== 1) {
        w = new Float32Array(K * N);
        for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) w[k * N + n] = (transB ? src[n * K + k]! : src[k * N + n]!) * alpha;
      }
      const gram = extra.grams?.get(a);
      let compensate: RowCompensation | undefined;
      // Fewer rows than features: XᵀX is singular and GPTQ would fit the calibration samples, not the layer.
      if (gram && gram.xtx.length === K * K && gram.rows < K) extra.tooFewRows?.push({ node: nodeName(node), rows: gram.rows, K });
      else if (gram?.xtx.length === K * K) {
        // GPTQ changes the rows it has not rounded yet: never the model's own values.
        if (w === src) w = Float32Array.from(src);
        compensate = gptqCompensator(gram.xtx, K, N, w);
        extra.compensated?.push(nodeName(node));
      }
      const q = quantizeBlocks(w, K, N, bits, blockSize, extra.symmetric ?? false, rc.options.weightClipping, compensate);
      const qName = rc.unique(`${b}_Q${bits}`);
      const sName = rc.unique(`${b}_scales`);
      rc.store(wt, makeTensor(qName, DataType.UINT8, [N, q.kBlocks, (blockSize * bits) / 8], q.data));
      rc.store(wt, floatTensor(sName, [N, q.kBlocks], q.scales));
      const inputs = [a, qName, sName];
      if (q.zeroPoints) {
        const zName = rc.unique(`${b}_zero_points`);
        rc.store(wt, makeTensor(zName, DataType.UINT8, [N, Math.ceil((q.kBlocks * bits) / 8)], q.zeroPoints));
        inputs.push(zName);
      }
      rc.consume(wt);
      const y = node.output[0]!;
      const name = nodeName(node);
      const mmOut = isGemm && c ? rc.unique(`${y}_matmul`) : y;
      const attrs = { K, N, bits, block_size: blockSize, accuracy_level: extra.accuracyLevel ?? rc.options.accuracyLevel };
      const list = [makeNode('MatMulNBits', inputs, [mmOut], attrs, { name: rc.unique(`${name}_Q${bits}`), domain: MS })];
      if (isGemm && c) {
        let bias = c;
        if (ct && beta !== 1) {
          bias = rc.unique(`${c}_beta`);
          rc.store(ct, floatTensor(bias, tensorShape(ct.tensor), Float32Array.from(rc.values(ct.tensor), (v) => v * beta)));
          rc.consume(ct);
        }
        list.push(makeNode('Add', [mmOut, bias], [y], {}, { name: rc.unique(`${name}_bias_add`) }));
      }
      rc.useDomain(MS, 1);
      return { nodes: list };
    },
  };
}

/**
 * Embedding tables → com.microsoft.GatherBlockQuantized (uint8 data, 4/8 bits, blocks along the
 * row, gather_axis 0, quantize_axis last): each row is quantized like a MatMulNBits column.
 */
export function weightOnlyGather(extra: WeightOnlyExtra = {}): OpHandler {
  return {
    // Shape/index Gathers are not candidates at all.
    applies: (node, rc) => !!rc.weight(node.input[0]),
    rewrite(node, rc): Rewrite {
      const blockSize = rc.options.blockSize;
      const [data, indices] = node.input;
      const table = rc.weight(data);
      if (!table || !indices) return { skip: 'data is not a constant table' };
      const t = table.tensor;
      if (t.dataType !== DataType.FLOAT) return { skip: `table is ${dtypeName(t.dataType)}` };
      if (t.dims.length !== 2) return { skip: `table has rank ${t.dims.length}, expected 2` };
      if (attrInt(node, 'axis', 0) !== 0) return { skip: 'Gather axis ≠ 0' };
      if (rc.weight(indices)) return { skip: 'constant indices: the Gather computes a constant (not an embedding lookup) and is left as it is' };
      const [V, D] = tensorShape(t) as [number, number];
      const bits = bitsFor(node, rc);
      if (D % blockSize !== 0) return { skip: `row length ${D} is not a multiple of the block size ${blockSize}` };
      const values = rc.values(t);
      // quantizeBlocks blocks along K of a [K, N] matrix; an embedding blocks along its rows: transpose.
      const tr = new Float32Array(V * D);
      for (let v = 0; v < V; v++) for (let d = 0; d < D; d++) tr[d * V + v] = values[v * D + d]!;
      const q = quantizeBlocks(tr, D, V, bits, blockSize, extra.symmetric ?? false, rc.options.weightClipping);
      const qName = rc.unique(`${data}_Q${bits}`);
      const sName = rc.unique(`${data}_scales`);
      rc.store(table, makeTensor(qName, DataType.UINT8, [V, (D * bits) / 8], q.data));
      rc.store(table, floatTensor(sName, [V, q.kBlocks], q.scales));
      const inputs = [qName, indices, sName];
      if (q.zeroPoints) {
        const zName = rc.unique(`${data}_zero_points`);
        rc.store(table, makeTensor(zName, DataType.UINT8, [V, Math.ceil((q.kBlocks * bits) / 8)], q.zeroPoints));
        inputs.push(zName);
      }
      rc.consume(table);
      const attrs = { gather_axis: 0, quantize_axis: 1, block_size: blockSize, bits };
      rc.useDomain(MS, 1);
      return { nodes: [makeNode('GatherBlockQuantized', inputs, [node.output[0]!], attrs, { name: rc.unique(`${nodeName(node)}_Q${bits}`), domain: MS })] };
    },
  };
}

export function weightOnlyHandlers(extra: WeightOnlyExtra = {}): Handlers {
  const matmul = weightOnlyMatMul(extra);
  return { MatMul: matmul, Gemm: matmul, Gather: weightOnlyGather(extra) };
}

export async function quantizeWeightOnly(
  model: OnnxModel,
  options: ResolvedOptions,
  selection: NodeSelection,
  ctx: JobContext = {},
  writer?: ExternalDataWriter,
  extra: WeightOnlyExtra = {},
): Promise<EngineResult> {
  const gptq = options.weightRounding === 'gptq' && options.calibrationData;
  const withData = gptq ? { ...extra, ...(await calibrationGrams(model, options, selection, ctx)), compensated: [] as string[], tooFewRows: [] as NonNullable<WeightOnlyExtra['tooFewRows']> } : extra;
  const driver = new RewriteDriver(model, options, selection, ctx, writer);
  await driver.rewriteNodes(weightOnlyHandlers(withData), WEIGHT_ONLY_OP_TYPES);
  const r = driver.finish();
  const warnings = [...r.warnings];
  if (withData.compensated) {
    const n = withData.compensated.length;
    ctx.log?.(`GPTQ error compensation on ${n} node(s) from the calibration data`);
    const few = withData.tooFewRows ?? [];
    if (few.length) {
      const first = few[0];
      warnings.push(
        `GPTQ left ${few.length} node(s) to round-to-nearest: their input gave fewer calibration rows than it has features (${first?.node}: ${first?.rows} rows for K = ${first?.K}), so XᵀX is singular and GPTQ would fit those samples only; more calibration samples let GPTQ work there`,
      );
    } else if (n === 0 && r.quantizedNodes > 0) warnings.push('--weight-rounding gptq: no quantized MatMul reads an activation of the main graph, so every weight was rounded to nearest');
  }
  return { proto: r.proto, quantizedNodes: r.quantizedNodes, quantizedKeys: r.quantizedKeys, skippedNodes: r.skippedNodes, warnings, ...(withData.compensated ? { compensatedNodes: withData.compensated } : {}) };
}

/**
 * The activation tensors whose statistics GPTQ needs: input A of each selected main-graph MatMul /
 * Gemm with a constant 2-D float32 weight (body activations cannot be model outputs).
 */
export function gramTargets(proto: ModelProto, selection: NodeSelection): GramTarget[] {
  const index = indexModel(proto);
  const byTensor = new Map<string, number>();
  for (const node of proto.graph?.node ?? []) {
    if ((node.domain !== '' && node.domain !== 'ai.onnx') || (node.opType !== 'MatMul' && node.opType !== 'Gemm')) continue;
    if (!selection.check(node, WEIGHT_ONLY_OP_TYPES).selected) continue;
    const [a, b] = node.input;
    if (!a || !b || index.constant(a)) continue;
    const t = index.constant(b)?.tensor;
    if (!t || t.dataType !== DataType.FLOAT || t.dims.length !== 2) continue;
    if (node.opType === 'Gemm' && attrInt(node, 'transA', 0) !== 0) continue;
    const transB = node.opType === 'Gemm' && attrInt(node, 'transB', 0) !== 0;
    const K = Number(transB ? t.dims[1] : t.dims[0]);
    if (K >= 16) byTensor.set(a, K);
  }
  return [...byTensor].map(([name, K]) => ({ name, K }));
}

async function calibrationGrams(model: OnnxModel, options: ResolvedOptions, selection: NodeSelection, ctx: JobContext): Promise<{ grams: Map<string, Gram> }> {
  const graph = model.proto.graph;
  if (!graph) return { grams: new Map() };
  const all = loadCalibrationData(options.calibrationData, modelInputs(graph), options.dataRoots);
  const data = { ...all, samples: all.samples - gptqHeldOut(all.samples) };
  const targets = gramTargets(model.proto, selection);
  const grams = await collectGrams(model, model.proto, targets, data, { batchSize: options.calibrationBatch, memoryBudget: options.memoryBudget * 2 ** 20 }, ctx);
  return { grams };
}
