/**
 * The quantizer's speed check: after saving, the float and the quantized model are timed in
 * alternation on the validation probe's inputs (batch 1, or the model's fixed batch), together
 * with a second float session as the A/A control, for about a second. The result states the
 * speedup with its noise, and says so when the quantized model is slower than float on this CPU;
 * `--require-speedup X` keeps op groups float until it is met (speedRequirement.ts).
 */
import { CancelledError } from '../errors';
import { adaptInputData, feedsFor, type InputSpec } from '../evaluate/data';
import { defaultThreads, timeRuns, type TimedModel } from '../evaluate/bench';
import { percentile, round } from '../evaluate/stats';
import type { QuantizeSpeed } from '../evaluate/types';
import type { JobContext } from '../progress';
import { cpuFlagsText } from '../report/environment';
import { createSession, type InferenceSession } from '../runtime/ort';
import type { QuantMode } from './types';
import type { Probe } from './validate';
import { weightOnlyAlternatives } from './speedAlternatives';

/** Wall time the timed rounds aim at (each round runs all three sessions once). */
const BUDGET_MS = 1000;
const MIN_RUNS = 20;
const MAX_RUNS = 1000;
const WARMUP = 3;

export interface SpeedCheckInput {
  floatModel: string;
  quantizedModel: string;
  /** The validation probe (its first run's inputs are timed), or how to make one. */
  probe: Probe | (() => Probe);
  /** The quantized model's inputs (their types may differ: fp16 inputs). */
  quantizedInputs: InputSpec[];
  mode: QuantMode;
  /** Weight-only: the accuracy level written (the others are timed when the output is not faster). */
  accuracyLevel?: number;
  threads?: number;
}

/**
 * The validation probe when there is one, else one made now for the speed check alone; a probe
 * that cannot be made (validation off, inputs too large to generate) fails only the speed check.
 */
export function speedProbeOf(probe: Probe | undefined, make: () => Probe): Probe | (() => Probe) {
  if (probe) return probe;
  try {
    const made = make();
    return made;
  } catch (e) {
    return () => {
      throw e;
    };
  }
}

/**
 * Weight-only and not faster: the other accuracy levels and dynamic int8, timed against float in
 * one alternation; the summary says which pays here, or "smaller, not faster here".
 */
async function withAlternatives(speed: QuantizeSpeed, input: SpeedCheckInput, ctx: JobContext): Promise<QuantizeSpeed> {
  const alternatives = await weightOnlyAlternatives(input.floatModel, input.quantizedModel, input.accuracyLevel ?? 0);
  if (!alternatives.length) return speed;
  const probe = typeof input.probe === 'function' ? input.probe() : input.probe;
  const feeds = feedsFor(probe.data, 0, probe.batch);
  const quantizedFeeds = feedsFor(adaptInputData(probe.data, input.quantizedInputs), 0, probe.batch);
  const sessions: InferenceSession[] = [];
  try {
    const options = { threads: speed.threads, spinning: false };
    sessions.push(await createSession(input.floatModel, options));
    for (const a of alternatives) sessions.push(await createSession(a.model, options));
    const models: TimedModel[] = sessions.map((session, i) => ({ session, feeds: i > 0 && alternatives[i - 1]?.label.startsWith('accuracy') ? quantizedFeeds : feeds }));
    const runs = Math.max(MIN_RUNS, Math.min(speed.runs, Math.floor((BUDGET_MS * 3) / Math.max(1e-3, speed.floatP50Ms * sessions.length))));
    const [floatTimes = [], ...times] = await timeRuns(models, runs, WARMUP, { signal: ctx.signal });
    const median = (xs: readonly number[]) => percentile([...xs].sort((a, b) => a - b), 50);
    const floatP50 = median(floatTimes);
    const measured = alternatives.map((a, i) => ({ label: a.label, speedup: round(floatP50 / median(times[i] ?? []), 3) }));
    const faster = measured.filter((m) => m.speedup > 1 + speed.noise).sort((a, b) => b.speedup - a.speedup);
    const figures = measured.map((m) => `${m.label} ${m.speedup.toFixed(2)}×`).join(', ');
    const best = faster[0];
    const advice = !best
      ? `smaller, not faster here: no weight-only setting is faster than float on this CPU (${figures})`
      : best.label === 'dynamic int8'
        ? `smaller, not faster here; dynamic int8 is ${best.speedup.toFixed(2)}× faster than float (--mode dynamic; ${figures})`
        : `${best.label} is ${best.speedup.toFixed(2)}× faster than float here (--accuracy-level ${best.label.replace('accuracy level ', '')}; ${figures})`;
    return { ...speed, alternatives: measured, summary: `${speed.summary}; ${advice}` };
  } finally {
    for (const s of sessions) await s.release();
  }
}

