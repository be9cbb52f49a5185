/**
 * Statistics of one float weight tensor, for risk notes and suggested quantization parameters.
 *
 * Cost: one pass over every value (min, max, mean, std), no copy of float32 data: aligned bytes
 * are read in place, misaligned raw_data through a 256 KiB scratch buffer; float16 and other float
 * types are converted once by readFloat32. Non-finite values are left out of every statistic.
 * A second, compare-only pass counts values beyond 6 std, only when [min, max] reaches past that
 * band. The 99.9th percentile of |w| comes from a 4096-bin histogram over [0, max|w|], so its
 * error is at most max|w| / 4096 (enough to tell a 4× ratio from a 1.5× one); tensors above
 * SAMPLE_LIMIT (262,144) elements fill that histogram from an evenly strided sample of at most
 * SAMPLE_LIMIT values (still ~260 above the percentile). min, max, mean, std and the 6-std share
 * always use every value.
 */
import { DataType, isFloatType, dtypeName } from '../onnx/dtype';
import type { TensorProto } from '../onnx/schema';
import { readFloat32, tensorBytes, tensorElementCount, type TensorSource } from '../onnx/tensor';
import { isExternal } from '../onnx/model';
import { computeQuantParams, quantRange, type QuantType } from '../quantize/math';

/** Weights with max|w| at least this many times the 99.9th percentile of |w| are flagged outlier-dominated. */
export const OUTLIER_RATIO = 4;
/** A weight "beyond 6 std" deviates from the mean by more than 6 standard deviations. */
export const OUTLIER_STD = 6;
/** Above this many elements the percentile histogram uses a strided sample (see module comment). */
export const SAMPLE_LIMIT = 1 << 18;
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
  /** Share of weights farther than 6 std from the mean (a Gaussian gives about 2e-9); always exact. */
  outlierShare: number;
  /** True when absMax ≥ OUTLIER_RATIO × absMaxP999. */
  outlierDominated: boolean;
  /** Elements the histogram used (all, or the strided sample). */
  sampled: number;
  /** With options.channels: max|w| per channel compared across channels (from the histogram sample). */
  channelSpread?: ChannelSpread;
  /** Per-tensor parameters the given scheme would choose (default int8 symmetric, as ORT for weights). */
  suggested: { scale: number; zeroPoint: number; type: QuantType };
}

export interface ChannelSpread {
  axis: number;
  channels: number;
  /** Largest and median of the per-channel max|w|. */
  maxAbsMax: number;
  medianAbsMax: number;
  /** maxAbsMax / medianAbsMax (1 when the median channel is all zeros): per-tensor scales leave the median channel 127 / ratio levels. */
  ratio: number;
}

/** Channel ranges this many times apart (largest vs median channel) are flagged "wide": use per-channel. */
export const CHANNEL_SPREAD_RATIO = 8;

export interface WeightStatsOptions {
  /** Also measure how much channel ranges differ along this axis of `shape` (per-channel vs per-tensor). */
  channels?: { shape: readonly number[]; axis: number };
  type?: QuantType;
  symmetric?: boolean;
  reduceRange?: boolean;
}

/** Statistics of a float tensor (float32/float16/bfloat16/float64). Throws for non-float tensors. */
export function weightStats(tensor: TensorProto, source?: TensorSource, options: WeightStatsOptions = {}): WeightStats {
  if (!isFloatType(tensor.dataType)) throw new Error(`weightStats: '${tensor.name}' is ${dtypeName(tensor.dataType)}, not a float tensor`);
  if (tensorElementCount(tensor) === 0) return statsOf(new Float32Array(0), options);
  if (tensor.dataType === DataType.FLOAT && !isExternal(tensor)) {
    const bytes = tensorBytes(tensor, source); // length-checked view
    if (bytes.byteOffset % 4 !== 0) return statsOfChunks(misalignedChunks(bytes), options);
  }
  return statsOf(readFloat32(tensor, source), options);
}

/** The same statistics for values already in memory. */
export function statsOf(v: Float32Array, options: WeightStatsOptions = {}): WeightStats {
  return statsOfChunks({ length: v.length, forEach: (visit) => visit(v, 0) }, options);
}

/** Float32 values visited as aligned chunks (`base` = index of the chunk's first value). */
interface Chunks {
  length: number;
  forEach(visit: (chunk: Float32Array, base: number) => void): void;
}

const CHUNK = 1 << 16;

/**
 * raw_data sits at any offset of the file buffer; a Float32Array needs 4-byte alignment. Rather
 * than copying the whole tensor, copy 256 KiB at a time into one scratch buffer (stays in cache).
 */
function misalignedChunks(bytes: Uint8Array): Chunks {
  const n = bytes.length >> 2;
  return {
    length: n,
    forEach(visit) {
      const scratch = new Float32Array(Math.min(CHUNK, n));
      const scratchBytes = new Uint8Array(scratch.buffer);
      for (let base = 0; base < n; base += CHUNK) {
        const len = Math.min(CHUNK, n - base);
        scratchBytes.set(bytes.subarray(base * 4, (base + len) * 4));
        visit(len === scratch.length ? scratch : scratch.subarray(0, len), base);
      }
    },
  };
}

