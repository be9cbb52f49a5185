/**
 * Weight quantization to int8 symmetric (zero point 0), per tensor or per channel, with the
 * same arithmetic as math.ts (float64 parameters, float32 division, half-to-even rounding,
 * saturation) but written straight into an Int8Array: large models quantize one tensor at a time
 * and must not hold extra per-element copies.
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

/**
 * Quantize `values` (shape `shape`) to int8 symmetric. `axis` undefined → one scale for all;
 * else one scale per index along `axis` (MatMul [K, N]: axis 1; Conv: 0; LSTM rows: 1 of [dirs·4H, I]).
 * `reduceRange` → 7-bit weights in [-64, 64].
 */
export function quantizeInt8Symmetric(values: ArrayLike<number>, shape: readonly number[], axis: number | undefined, reduceRange: boolean): Int8Weights {
  const range = quantRange('int8', { symmetric: true, reduceRange });
  const n = values.length;
  const ax = axis === undefined ? undefined : axis < 0 ? axis + shape.length : axis;
  const channels = ax === undefined ? 1 : (shape[ax] ?? 1);
  const inner = ax === undefined ? n : shape.slice(ax + 1).reduce((a, b) => a * b, 1);
  const outer = ax === undefined ? 1 : shape.slice(0, ax).reduce((a, b) => a * b, 1);
  const absmax = new Float64Array(channels);
  if (inner === 1 && channels > 1) {
    // Channel = last axis (MatMul [K, N] per column): one sequential pass, channel by counter.
    for (let e = 0, c = 0; e < n; e++) {
      const v = Math.abs(values[e]!);
      if (v > absmax[c]!) absmax[c] = v;
      if (++c === channels) c = 0;
    }
  } else {
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
  }
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) scales[c] = computeQuantParams(-absmax[c]!, absmax[c]!, range, true).scale;
  const data = new Int8Array(n);
  let clipped = 0;
  // Sequential over elements; the channel index advances every `inner` elements.
  for (let e = 0, c = 0, left = inner; e < n; e++) {
    const q = roundHalfEvenFast(Math.fround(values[e]! / scales[c]!));
    if (q > 127) {
      data[e] = 127;
      clipped++;
    } else if (q < -128) {
      data[e] = -128;
      clipped++;
    } else data[e] = q;
    if (--left === 0) {
      left = inner;
      if (++c === channels) c = 0;
    }
  }
  return { data, scales, clipped };
}