/** Time float vs quantized in alternation. */
export async function measureSpeed(input: SpeedCheckInput, ctx: JobContext = {}): Promise<QuantizeSpeed> {
  const threads = input.threads ?? defaultThreads();
  const options = { threads, spinning: false };
  const probe = typeof input.probe === 'function' ? input.probe() : input.probe;
  const feeds = feedsFor(probe.data, 0, probe.batch);
  const quantizedFeeds = feedsFor(adaptInputData(probe.data, input.quantizedInputs), 0, probe.batch);
  const sessions: InferenceSession[] = [];
  try {
    for (const file of [input.floatModel, input.quantizedModel, input.floatModel]) sessions.push(await createSession(file, options));
    const models: TimedModel[] = sessions.map((session, i) => ({ session, feeds: i === 1 ? quantizedFeeds : feeds }));
    // A first short round (after warm-up) sizes the timed one to the budget.
    const first = await timeRuns(models, 2, WARMUP, { signal: ctx.signal });
    const roundMs = Math.max(1e-3, first.reduce((sum, times) => sum + Math.min(...times), 0));
    const runs = Math.max(MIN_RUNS, Math.min(MAX_RUNS, Math.floor(BUDGET_MS / roundMs)));
    const [floatTimes = [], quantTimes = [], controlTimes = []] = await timeRuns(models, runs, 0, { signal: ctx.signal });
    return speedFigures(floatTimes, quantTimes, controlTimes, { mode: input.mode, threads, batch: probe.batch, inputShapes: probe.shapes });
  } finally {
    for (const s of sessions) await s.release();
  }
}

/** The figures and verdict from three alternating series of run times (ms). */
export function speedFigures(
  floatTimes: readonly number[],
  quantTimes: readonly number[],
  controlTimes: readonly number[],
  at: { mode: QuantMode; threads: number; batch: number; inputShapes: string; cpuFlags?: string },
): QuantizeSpeed {
  const median = (xs: readonly number[]) => percentile([...xs].sort((a, b) => a - b), 50);
  const floatP50 = median(floatTimes);
  const quantP50 = median(quantTimes);
  const speedup = floatP50 / quantP50;
  const controlRatio = median(controlTimes) / floatP50;
  // 95 % interval of the median of the paired ratios (round by round): 1.57·IQR/√n (McGill et al.).
  const ratios = floatTimes.map((f, i) => f / (quantTimes[i] ?? NaN)).filter(Number.isFinite).sort((a, b) => a - b);
  const iqr = percentile(ratios, 75) - percentile(ratios, 25);
  const interval = (1.57 * iqr) / Math.sqrt(Math.max(1, ratios.length)) / Math.max(1e-12, percentile(ratios, 50));
  const noise = Math.max(Math.abs(controlRatio - 1), interval);
  const verdict = speedup > 1 + noise ? 'faster' : speedup < 1 - noise ? 'slower' : 'same';
  const cpuFlags = at.cpuFlags ?? cpuFlagsText();
  const figures = `float ${floatP50.toFixed(3)} ms, quantized ${quantP50.toFixed(3)} ms at batch ${at.batch}, ${floatTimes.length} alternating runs, ±${(noise * 100).toFixed(1)} % noise`;
  const summary =
    verdict === 'faster'
      ? `${speedup.toFixed(2)}× faster than float (${figures})`
      : verdict === 'slower'
        ? `slower than float on this CPU (flags: ${cpuFlags}): ${speedup.toFixed(2)}× (${figures}); ${SLOWER_HINT[at.mode]}`
        : `no faster than float on this CPU (flags: ${cpuFlags}): ${speedup.toFixed(2)}×, within the noise (${figures})`;
  return {
    floatP50Ms: round(floatP50, 4),
    quantizedP50Ms: round(quantP50, 4),
    speedup: round(speedup, 3),
    noise: round(noise, 4),
    controlRatio: round(controlRatio, 4),
    verdict,
    runs: floatTimes.length,
    batch: at.batch,
    threads: at.threads,
    inputShapes: at.inputShapes,
    cpuFlags,
    summary,
  };
}

/** What to keep float when a mode comes out slower. */
const SLOWER_HINT: Record<QuantMode, string> = {
  dynamic:
    'small MatMul/Gemm layers cost more quantizing their activations at run time than the integer product saves, and ConvInteger is never fused: keep them float (--exclude-nodes, --op-types), or use --mode static with calibration data',
  static: 'Q/DQ pairs ONNX Runtime does not fuse on this CPU run as extra steps: keep the unfused layers float (inspect shows them as risks)',
  'weight-only': 'MatMulNBits has no faster kernel here for these shapes',
  fp16: 'fp16 weights are cast back to float32 at run time on CPU: smaller, not faster',
};

/**
 * The quantizer's step: measure, warn when slower. A measurement that cannot be taken is a
 * warning (`--require-speedup` then fails the run: speedRequirement.ts).
 */
export async function quantizeSpeedCheck(
  input: SpeedCheckInput,
  discard: () => void,
  warnings: string[],
  ctx: JobContext,
): Promise<QuantizeSpeed | undefined> {
  ctx.onProgress?.({ stage: 'speed check', fraction: 0.98, message: 'float vs quantized latency, alternating' });
  let speed: QuantizeSpeed;
  try {
    speed = await measureSpeed(input, ctx);
  } catch (e) {
    if (e instanceof CancelledError) {
      discard();
      throw e;
    }
    warnings.push(`speed not measured: ${(e as Error).message.split('\n')[0]}`);
    return undefined;
  }
  if (input.mode === 'weight-only' && speed.verdict !== 'faster') {
    try {
      speed = await withAlternatives(speed, input, ctx);
    } catch (e) {
      if (e instanceof CancelledError) {
        discard();
        throw e;
      }
      warnings.push(`faster settings not measured: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  if (speed.verdict === 'slower') warnings.push(speed.summary);
  return speed;
}
