/** Latency benchmark of one model in ONNX Runtime (CPU): warm-up, then N timed runs. */
import * as os from 'node:os';
import { InputError, throwIfCancelled } from '../errors';
import { loadModel } from '../onnx/model';
import type { JobContext } from '../progress';
import { createSession, type InferenceSession, type OrtTensor } from '../runtime/ort';
import type { BenchResult } from './types';
import { evaluationInputs, feedsFor, maxBatchOf, modelInputs } from './data';
import { latencyStats } from './stats';

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
}

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
  const data = evaluationInputs(model.proto, specs, options.data, batch, batch);
  batch = Math.min(batch, data.samples);
  const feeds = feedsFor(data, 0, batch);
  const session = await createSession(model.path, { threads });
  try {
    const times = await timeRuns([{ session, feeds }], runs, warmup, ctx);
    return { runs, warmup, batch, threads, inputs: data.source, ...latencyStats(times[0]!) };
  } finally {
    await session.release();
  }
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
