/**
 * Quantization arithmetic, matching ONNX Runtime's rules (reference doc §0.5-0.6, §6.3):
 * range forced to include 0, scale/zero point computed in float64 and stored as float32,
 * round half to even, saturation to the integer range, degenerate ranges give scale 1, zp 0.
 */
export type QuantType = 'int8' | 'uint8' | 'int4' | 'uint4' | 'int16' | 'uint16';

export interface QuantRange {
  qmin: number;
  qmax: number;
}

const FULL: Record<QuantType, QuantRange> = {
  int8: { qmin: -128, qmax: 127 },
  uint8: { qmin: 0, qmax: 255 },
  int4: { qmin: -8, qmax: 7 },
  uint4: { qmin: 0, qmax: 15 },
  int16: { qmin: -32768, qmax: 32767 },
  uint16: { qmin: 0, qmax: 65535 },
};
const SYMMETRIC: Partial<Record<QuantType, QuantRange>> = {
  int8: { qmin: -127, qmax: 127 },
  uint8: { qmin: 0, qmax: 254 },
  int16: { qmin: -32767, qmax: 32767 },
  uint16: { qmin: 0, qmax: 65534 },
};
const REDUCED: Record<QuantType, QuantRange> = {
  int8: { qmin: -64, qmax: 64 },
  uint8: { qmin: 0, qmax: 127 },
  int4: { qmin: -4, qmax: 3 },
  uint4: { qmin: 0, qmax: 7 },
  int16: { qmin: -16384, qmax: 16384 },
  uint16: { qmin: 0, qmax: 32767 },
};

/** Range used to compute parameters: reduced if asked, else symmetric if asked and defined, else full. */
export function quantRange(type: QuantType, options: { symmetric?: boolean; reduceRange?: boolean } = {}): QuantRange {
  if (options.reduceRange) return REDUCED[type];
  if (options.symmetric && SYMMETRIC[type]) return SYMMETRIC[type]!;
  return FULL[type];
}

/** The full range of the type: stored values are always clipped to this. */
export function fullRange(type: QuantType): QuantRange {
  return FULL[type];
}

/** Round half to even (numpy.round, ONNX QuantizeLinear). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round rounds .5 up; fix exact halves to the even neighbour.
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export interface QuantParams {
  /** float32-representable scale, > 0. */
  scale: number;
  zeroPoint: number;
}

const FLOAT32_TINY = 1.1754943508222875e-38;

/** Scale and zero point for [rmin, rmax] mapped onto [qmin, qmax]. */
export function computeQuantParams(rmin: number, rmax: number, range: QuantRange, symmetric: boolean): QuantParams {
  let lo = Math.min(rmin, 0);
  let hi = Math.max(rmax, 0);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
    lo = Number.isFinite(lo) ? lo : -3.4028234663852886e38;
    hi = Number.isFinite(hi) ? hi : 3.4028234663852886e38;
  }
  const { qmin, qmax } = range;
  if (symmetric) {
    const absmax = Math.max(Math.abs(lo), Math.abs(hi));
    lo = -absmax;
    hi = absmax;
  }
  let scale = (hi - lo) / (qmax - qmin);
  if (!(scale >= FLOAT32_TINY) || !Number.isFinite(scale)) return { scale: 1, zeroPoint: 0 };
  const zeroPoint = Math.min(qmax, Math.max(qmin, roundHalfEven(qmin - lo / scale)));
  scale = Math.fround(scale);
  if (scale === 0) return { scale: 1, zeroPoint: 0 };
  return { scale, zeroPoint };
}

/** q = saturate(round_half_even(x / scale) + zp), the division done in float32 like ORT. */
export function quantizeValue(x: number, scale: number, zeroPoint: number, full: QuantRange): number {
  const q = roundHalfEven(Math.fround(x / scale)) + zeroPoint;
  return q < full.qmin ? full.qmin : q > full.qmax ? full.qmax : q;
}

export function dequantizeValue(q: number, scale: number, zeroPoint: number): number {
  return Math.fround((q - zeroPoint) * scale);
}

export function minMax(values: ArrayLike<number>, start = 0, end = values.length, stride = 1): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let i = start; i < end; i += stride) {
    const v = values[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (min === Infinity) return { min: 0, max: 0 };
  return { min, max };
}

export interface QuantizedArray {
  values: Int32Array;
  /** Elements that hit qmin/qmax although their real value lay beyond the representable range. */
  clipped: number;
}

/** Quantize a whole array with one scale/zero point. */
export function quantizeArray(x: ArrayLike<number>, p: QuantParams, full: QuantRange): QuantizedArray {
  const out = new Int32Array(x.length);
  let clipped = 0;
  const lo = (full.qmin - p.zeroPoint) * p.scale;
  const hi = (full.qmax - p.zeroPoint) * p.scale;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    out[i] = quantizeValue(v, p.scale, p.zeroPoint, full);
    if (v < lo - p.scale / 2 || v > hi + p.scale / 2) clipped++;
  }
  return { values: out, clipped };
}

export interface PerChannelResult {
  values: Int32Array;
  params: QuantParams[];
  clipped: number;
}

/**
 * Quantize a weight tensor per channel along `axis` (Conv: 0, ConvTranspose: 1, MatMul: 1 (last),
 * Gemm: 0 if transB else 1). Each channel gets its own scale/zero point from its own range.
 */
export function quantizePerChannel(
  x: ArrayLike<number>,
  shape: readonly number[],
  axis: number,
  type: QuantType,
  options: { symmetric: boolean; reduceRange?: boolean },
): PerChannelResult {
  const ax = axis < 0 ? axis + shape.length : axis;
  const channels = shape[ax] ?? 1;
  const inner = shape.slice(ax + 1).reduce((a, b) => a * b, 1);
  const outer = shape.slice(0, ax).reduce((a, b) => a * b, 1);
  const range = quantRange(type, options);
  const full = fullRange(type);
  const params: QuantParams[] = [];
  for (let c = 0; c < channels; c++) {
    let min = Infinity;
    let max = -Infinity;
    for (let o = 0; o < outer; o++) {
      const base = (o * channels + c) * inner;
      for (let i = 0; i < inner; i++) {
        const v = x[base + i]!;
        if (v < min) min = v;
        if (v > max) max = v;
      }
    }
    if (min === Infinity) min = max = 0;
    params.push(computeQuantParams(min, max, range, options.symmetric));
  }
  const values = new Int32Array(x.length);
  let clipped = 0;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const p = params[c]!;
      const base = (o * channels + c) * inner;
      const lo = (full.qmin - p.zeroPoint) * p.scale - p.scale / 2;
      const hi = (full.qmax - p.zeroPoint) * p.scale + p.scale / 2;
      for (let i = 0; i < inner; i++) {
        const v = x[base + i]!;
        values[base + i] = quantizeValue(v, p.scale, p.zeroPoint, full);
        if (v < lo || v > hi) clipped++;
      }
    }
  }
  return { values, params, clipped };
}
