/**
 * Per-tensor range estimation from a stream of batches: MinMax (optionally a moving average of
 * per-batch extremes), Percentile and Entropy (KL, TensorRT-style) from streaming histograms.
 * State per tensor is O(bins), never O(samples).
 */
import type { CalibrationMethod } from '../quantize/types';
import { entropyThreshold, histogramQuantile, StreamingHistogram } from './histogram';

export interface RangeOptions {
  method: CalibrationMethod;
  /** Histogram bins (percentile, entropy); default 2048. */
  bins?: number;
  /** Percentile kept on each side, e.g. 99.99; default 99.99. */
  percentile?: number;
  /** MinMax: exponential moving average of per-batch extremes instead of global extremes. */
  movingAverage?: boolean;
  /** Weight of the new batch in the moving average; default 0.01 (as ORT). */
  averagingConstant?: number;
  /** Entropy: number of quantized levels the KL search assumes; default 128 (as TensorRT/ORT). */
  quantizedBins?: number;
}

export interface TensorRange {
  min: number;
  max: number;
}

/** Range estimator for one tensor. */
export class TensorCalibrator {
  private min = Infinity;
  private max = -Infinity;
  private avgMin = 0;
  private avgMax = 0;
  private batches = 0;

  /** Whether any value was fed (NaNs and empty tensors are not values). */
  get seen(): boolean {
    return this.batches > 0;
  }
  private readonly hist: StreamingHistogram | undefined;

  constructor(readonly options: RangeOptions) {
    if (options.method !== 'minmax') this.hist = new StreamingHistogram(options.bins ?? 2048);
  }

  update(values: ArrayLike<number>): void {
    let bmin = Infinity;
    let bmax = -Infinity;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (v < bmin) bmin = v;
      if (v > bmax) bmax = v;
    }
    if (bmin === Infinity) return;
    if (bmin < this.min) this.min = bmin;
    if (bmax > this.max) this.max = bmax;
    if (this.batches === 0) {
      this.avgMin = bmin;
      this.avgMax = bmax;
    } else {
      const c = this.options.averagingConstant ?? 0.01;
      this.avgMin += c * (bmin - this.avgMin);
      this.avgMax += c * (bmax - this.avgMax);
    }
    this.batches++;
    // Entropy works on |x| (a symmetric threshold) without exact zeros, percentile on signed values.
    const entropy = this.options.method === 'entropy';
    this.hist?.add(values, entropy, entropy);
  }

  /** The calibrated range (before the quantizer forces it to contain 0). */
  range(): TensorRange {
    if (this.batches === 0) return { min: 0, max: 0 };
    switch (this.options.method) {
      case 'minmax':
        return this.options.movingAverage ? { min: this.avgMin, max: this.avgMax } : { min: this.min, max: this.max };
      case 'percentile': {
        const h = this.hist!;
        const p = (this.options.percentile ?? 99.99) / 100;
        const lo = histogramQuantile(h, 1 - p);
        const hi = histogramQuantile(h, p);
        return { min: Math.max(this.min, lo), max: Math.min(this.max, hi) };
      }
      case 'entropy': {
        const t = entropyThreshold(this.hist!, this.options.quantizedBins ?? 128);
        return { min: Math.max(this.min, -t), max: Math.min(this.max, t) };
      }
    }
  }

  stateBytes(): number {
    return 64 + (this.hist?.stateBytes() ?? 0);
  }
}

/** Range estimators for a set of tensors. */
export class Calibrator {
  private readonly tensors = new Map<string, TensorCalibrator>();

  constructor(
    names: Iterable<string>,
    readonly options: RangeOptions,
  ) {
    for (const n of names) this.tensors.set(n, new TensorCalibrator(options));
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  update(name: string, values: ArrayLike<number>): void {
    this.tensors.get(name)?.update(values);
  }

  ranges(): Map<string, TensorRange> {
    const out = new Map<string, TensorRange>();
    // A tensor only ever seen empty (a branch output no sample produced) has no range.
    for (const [name, c] of this.tensors) if (c.seen) out.set(name, c.range());
    return out;
  }

  /** Memory held by the calibration state: grows with the number of tensors, not of samples. */
  stateBytes(): number {
    let s = 0;
    for (const c of this.tensors.values()) s += c.stateBytes();
    return s;
  }
}
