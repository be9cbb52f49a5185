/** Latency statistics and streaming error metrics (SQNR, cosine, max error, arg-max agreement). */
import type { LatencyStats } from './types';

/** Percentile with linear interpolation between closest ranks (NumPy's default). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * (p / 100);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function latencyStats(timesMs: readonly number[]): LatencyStats {
  const s = [...timesMs].sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 1e4) / 1e4;
  return {
    p50Ms: round(percentile(s, 50)),
    p90Ms: round(percentile(s, 90)),
    p99Ms: round(percentile(s, 99)),
    meanMs: round(s.reduce((a, b) => a + b, 0) / Math.max(1, s.length)),
    minMs: round(s[0] ?? NaN),
    maxMs: round(s[s.length - 1] ?? NaN),
  };
}

/**
 * At most `max` of the timings, evenly spaced in run order (first run always kept), rounded like
 * the percentiles. Thinning by stride keeps the shape of the distribution and any drift over time.
 */
export function thinSamples(timesMs: readonly number[], max: number): number[] {
  const count = Math.min(timesMs.length, Math.max(0, Math.floor(max)));
  const out = new Array<number>(count);
  for (let i = 0; i < count; i++) out[i] = Math.round(timesMs[Math.floor((i * timesMs.length) / count)]! * 1e4) / 1e4;
  return out;
}

/** SQNR in dB from signal and noise power; null when the noise is exactly zero (identical). */
export function sqnrDb(signal: number, noise: number): number | null {
  if (noise === 0) return null;
  if (!Number.isFinite(noise)) return -Infinity;
  return 10 * Math.log10(Math.max(signal, 1e-30) / noise);
}

/**
 * Accumulates the error of a candidate tensor against a reference over batches, in float64 so
 * that many samples do not lose precision. Memory: O(1), whatever the number of batches.
 */
export class ErrorAccumulator {
  private signal = 0;
  private noise = 0;
  private dot = 0;
  private refNorm = 0;
  private candNorm = 0;
  private rowCosineSum = 0;
  private rowCount = 0;
  maxAbsError = 0;
  /** True while a NaN or ±Infinity appeared in the candidate but not in the reference. */
  nonFinite = false;

  /** Add one batch; `rows` splits the values into equal rows for the per-row cosine (samples). */
  add(ref: ArrayLike<number>, cand: ArrayLike<number>, rows = 1): void {
    if (ref.length !== cand.length) throw new Error(`tensor sizes differ: ${ref.length} vs ${cand.length}`);
    const per = rows > 0 ? ref.length / rows : ref.length;
    for (let r = 0; r < rows; r++) {
      let dot = 0;
      let nr = 0;
      let nc = 0;
      const end = Math.round((r + 1) * per);
      for (let i = Math.round(r * per); i < end; i++) {
        const a = ref[i]!;
        const b = cand[i]!;
        const d = a - b;
        if (!Number.isFinite(b) && Number.isFinite(a)) this.nonFinite = true;
        if (Number.isNaN(d)) {
          // NaN in both at the same place (or ∞ - ∞ of the same sign) counts as agreement.
          if (!(Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b)))) this.noise = Infinity;
          continue;
        }
        dot += a * b;
        nr += a * a;
        nc += b * b;
        this.noise += d * d;
        const ad = Math.abs(d);
        if (ad > this.maxAbsError) this.maxAbsError = ad;
      }
      this.signal += nr;
      this.dot += dot;
      this.refNorm += nr;
      this.candNorm += nc;
      this.rowCosineSum += cosineOf(dot, nr, nc);
      this.rowCount++;
    }
  }

  get sqnrDb(): number | null {
    return this.nonFinite ? -Infinity : sqnrDb(this.signal, this.noise);
  }

  get identical(): boolean {
    return this.noise === 0 && !this.nonFinite;
  }

  /** Cosine of the whole tensor (all batches flattened). */
  get cosine(): number {
    return cosineOf(this.dot, this.refNorm, this.candNorm);
  }

  /** Mean of the per-row cosines. */
  get meanRowCosine(): number {
    return this.rowCount ? this.rowCosineSum / this.rowCount : 1;
  }

  /** Relative noise power (noise / signal), the quantity that adds up along a network. */
  get noiseRatio(): number {
    if (this.nonFinite) return Infinity;
    return this.noise / Math.max(this.signal, 1e-30);
  }
}

function cosineOf(dot: number, a: number, b: number): number {
  if (a === 0 && b === 0) return 1;
  if (a === 0 || b === 0) return 0;
  return dot / Math.sqrt(a * b);
}

/** Arg-max over the last axis for each row of `values` (row length `width`). */
export function argmaxRows(values: ArrayLike<number>, width: number): Int32Array {
  const rows = width > 0 ? Math.floor(values.length / width) : 0;
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    let bestValue = -Infinity;
    for (let j = 0; j < width; j++) {
      const v = values[r * width + j]!;
      if (v > bestValue) {
        bestValue = v;
        best = j;
      }
    }
    out[r] = best;
  }
  return out;
}

/** JSON-safe number: ±Infinity and NaN have no JSON form. */
export function finiteOr<T>(x: number, fallback: T): number | T {
  return Number.isFinite(x) ? x : fallback;
}

export function round(x: number, digits = 4): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
