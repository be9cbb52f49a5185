/**
 * Latency benchmark of one model in ONNX Runtime (CPU): warm-up, then N timed runs, alternating
 * with a second session on the same model (the A/A control: two copies of one model must time
 * within ±5 % of each other, or the figures are noise). Sessions timed in alternation run
 * without spinning threads, so that neither takes CPU from the other.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { InputError, throwIfCancelled } from '../errors';
import { loadModel } from '../onnx/model';
import type { JobContext } from '../progress';
import { createSession, type InferenceSession, type OrtTensor } from '../runtime/ort';
import type { BenchResult, LatencyControl } from './types';
import type { InputOverrides } from '../data/probe';
import { describeInputs, evaluationInputs, feedsFor, maxBatchOf, modelInputs } from './data';
import { latencyStats, round } from './stats';

export interface BenchOptions {
  /** `.npy` file or folder of `INPUTNAME.npy`; generated inputs when absent. */
  data?: string | undefined;
  /** Samples per run; default 1. */
  batch?: number | undefined;
  /** Timed runs; default 100. */
  runs?: number | undefined;
  /** Untimed runs first; default 10. */
  warmup?: number | undefined;
  /** Intra-op threads; default: every logical CPU. */
  threads?: number | undefined;
  /** Shapes for symbolic dims and stated input values (generated inputs). */
  inputs?: InputOverrides | undefined;
  /**
   * Folders, besides a data folder itself, that its entries may lead into through links (the
   * workspace folders in the editor); default: the model's folder. A file given directly is not confined.
   */
  dataRoots?: string[] | undefined;
}

/** Two sessions on one model must time within this share of each other (the A/A control). */
export const CONTROL_TOLERANCE = 0.05;

/** Threads used when none are asked for, stated explicitly so that reports tell the truth. */
export function defaultThreads(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

export async function benchModel(modelPath: string, options: BenchOptions = {}, ctx: JobContext = {}): Promise<BenchResult> {
  const runs = positiveInt(options.runs ?? 100, 'runs', 1);
  const warmup = positiveInt(options.warmup ?? 10, 'warmup', 0);
  const threads = positiveInt(options.threads ?? defaultThreads(), 'threads', 1);
  let batch = positiveInt(options.batch ?? 1, 'batch', 1);
  ctx.onProgress?.({ stage: 'loading', fraction: 0 });
  const model = loadModel(modelPath);
  const specs = modelInputs(model.proto);
  const limit = maxBatchOf(specs);
  if (batch > limit) throw new InputError(`--batch ${batch}: the model's inputs have a fixed batch dimension of ${limit}`);
  const data = evaluationInputs(model.proto, specs, options.data, batch, options.inputs, options.dataRoots ?? [path.dirname(path.resolve(modelPath))]);
  batch = Math.min(batch, data.samples);
  const feeds = feedsFor(data, 0, batch);
  const session = await createSession(model.path, { threads, spinning: false });
  const twin = await createSession(model.path, { threads, spinning: false }).catch(async (e: unknown) => {
    await session.release();
    throw e;
  });
  try {
    const [times, twinTimes] = await timeRuns([{ session, feeds }, { session: twin, feeds }], runs, warmup, ctx);
    const stats = latencyStats(times!);
    return { runs, warmup, batch, threads, inputs: data.source, inputShapes: describeInputs(data, batch), ...stats, control: latencyControl(stats.p50Ms, latencyStats(twinTimes!).p50Ms) };
  } finally {
    await session.release();
    await twin.release();
  }
}

/** The A/A control: a second session on the reference model, timed in the same alternation. */
export function latencyControl(referenceP50: number, controlP50: number): LatencyControl {
  const ratio = round(controlP50 / referenceP50, 4);
  return { p50Ms: controlP50, ratio, withinTolerance: Math.abs(ratio - 1) <= CONTROL_TOLERANCE };
}

export interface TimedModel {
  session: InferenceSession;
  feeds: Record<string, OrtTensor>;
}

/**
 * Warm each model up, then time `runs` runs of each, alternating between models run by run so
 * that machine noise (other processes, frequency changes) falls on all of them alike.
 * Returns milliseconds per run, one array per model.
 */
export async function timeRuns(models: TimedModel[], runs: number, warmup: number, ctx: JobContext = {}): Promise<number[][]> {
  for (const m of models) {
    for (let i = 0; i < warmup; i++) {
      throwIfCancelled(ctx.signal);
      await m.session.run(m.feeds);
    }
  }
  const times = models.map(() => new Array<number>(runs));
  const step = Math.max(1, Math.floor(runs / 20));
  for (let r = 0; r < runs; r++) {
    throwIfCancelled(ctx.signal);
    for (let k = 0; k < models.length; k++) {
      const m = models[k]!;
      const start = process.hrtime.bigint();
      await m.session.run(m.feeds);
      times[k]![r] = Number(process.hrtime.bigint() - start) / 1e6;
    }
    if (r % step === 0) ctx.onProgress?.({ stage: 'benchmarking', fraction: r / runs, message: `run ${r + 1}/${runs}` });
  }
  return times;
}

function positiveInt(v: number, name: string, min: number): number {
  if (!Number.isSafeInteger(v) || v < min) throw new InputError(`--${name} expects a whole number ≥ ${min}, got ${v}`);
  return v;
}
