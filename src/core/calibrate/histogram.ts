/**
 * A histogram of fixed size that grows its range as data arrives, so calibration memory does not
 * depend on the number of samples (ORT's histogram calibrators keep every batch: issue #10503).
 *
 * The range only ever doubles, anchored on the side that does not need to move: every new bin is
 * then exactly two old bins, so merging loses no counts and no resolution beyond the doubling.
 */
export class StreamingHistogram {
  readonly counts: Float64Array;
  /** Current bin range [lo, hi), set by the first non-empty batch and always containing 0. */
  lo = 0;
  hi = 0;
  /** Exact extremes seen (of the values fed, i.e. of |x| for an absolute histogram). */
  min = Infinity;
  max = -Infinity;
  total = 0;
  private started = false;

  constructor(readonly bins = 2048) {
    if (!Number.isInteger(bins) || bins < 2 || bins % 2 !== 0) throw new RangeError(`histogram bins must be an even integer ≥ 2, got ${bins}`);
    this.counts = new Float64Array(bins);
  }

  /**
   * Add values (or their absolute values when `abs`); NaNs are ignored, and exact zeros too when
   * `skipZeros` (entropy: 0 is exact at any threshold, and the spike a ReLU leaves there would
   * otherwise dominate the KL search and clip real values).
   */
  add(values: ArrayLike<number>, abs = false, skipZeros = false): void {
    let bmin = Infinity;
    let bmax = -Infinity;
    for (let i = 0; i < values.length; i++) {
      let v = values[i]!;
      if (abs && v < 0) v = -v;
      if (v < bmin) bmin = v;
      if (v > bmax) bmax = v;
    }
    if (bmin === Infinity) return; // empty or all NaN
    bmin = clampFinite(bmin);
    bmax = clampFinite(bmax);
    if (bmin < this.min) this.min = bmin;
    if (bmax > this.max) this.max = bmax;
    if (!this.started) {
      // Anchored on 0 (quantization ranges always contain it; |x| histograms start there).
      this.lo = Math.min(bmin, 0);
      const hi = Math.max(bmax, 0);
      this.hi = hi > this.lo ? hi : this.lo + 1e-12;
      this.started = true;
    }
    this.growTo(bmin, bmax);
    const n = this.bins;
    const lo = this.lo;
    const k = n / (this.hi - this.lo);
    const counts = this.counts;
    for (let i = 0; i < values.length; i++) {
      let v = values[i]!;
      if (v !== v || (skipZeros && v === 0)) continue;
      if (abs && v < 0) v = -v;
      let b = Math.floor((v - lo) * k);
      if (b < 0) b = 0;
      else if (b >= n) b = n - 1;
      counts[b]!++;
      this.total++;
    }
  }

  /** Double the range (merging bin pairs) until [bmin, bmax] fits. */
  private growTo(bmin: number, bmax: number): void {
    const n = this.bins;
    const half = n / 2;
    const counts = this.counts;
    while (bmin < this.lo || bmax >= this.hi) {
      const width = this.hi - this.lo;
      const growUp = bmax >= this.hi;
      const merged = new Float64Array(half);
      for (let j = 0; j < half; j++) merged[j] = counts[2 * j]! + counts[2 * j + 1]!;
      counts.fill(0);
      if (growUp) {
        counts.set(merged, 0);
        this.hi = this.lo + 2 * width;
      } else {
        counts.set(merged, half);
        this.lo = this.hi - 2 * width;
      }
      if (!Number.isFinite(this.hi - this.lo)) break;
    }
  }

  get binWidth(): number {
    return (this.hi - this.lo) / this.bins;
  }

  /** Bytes held by this histogram: constant, whatever was fed. */
  stateBytes(): number {
    return this.counts.byteLength + 64;
  }
}

function clampFinite(v: number): number {
  return v > 3.4e38 ? 3.4e38 : v < -3.4e38 ? -3.4e38 : v;
}

/** The value below which `fraction` of the histogram's mass lies (linear inside the bin). */
export function histogramQuantile(h: StreamingHistogram, fraction: number): number {
  if (h.total === 0) return 0;
  const target = Math.min(Math.max(fraction, 0), 1) * h.total;
  let acc = 0;
  const w = h.binWidth;
  for (let b = 0; b < h.bins; b++) {
    const c = h.counts[b]!;
    if (acc + c >= target && c > 0) {
      const inside = (target - acc) / c;
      return h.lo + (b + inside) * w;
    }
    acc += c;
  }
  return h.hi;
}

/**
 * TensorRT-style entropy threshold on a histogram of |x| starting at 0: the cut that minimises
 * KL(P‖Q) between the clipped distribution P (outliers folded into the last bin) and its
 * quantization Q onto `quantizedBins` levels. Returns the threshold in value units.
 */
export function entropyThreshold(h: StreamingHistogram, quantizedBins = 128): number {
  if (h.total === 0) return 0;
  const n = h.bins;
  const counts = h.counts;
  // Only consider bins up to the last non-empty one.
  let last = n;
  while (last > 0 && counts[last - 1] === 0) last--;
  if (last <= quantizedBins) return h.lo + last * h.binWidth;
  let bestKl = Infinity;
  let bestI = last;
  const suffix = new Float64Array(n + 1);
  for (let b = n - 1; b >= 0; b--) suffix[b] = suffix[b + 1]! + counts[b]!;
  const p = new Float64Array(n);
  const q = new Float64Array(n);
  for (let i = quantizedBins; i <= last; i++) {
    // P: first i bins, everything beyond folded into bin i-1.
    for (let b = 0; b < i; b++) p[b] = counts[b]!;
    p[i - 1]! += suffix[i]!;
    // Q: the first i bins merged into `quantizedBins` groups, each spread evenly over its non-empty bins.
    const perGroup = i / quantizedBins;
    for (let g = 0; g < quantizedBins; g++) {
      const start = Math.floor(g * perGroup);
      const end = g === quantizedBins - 1 ? i : Math.floor((g + 1) * perGroup);
      let sum = 0;
      let nonzero = 0;
      for (let b = start; b < end; b++) {
        sum += counts[b]!;
        if (counts[b] !== 0) nonzero++;
      }
      const each = nonzero > 0 ? sum / nonzero : 0;
      for (let b = start; b < end; b++) q[b] = counts[b] !== 0 ? each : 0;
    }
    // The folded outliers sit in bin i-1 of P; Q keeps the unclipped value there (as TensorRT does).
    let pSum = 0;
    let qSum = 0;
    for (let b = 0; b < i; b++) {
      pSum += p[b]!;
      qSum += q[b]!;
    }
    let kl = 0;
    for (let b = 0; b < i; b++) {
      const pb = p[b]!;
      if (pb === 0) continue;
      const qb = q[b]!;
      // A bin with mass in P but none in Q: heavy penalty, not infinity (keeps every candidate comparable).
      kl += qb === 0 ? (pb / pSum) * 20 : (pb / pSum) * Math.log(pb / pSum / (qb / qSum));
    }
    if (kl < bestKl) {
      bestKl = kl;
      bestI = i;
    }
  }
  return h.lo + (bestI + 0.5) * h.binWidth;
}
