/**
 * Weights and biases of statically quantized ops: int8 symmetric weights (per channel along the
 * op's output-channel axis, or per tensor) and int32 biases with scale = input_scale × weight_scale
 * and zero point 0. When a bias would overflow int32 at that scale, the weight scale of that
 * channel is enlarged (as ORT ≥ 1.20 does, doc §0.7) and the fix is reported.
 */
import { computeQuantParams, quantRange } from '../math';

export interface QuantizedWeight {
  data: Int8Array;
  /** One per channel (length = channels) or one value. */
  scales: Float32Array;
  axis: number | undefined;
}

export interface QuantizedBias {
  data: Int32Array;
  scales: Float32Array;
}

const INT32_MAX = 2147483647;

/** Half to even for finite values (hot loops; same results as math.roundHalfEven). */
export function roundHalfEvenFast(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && (r & 1) !== 0 ? r - 1 : r;
}

/** Channel layout of `axis` in `shape`. */
function layout(shape: readonly number[], axis: number | undefined, n: number): { channels: number; inner: number; outer: number } {
  if (axis === undefined) return { channels: 1, inner: n, outer: 1 };
  return {
    channels: shape[axis] ?? 1,
    inner: shape.slice(axis + 1).reduce((a, b) => a * b, 1),
    outer: shape.slice(0, axis).reduce((a, b) => a * b, 1),
  };
}

/** Symmetric int8 scales: absmax / 127 (or / 64 with reduced range), per channel when `axis` is set. */
export function weightScales(values: ArrayLike<number>, shape: readonly number[], axis: number | undefined, reduceRange: boolean): Float32Array {
  const { channels, inner, outer } = layout(shape, axis, values.length);
  const absmax = new Float64Array(channels);
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const base = (o * channels + c) * inner;
      let m = absmax[c]!;
      for (let i = 0; i < inner; i++) {
        const v = Math.abs(values[base + i]!);
        if (v > m) m = v;
      }
      absmax[c] = m;
    }
  }
  const range = quantRange('int8', { symmetric: true, reduceRange });
  return Float32Array.from(absmax, (m) => computeQuantParams(-m, m, range, true).scale);
}

/** Quantize with given scales (zero point 0), saturating to [-128, 127]. */
export function quantizeWithScales(values: ArrayLike<number>, shape: readonly number[], axis: number | undefined, scales: Float32Array): Int8Array {
  const { channels, inner, outer } = layout(shape, axis, values.length);
  const out = new Int8Array(values.length);
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const base = (o * channels + c) * inner;
      const s = scales[c]!;
      for (let i = 0; i < inner; i++) {
        const q = roundHalfEvenFast(Math.fround(values[base + i]! / s));
        out[base + i] = q > 127 ? 127 : q < -128 ? -128 : q;
      }
    }
  }
  return out;
}

/** Float32 product, bit-identical to what a float32 multiply gives (ORT compares bias scales exactly). */
export function f32mul(a: number, b: number): number {
  return Math.fround(Math.fround(a) * Math.fround(b));
}

export interface WeightAndBias {
  weight: QuantizedWeight;
  bias: QuantizedBias | undefined;
  /** Channels whose weight scale was enlarged to keep the bias inside int32. */
  adjustedChannels: number;
}

/**
 * Quantize a weight (and its bias, if any) for an op whose input scale is `inputScale`.
 * `biasValues` has one entry per output channel; with a per-tensor weight the one scale serves all.
 */
export function quantizeWeightAndBias(
  values: ArrayLike<number>,
  shape: readonly number[],
  axis: number | undefined,
  reduceRange: boolean,
  inputScale: number | undefined,
  biasValues: ArrayLike<number> | undefined,
  adjustForBias: boolean,
): WeightAndBias {
  const scales = weightScales(values, shape, axis, reduceRange);
  let adjustedChannels = 0;
  let bias: QuantizedBias | undefined;
  if (biasValues && inputScale !== undefined) {
    if (adjustForBias) {
      // |b| / (x_s · w_s) must stay within int32: enlarge w_s where it would not.
      const biasAbsmax = new Float64Array(scales.length);
      for (let i = 0; i < biasValues.length; i++) {
        const c = scales.length === 1 ? 0 : i;
        biasAbsmax[c] = Math.max(biasAbsmax[c]!, Math.abs(biasValues[i]!));
      }
      for (let c = 0; c < scales.length; c++) {
        const needed = biasAbsmax[c]! / (inputScale * (INT32_MAX * 0.5));
        if (needed > scales[c]!) {
          scales[c] = Math.fround(needed);
          adjustedChannels++;
        }
      }
    }
    const biasScales = new Float32Array(biasValues.length);
    const data = new Int32Array(biasValues.length);
    for (let i = 0; i < biasValues.length; i++) {
      const s = f32mul(inputScale, scales[scales.length === 1 ? 0 : i]!);
      biasScales[i] = s;
      const q = roundHalfEvenFast(biasValues[i]! / s);
      data[i] = q > INT32_MAX ? INT32_MAX : q < -INT32_MAX - 1 ? -INT32_MAX - 1 : q;
    }
    bias = { data, scales: scales.length === 1 ? biasScales.subarray(0, 1) : biasScales };
  }
  return { weight: { data: quantizeWithScales(values, shape, axis, scales), scales, axis }, bias, adjustedChannels };
}
