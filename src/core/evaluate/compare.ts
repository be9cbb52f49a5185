/**
 * Reference vs candidate on the same inputs: size on disk, latency (timed in alternation),
 * fidelity of the first output (arg-max agreement, cosine, SQNR, max error), labelled accuracy,
 * and optionally the per-layer error ranking.
 */
import * as path from 'node:path';
import { InputError, throwIfCancelled } from '../errors';
import { loadModel, modelDiskBytes, type OnnxModel } from '../onnx/model';
import type { JobContext } from '../progress';
import { createSession, type InferenceSession } from '../runtime/ort';
import { npyToFloat32, readNpy } from '../data/npy';
import { MAX_LATENCY_SAMPLES, type CompareResult, type FidelityResult, type SizeComparison } from './types';
import type { InputOverrides } from '../data/probe';
import { defaultThreads, latencyControl, timeRuns } from './bench';
import { adaptInputData, checkSameInputs, describeInputs, evaluationInputs, feedsFor, firstSamples, maxBatchOf, modelInputs, type InputData } from './data';
import { perLayerErrors } from './perLayer';
import { asFloat32, maxBatchOfSession } from './session';
import { argmaxRows, ErrorAccumulator, latencyStats, round, thinSamples } from './stats';

export interface CompareOptions {
  /** `.npy` file or folder of `INPUTNAME.npy`; generated inputs when absent. */
  data?: string | undefined;
  /** Integer class labels `.npy`, one per row of the first output (needs data). */
  labels?: string | undefined;
  /** Timed runs per model; default 50. */
  runs?: number | undefined;
  warmup?: number | undefined;
  /** Samples per timed run; default 1 (per-request latency). */
  batch?: number | undefined;
  threads?: number | undefined;
  perLayer?: boolean | undefined;
  /** Samples generated when no data is given; default 64. */
  generatedSamples?: number | undefined;
  /** Samples used for the per-layer ranking (it runs unoptimised copies); default 256. */
  perLayerSamples?: number | undefined;
  /** Shapes for symbolic dims and stated input values (generated inputs; stated values also with data). */
  inputs?: InputOverrides | undefined;
  /**
   * Folders, besides a data folder itself, that its entries may lead into through links (the
   * workspace folders in the editor); default: the reference model's folder. A file given directly is not confined.
   */
  dataRoots?: string[] | undefined;
}

/** Samples per run when measuring fidelity (bounded memory, few runs). */
const EVAL_BATCH = 64;

export async function compareModels(referencePath: string, candidatePath: string, options: CompareOptions = {}, ctx: JobContext = {}): Promise<CompareResult> {
  const reference = loadModel(referencePath);
  const candidate = loadModel(candidatePath);
  const specs = modelInputs(reference.proto);
  const candidateSpecs = modelInputs(candidate.proto);
  checkSameInputs(specs, candidateSpecs);
  if (options.labels && !options.data) throw new InputError('--labels needs --data (the samples the labels belong to)');
  const data = evaluationInputs(reference.proto, specs, options.data, options.generatedSamples ?? 64, options.inputs, options.dataRoots ?? [path.dirname(path.resolve(referencePath))]);
  const candidateData = adaptInputData(data, candidateSpecs);
  const labels = options.labels ? readLabels(options.labels) : undefined;
  const threads = options.threads ?? defaultThreads();
  const size = sizeComparison(reference, candidate);

  ctx.onProgress?.({ stage: 'loading', fraction: 0.02 });
  // Timed in alternation: no spinning threads, and a second reference session as the A/A control.
  const sessionOptions = { threads, spinning: false };
  const refSession = await createSession(reference.path, sessionOptions);
  const candSession = await createSession(candidate.path, sessionOptions).catch(async (e: unknown) => {
    await refSession.release();
    throw e;
  });
  const controlSession = await createSession(reference.path, sessionOptions).catch(async (e: unknown) => {
    await refSession.release();
    await candSession.release();
    throw e;
  });
  try {
    ctx.onProgress?.({ stage: 'evaluating', fraction: 0.05 });
    const accuracy = await measureFidelity(refSession, candSession, data, labels, ctx, candidateData);
    // Where the samples came from, for reports and the dashboard ("digits_test_x.npy, 360 samples, labelled").
    if (options.data) accuracy.dataFile = options.data;
    if (options.labels) accuracy.labelsFile = options.labels;
    const runs = options.runs ?? 50;
    const warmup = options.warmup ?? 5;
    if (!Number.isSafeInteger(runs) || runs < 1) throw new InputError(`--runs expects a whole number ≥ 1, got ${runs}`);
    const batch = Math.max(1, Math.min(options.batch ?? 1, data.samples, maxBatchOf(specs)));
    ctx.onProgress?.({ stage: 'benchmarking', fraction: 0.3 });
    const refFeeds = feedsFor(data, 0, batch);
    const [refTimes, candTimes, controlTimes] = await timeRuns(
      [
        { session: refSession, feeds: refFeeds },
        { session: candSession, feeds: feedsFor(candidateData, 0, batch) },
        { session: controlSession, feeds: refFeeds },
      ],
      runs,
      warmup,
      { signal: ctx.signal, onProgress: (p) => ctx.onProgress?.({ ...p, fraction: 0.3 + 0.4 * (p.fraction ?? 0) }) },
    );
    // Percentiles from every run; only the kept timings are thinned.
    const ref = { ...latencyStats(refTimes!), samplesMs: thinSamples(refTimes!, MAX_LATENCY_SAMPLES) };
    const cand = { ...latencyStats(candTimes!), samplesMs: thinSamples(candTimes!, MAX_LATENCY_SAMPLES) };
    const result: CompareResult = {
      reference: reference.path,
      candidate: candidate.path,
      size,
      latency: {
        reference: ref,
        candidate: cand,
        speedup: round(ref.p50Ms / cand.p50Ms, 3),
        runs,
        batch,
        threads,
        control: latencyControl(ref.p50Ms, latencyStats(controlTimes!).p50Ms),
        inputShapes: describeInputs(data, batch),
      },
      accuracy,
    };
    if (options.perLayer) {
      ctx.onProgress?.({ stage: 'per-layer', fraction: 0.7 });
      result.layers = await perLayerErrors(reference, candidate, firstSamples(data, options.perLayerSamples ?? 256), { threads }, ctx);
    }
    ctx.onProgress?.({ stage: 'done', fraction: 1 });
    return result;
  } finally {
    await refSession.release();
    await candSession.release();
    await controlSession.release();
  }
}

