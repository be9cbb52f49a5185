/**
 * Weights and biases of statically quantized ops: int8 symmetric weights (per channel along the
 * op's output-channel axis, or per tensor) and int32 biases with scale = input_scale × weight_scale
 * and zero point 0. When a bias would overflow int32 at that scale, the weight scale of that
 * channel is enlarged (as ORT ≥ 1.20 does, doc §0.7) and the fix is reported.
 */
import { int8SymmetricScales, quantizeInt8WithScales, roundHalfEvenFast } from '../weights';

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
  const scales = int8SymmetricScales(values, shape, axis, reduceRange);
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
  return { weight: { data: quantizeInt8WithScales(values, shape, axis, scales).data, scales, axis }, bias, adjustedChannels };
}
