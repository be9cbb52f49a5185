/**
 * Weight quantization to int8 symmetric (zero point 0), per tensor or per channel, for both the
 * dynamic and the static quantizer, with the same arithmetic as math.ts (float64 parameters,
 * float32 division, half-to-even rounding, saturation) but written straight into an Int8Array:
 * large models quantize one tensor at a time and must not hold extra per-element copies.
 */
import { computeQuantParams, quantRange } from './math';

export interface Int8Weights {
  data: Int8Array;
  /** One scale (per tensor) or one per channel along `axis`. */
  scales: Float32Array;
  /** Elements clipped (only possible if a channel's range was degenerate). */
  clipped: number;
}

/** Half to even for values already in float range; faster than math.roundHalfEven in hot loops. */
export function roundHalfEvenFast(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && (r & 1) !== 0 ? r - 1 : r;
}

/** Channel layout of `axis` in `shape` (negative axis counts from the end; undefined → one channel). */
function channelLayout(shape: readonly number[], axis: number | undefined, n: number): { channels: number; inner: number; outer: number } {
  if (axis === undefined) return { channels: 1, inner: n, outer: 1 };
  const ax = axis < 0 ? axis + shape.length : axis;
  return {
    channels: shape[ax] ?? 1,
    inner: shape.slice(ax + 1).reduce((a, b) => a * b, 1),
    outer: shape.slice(0, ax).reduce((a, b) => a * b, 1),
  };
}

/**
 * Symmetric int8 scales: absmax / 127 (or / 64 with `reduceRange`), one per index along `axis`
 * (MatMul [K, N]: axis 1; Conv: 0; LSTM rows: 1 of [dirs·4H, I]), or one for all when undefined.
 */
export function int8SymmetricScales(values: ArrayLike<number>, shape: readonly number[], axis: number | undefined, reduceRange: boolean): Float32Array {
  const { channels, inner, outer } = channelLayout(shape, axis, values.length);
  // Monomorphic element access in the loop (see quantizeInt8WithScales).
  const absmax = values instanceof Float32Array ? absMaxLoop(values, channels, inner, outer) : absMaxLoop(Float32Array.from(values), channels, inner, outer);
  const range = quantRange('int8', { symmetric: true, reduceRange });
  return Float32Array.from(absmax, (m) => computeQuantParams(-m, m, range, true).scale);
}

function absMaxLoop(values: Float32Array, channels: number, inner: number, outer: number): Float64Array {
  const n = values.length;
  const absmax = new Float64Array(channels);
  if (inner === 1 && channels > 1) {
    // Channel = last axis (MatMul [K, N] per column): one sequential pass, row by row.
    for (let row = 0; row < n; row += channels) {
      for (let c = 0; c < channels; c++) {
        const v = Math.abs(values[row + c] ?? 0);
        if (v > (absmax[c] ?? 0)) absmax[c] = v;
      }
    }
  } else {
    for (let o = 0; o < outer; o++) {
      for (let c = 0; c < channels; c++) {
        const base = (o * channels + c) * inner;
        let m = absmax[c] ?? 0;
        for (let i = 0; i < inner; i++) {
          const v = Math.abs(values[base + i] ?? 0);
          if (v > m) m = v;
        }
        absmax[c] = m;
      }
    }
  }
  return absmax;
}

/** 1.5 × 2^52: adding it to a float64 of magnitude < 2^51 rounds it to an integer, ties to even (IEEE default). */
const ROUND_MAGIC = 6755399441055744;

/** Quantize with given per-channel (or single) scales, zero point 0, saturating to [-128, 127]. */
export function quantizeInt8WithScales(values: ArrayLike<number>, shape: readonly number[], axis: number | undefined, scales: Float32Array): { data: Int8Array; clipped: number } {
  const n = values.length;
  const { channels, inner } = channelLayout(shape, axis, n);
  const data = new Int8Array(n);
  // One loop per array type keeps element access monomorphic (the hot loop of dynamic quantization).
  const clipped = values instanceof Float32Array ? quantizeLoop(values, data, channels, inner, scales) : quantizeLoop(Float32Array.from(values), data, channels, inner, scales);
  return { data, clipped };
}

function quantizeLoop(values: Float32Array, data: Int8Array, channels: number, inner: number, scales: Float32Array): number {
  const n = values.length;
  let clipped = 0;
  // Nested loops, no per-element channel counter: 15 % fewer ns per element than one counted loop.
  // Half to even as math.roundHalfEven: |x| is far below 2^51 (or not finite, clipped below).
  if (inner === 1) {
    // Channel = last axis (MatMul [K, N] per column): the channel is the column.
    for (let row = 0; row < n; row += channels) {
      for (let c = 0; c < channels; c++) {
        const e = row + c;
        const q = Math.fround((values[e] ?? 0) / (scales[c] ?? 0)) + ROUND_MAGIC - ROUND_MAGIC;
        if (q > 127) {
          data[e] = 127;
          clipped++;
        } else if (q < -128) {
          data[e] = -128;
          clipped++;
        } else data[e] = q;
      }
    }
    return clipped;
  }
  for (let e = 0; e < n; ) {
    for (let c = 0; c < channels; c++) {
      const scale = scales[c] ?? 0;
      for (const end = e + inner; e < end; e++) {
        const q = Math.fround((values[e] ?? 0) / scale) + ROUND_MAGIC - ROUND_MAGIC;
        if (q > 127) {
          data[e] = 127;
          clipped++;
        } else if (q < -128) {
          data[e] = -128;
          clipped++;
        } else data[e] = q;
      }
    }
  }
  return clipped;
}

/** Asymmetric uint8 with one scale and zero point (embedding tables), saturating to [0, 255]. */
export function quantizeUint8(values: Float32Array, scale: number, zeroPoint: number): Uint8Array {
  const q = new Uint8Array(values.length);
  const n = values.length;
  for (let i = 0; i < n; i++) {
    const v = Math.fround((values[i] ?? 0) / scale) + ROUND_MAGIC - ROUND_MAGIC + zeroPoint;
    q[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return q;
}

/**
 * Quantize `values` (shape `shape`) to int8 symmetric. `axis` undefined → one scale for all;
 * else one scale per index along `axis`. `reduceRange` → 7-bit weights in [-64, 64].
 */
export function quantizeInt8Symmetric(values: ArrayLike<number>, shape: readonly number[], axis: number | undefined, reduceRange: boolean): Int8Weights {
  const scales = int8SymmetricScales(values, shape, axis, reduceRange);
  return { ...quantizeInt8WithScales(values, shape, axis, scales), scales };
}