function statsOfChunks(values: Chunks, options: WeightStatsOptions): WeightStats {
  const n = values.length;
  const m = { min: Infinity, max: -Infinity, sum: 0, sumSq: 0, count: 0 };
  values.forEach((c) => moments(c, m));
  if (m.count === 0) m.min = m.max = 0;
  const { min, max } = m;
  const mean = m.count ? m.sum / m.count : 0;
  const std = m.count ? Math.sqrt(Math.max(0, m.sumSq / m.count - mean * mean)) : 0;
  const absMax = Math.max(Math.abs(min), Math.abs(max));

  // Exact count beyond 6 std; skipped when [min, max] lies inside the band (the usual case).
  const lo = mean - OUTLIER_STD * std;
  const hi = mean + OUTLIER_STD * std;
  let beyond = 0;
  if (min < lo || max > hi) {
    values.forEach((c) => {
      for (let i = 0; i < c.length; i++) {
        const x = c[i]!;
        if (x < lo || x > hi) beyond++;
      }
    });
  }
  // Percentile histogram: random bin increments are the slow part, so big tensors use an odd
  // stride (odd, so power-of-two row lengths do not alias the sample onto a few columns).
  const stride = n > SAMPLE_LIMIT ? Math.ceil(n / SAMPLE_LIMIT) | 1 : 1;
  const hist = new Uint32Array(BINS);
  const toBin = absMax > 0 ? BINS / absMax : 0;
  let sampled = 0;
  // Per-channel max|w| on the same sample: channel of flat index g = floor(g / inner) % count.
  const ch = channelLayout(options.channels, n);
  const chMax = ch ? new Float64Array(ch.count) : undefined;
  values.forEach((c, base) => {
    for (let i = (stride - (base % stride)) % stride; i < c.length; i += stride) {
      const x = c[i]!;
      if (x !== x) continue; // NaN
      const a = x < 0 ? -x : x;
      let b = (a * toBin) | 0;
      if (b >= BINS || b < 0) b = BINS - 1;
      hist[b]!++;
      sampled++;
      if (chMax && a !== Infinity) {
        const k = Math.floor((base + i) / ch!.inner) % ch!.count;
        if (a > chMax[k]!) chMax[k] = a;
      }
    }
  });
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
    outlierShare: m.count ? beyond / m.count : 0,
    outlierDominated: outlierRatio >= OUTLIER_RATIO,
    sampled,
    ...(chMax ? { channelSpread: spreadOf(chMax, ch!.axis) } : {}),
    suggested: { scale: p.scale, zeroPoint: p.zeroPoint, type },
  };
}

interface Moments {
  min: number;
  max: number;
  sum: number;
  sumSq: number;
  /** Finite values seen. */
  count: number;
}

/**
 * Add one chunk to running min, max, sum and sum of squares. Math.min/max compile to branch-free
 * instructions (measured 2× faster than compares on random weights) but propagate NaN: chunks
 * holding non-finite values take a second pass that skips them.
 */
function moments(v: Float32Array, m: Moments): void {
  const n = v.length;
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let sumSq = 0;
  for (let i = 0; i < n; i++) {
    const x = v[i]!;
    min = Math.min(min, x);
    max = Math.max(max, x);
    sum += x;
    sumSq += x * x;
  }
  let count = n;
  if (!Number.isFinite(sum + sumSq)) {
    min = Infinity;
    max = -Infinity;
    sum = 0;
    sumSq = 0;
    count = 0;
    for (let i = 0; i < n; i++) {
      const x = v[i]!;
      if (!Number.isFinite(x)) continue;
      if (x < min) min = x;
      if (x > max) max = x;
      sum += x;
      sumSq += x * x;
      count++;
    }
  }
  if (count === 0) return;
  m.min = Math.min(m.min, min);
  m.max = Math.max(m.max, max);
  m.sum += sum;
  m.sumSq += sumSq;
  m.count += count;
}

function channelLayout(c: WeightStatsOptions['channels'], n: number): { axis: number; count: number; inner: number } | undefined {
  if (!c || c.shape.length === 0) return undefined;
  const axis = c.axis < 0 ? c.axis + c.shape.length : c.axis;
  const count = c.shape[axis];
  if (count === undefined || count < 2) return undefined;
  const inner = c.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  if (inner * count > n || inner === 0) return undefined;
  return { axis, count, inner };
}

function spreadOf(chMax: Float64Array, axis: number): ChannelSpread {
  const sorted = Float64Array.from(chMax).sort();
  const maxAbsMax = sorted[sorted.length - 1]!;
  const medianAbsMax = sorted[sorted.length >> 1]!;
  return { axis, channels: chMax.length, maxAbsMax, medianAbsMax, ratio: medianAbsMax > 0 ? maxAbsMax / medianAbsMax : 1 };
}
