/**
 * Statistics of one float weight tensor, for risk notes and suggested quantization parameters.
 *
 * Cost: two linear passes over the values, no copy of float32 data (readFloat32 returns a view
 * when the bytes are aligned; float16 and misaligned data are converted once). The 99.9th
 * percentile of |w| comes from a 4096-bin histogram over [0, max|w|] built in the second pass,
 * so its error is at most max|w| / 4096 (exact enough to tell a 4× ratio from a 1.5× one).
 * Tensors above SAMPLE_LIMIT elements build that histogram (and the 6-std count) from an evenly
 * strided sample of about SAMPLE_LIMIT elements; min, max, mean and std always use every value.
 */
import { isFloatType, dtypeName } from '../onnx/dtype';
import type { TensorProto } from '../onnx/schema';
import { readFloat32, tensorElementCount, type TensorSource } from '../onnx/tensor';
import { computeQuantParams, quantRange, type QuantType } from '../quantize/math';

/** Weights with max|w| at least this many times the 99.9th percentile of |w| are flagged outlier-dominated. */
export const OUTLIER_RATIO = 4;
/** A weight "beyond 6 std" deviates from the mean by more than 6 standard deviations. */
export const OUTLIER_STD = 6;
/** Above this many elements the percentile histogram uses a strided sample. */
export const SAMPLE_LIMIT = 1 << 22;
const BINS = 4096;

export interface WeightStats {
  elements: number;
  min: number;
  max: number;
  mean: number;
  std: number;
  /** max(|min|, |max|). */
  absMax: number;
  /** 99.9th percentile of |w| (histogram estimate, see module comment). */
  absMaxP999: number;
  /** absMax / absMaxP999 (1 when the tensor is constant or empty). */
  outlierRatio: number;
  /** Share of weights farther than 6 std from the mean (a Gaussian gives about 2e-9). */
  outlierShare: number;
  /** True when absMax ≥ OUTLIER_RATIO × absMaxP999. */
  outlierDominated: boolean;
  /** Elements the histogram used (all, or the strided sample). */
  sampled: number;
  /** Per-tensor parameters the given scheme would choose (default int8 symmetric, as ORT for weights). */
  suggested: { scale: number; zeroPoint: number; type: QuantType };
}

export interface WeightStatsOptions {
  type?: QuantType;
  symmetric?: boolean;
  reduceRange?: boolean;
}

/** Statistics of a float tensor (float32/float16/bfloat16/float64). Throws for non-float tensors. */
export function weightStats(tensor: TensorProto, source?: TensorSource, options: WeightStatsOptions = {}): WeightStats {
  if (!isFloatType(tensor.dataType)) throw new Error(`weightStats: '${tensor.name}' is ${dtypeName(tensor.dataType)}, not a float tensor`);
  if (tensorElementCount(tensor) === 0) return statsOf(new Float32Array(0), options);
  return statsOf(readFloat32(tensor, source), options);
}

/** The same statistics for values already in memory. */
export function statsOf(v: Float32Array, options: WeightStatsOptions = {}): WeightStats {
  const n = v.length;
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let sumSq = 0;
  for (let i = 0; i < n; i++) {
    const x = v[i]!;
    if (x < min) min = x;
    if (x > max) max = x;
    sum += x;
    sumSq += x * x;
  }
  if (n === 0) min = max = 0;
  const mean = n ? sum / n : 0;
  const std = n ? Math.sqrt(Math.max(0, sumSq / n - mean * mean)) : 0;
  const absMax = Math.max(Math.abs(min), Math.abs(max));

  const stride = n > SAMPLE_LIMIT ? Math.ceil(n / SAMPLE_LIMIT) : 1;
  const hist = new Uint32Array(BINS);
  const toBin = absMax > 0 ? BINS / absMax : 0;
  const lo = mean - OUTLIER_STD * std;
  const hi = mean + OUTLIER_STD * std;
  let beyond = 0;
  let sampled = 0;
  for (let i = 0; i < n; i += stride) {
    const x = v[i]!;
    const a = x < 0 ? -x : x;
    let b = (a * toBin) | 0;
    if (b >= BINS) b = BINS - 1;
    hist[b]!++;
    if (x < lo || x > hi) beyond++;
    sampled++;
  }
  let absMaxP999 = 0;
  if (sampled > 0 && absMax > 0) {
    const target = 0.999 * sampled;
    let cum = 0;
    for (let b = 0; b < BINS; b++) {
      const c = hist[b]!;
      if (cum + c >= target) {
        // Linear interpolation inside the bin.
        const frac = c ? (target - cum) / c : 0;
        absMaxP999 = ((b + frac) / BINS) * absMax;
        break;
      }
      cum += c;
    }
  }
  const outlierRatio = absMaxP999 > 0 ? absMax / absMaxP999 : 1;
  const type = options.type ?? 'int8';
  const symmetric = options.symmetric ?? !type.startsWith('u');
  const p = computeQuantParams(min, max, quantRange(type, { symmetric, reduceRange: options.reduceRange ?? false }), symmetric);
  return {
    elements: n,
    min,
    max,
    mean,
    std,
    absMax,
    absMaxP999,
    outlierRatio,
    outlierShare: sampled ? beyond / sampled : 0,
    outlierDominated: outlierRatio >= OUTLIER_RATIO,
    sampled,
    suggested: { scale: p.scale, zeroPoint: p.zeroPoint, type },
  };
}