export function sizeComparison(reference: OnnxModel, candidate: OnnxModel): SizeComparison {
  const referenceBytes = modelDiskBytes(reference);
  const candidateBytes = modelDiskBytes(candidate);
  return { referenceBytes, candidateBytes, ratio: round(referenceBytes / candidateBytes, 3) };
}

/** Class labels as integers (any integer or float dtype; must hold whole numbers). */
export function readLabels(file: string): Int32Array {
  const arr = readNpy(file);
  const values = npyToFloat32(arr);
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isInteger(v)) throw new InputError(`labels '${file}' hold a non-integer value ${v} at ${i}`);
    out[i] = v;
  }
  return out;
}

/**
 * Run both sessions over all samples (EVAL_BATCH at a time) and measure the candidate's first
 * output against the reference's. The candidate's output is matched by name, else its first.
 */
export async function measureFidelity(
  reference: InferenceSession,
  candidate: InferenceSession,
  data: InputData,
  labels: Int32Array | undefined,
  ctx: JobContext = {},
  /** The same samples in the candidate's input types, when they differ (float16 inputs). */
  candidateData: InputData = data,
): Promise<FidelityResult> {
  const refOut = reference.outputNames[0];
  if (!refOut) throw new InputError('the reference model has no outputs');
  const candOut = candidate.outputNames.includes(refOut) ? refOut : candidate.outputNames[0]!;
  const step = Math.max(1, Math.min(EVAL_BATCH, maxBatchOfSession(reference)));
  const acc = new ErrorAccumulator();
  let rows = 0;
  let agree = 0;
  let refCorrect = 0;
  let candCorrect = 0;
  for (let start = 0; start < data.samples; start += step) {
    throwIfCancelled(ctx.signal);
    const count = Math.min(step, data.samples - start);
    const feeds = feedsFor(data, start, count);
    const r = (await reference.run(feeds, [refOut]))[refOut]!;
    const c = (await candidate.run(candidateData === data ? feeds : feedsFor(candidateData, start, count), [candOut]))[candOut]!;
    const rv = asFloat32(r);
    const cv = asFloat32(c);
    if (rv.length !== cv.length) {
      throw new InputError(`outputs differ in shape: reference '${refOut}' [${r.dims.join(', ')}], candidate '${candOut}' [${c.dims.join(', ')}]`);
    }
    acc.add(rv, cv, count);
    const width = r.dims.length ? Number(r.dims[r.dims.length - 1]) : 1;
    const ra = argmaxRows(rv, width);
    const ca = argmaxRows(cv, width);
    for (let i = 0; i < ra.length; i++) {
      if (ra[i] === ca[i]) agree++;
      if (labels) {
        const label = labels[rows + i];
        if (label === undefined) throw new InputError(`labels hold ${labels.length} values, fewer than the ${rows + ra.length}+ output rows`);
        if (ra[i] === label) refCorrect++;
        if (ca[i] === label) candCorrect++;
      }
    }
    rows += ra.length;
    ctx.onProgress?.({ stage: 'evaluating', message: `${start + count}/${data.samples} samples` });
  }
  if (labels && labels.length !== rows) throw new InputError(`labels hold ${labels.length} values, the output has ${rows} rows`);
  const sqnr = acc.sqnrDb;
  const result: FidelityResult = {
    samples: data.samples,
    agreement: round(agree / Math.max(1, rows), 6),
    cosine: round(acc.meanRowCosine, 6),
    sqnrDb: sqnr === null || !Number.isFinite(sqnr) ? null : round(sqnr, 3),
    identical: acc.identical,
    maxAbsError: Number.isFinite(acc.maxAbsError) ? acc.maxAbsError : Number.MAX_VALUE,
    output: refOut,
    inputs: data.source,
  };
  if (labels) {
    result.referenceAccuracy = round(refCorrect / rows, 6);
    result.candidateAccuracy = round(candCorrect / rows, 6);
  }
  return result;
}
