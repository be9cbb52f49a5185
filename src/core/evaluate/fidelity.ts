/**
 * Fidelity of a quantized model against its float model, for every quantization result: both run
 * on the same inputs (the calibration data for static mode, the user's `--data`, else generated
 * probe inputs) and every output is measured: SQNR, cosine, arg-max agreement. Below the floor
 * (20 dB or cosine 0.99 by default) the result says so and names the worst layers, ranked by the
 * per-layer error (perLayer.ts), so that they can be kept in float.
 */
import { exclusionList, withExclusions } from './exclusion';
import { throwIfCancelled, WorkError } from '../errors';
import { indexModel } from '../onnx/graph-index';
import { loadModel, type OnnxModel } from '../onnx/model';
import { dtypeName } from '../onnx/dtype';
import { runInStages } from '../calibrate/stages';
import type { JobContext } from '../progress';
import { CHECK_OPTIMIZATION, createSession, type InferenceSession, type OrtTensor } from '../runtime/ort';
import type { OutputFidelity, QuantizeFidelity } from './types';
import { formatSqnr } from '../report/format';
import { adaptInputData, describeInputs, feedsFor, firstSamples, modelInputs, type InputData } from './data';
import { perLayerErrors } from './perLayer';
import { asFloat32, maxBatchOfSession } from './session';
import { argmaxRows, ErrorAccumulator, round } from './stats';

export interface FidelityFloor {
  sqnrDb: number;
  cosine: number;
}

export const DEFAULT_FIDELITY_FLOOR: FidelityFloor = { sqnrDb: 20, cosine: 0.99 };

/** Samples per run while measuring (bounded memory). */
const STEP = 32;
/** Samples the per-layer ranking runs on when fidelity is below the floor. */
const PER_LAYER_SAMPLES = 16;
/** Worst layers named in the warning. */
const WORST_SHOWN = 3;

/** What outputFidelity needs of the reference: a session, or its outputs recorded beforehand. */
export type ReferenceRuns = Pick<InferenceSession, 'outputNames' | 'inputMetadata' | 'run'>;

/** Most bytes of reference outputs recorded so that the float session can go before the candidate's loads. */
const RECORD_LIMIT = 64 * 2 ** 20;

/** Runs of outputFidelity over `data`: a fixed first dim is the one run size the model accepts. */
function runSizes(reference: Pick<InferenceSession, 'inputMetadata'>, samples: number): { start: number; count: number }[] {
  const fixed = maxBatchOfSession(reference);
  const step = Number.isFinite(fixed) ? fixed : STEP;
  const out: { start: number; count: number }[] = [];
  for (let start = 0; start < samples; start += step) {
    const count = Math.min(step, samples - start);
    if (count < step && Number.isFinite(fixed) && start > 0) break; // a short last run would not fit the model
    out.push({ start, count });
  }
  return out;
}

/**
 * The reference's outputs on every run outputFidelity will make, kept in memory (undefined when
 * they would pass RECORD_LIMIT): the float session can then be released before the candidate's
 * is created, and the two never hold memory at the same time.
 */
export async function recordReference(reference: InferenceSession, data: InputData, ctx: JobContext = {}): Promise<ReferenceRuns | undefined> {
  const runs: Record<string, OrtTensor>[] = [];
  let bytes = 0;
  for (const { start, count } of runSizes(reference, data.samples)) {
    throwIfCancelled(ctx.signal);
    const r = await reference.run(feedsFor(data, start, count));
    for (const t of Object.values(r)) bytes += (t.data as ArrayBufferView).byteLength ?? 0;
    if (bytes > RECORD_LIMIT) return undefined;
    runs.push(r);
  }
  let next = 0;
  return {
    outputNames: reference.outputNames,
    inputMetadata: reference.inputMetadata,
    run: (async (_feeds: unknown, names?: readonly string[]) => {
      const r = runs[next++] ?? {};
      return Object.fromEntries((names ?? Object.keys(r)).flatMap((n) => (r[n] ? [[n, r[n]]] : [])));
    }) as ReferenceRuns['run'],
  };
}

/** Every output of the reference that the candidate also has (by name), measured over all samples. */
export async function outputFidelity(
  reference: ReferenceRuns,
  candidate: InferenceSession,
  data: InputData,
  candidateData: InputData = data,
  ctx: JobContext = {},
): Promise<OutputFidelity[]> {
  const names = reference.outputNames.filter((n) => candidate.outputNames.includes(n));
  const acc = names.map(() => ({ errors: new ErrorAccumulator(), rows: 0, agree: 0 }));
  for (const { start, count } of runSizes(reference, data.samples)) {
    throwIfCancelled(ctx.signal);
    const feeds = feedsFor(data, start, count);
    const r = await reference.run(feeds, names);
    const c = await candidate.run(candidateData === data ? feeds : feedsFor(candidateData, start, count), names);
    names.forEach((name, k) => {
      const rt = r[name];
      const ct = c[name];
      const a = acc[k];
      if (!rt || !ct || !a) return;
      const rv = asFloat32(rt);
      const cv = asFloat32(ct);
      if (rv.length !== cv.length) return;
      a.errors.add(rv, cv, Math.max(1, Math.min(count, rv.length)));
      const dims = rt.dims;
      const width = dims.length ? Number(dims[dims.length - 1]) : 1;
      const ra = argmaxRows(rv, width);
      const ca = argmaxRows(cv, width);
      for (let i = 0; i < ra.length; i++) if (ra[i] === ca[i]) a.agree++;
      a.rows += ra.length;
    });
  }
  return names.flatMap((output, k) => {
    const a = acc[k];
    if (!a) return [];
    const sqnr = a.errors.sqnrDb;
    return {
      output,
      sqnrDb: sqnr === null || !Number.isFinite(sqnr) ? null : round(sqnr, 2),
      identical: a.errors.identical,
      cosine: round(a.errors.meanRowCosine, 6),
      agreement: round(a.agree / Math.max(1, a.rows), 4),
      maxAbsError: Number.isFinite(a.errors.maxAbsError) ? a.errors.maxAbsError : Number.MAX_VALUE,
    };
  });
}

/** True when an output's SQNR or cosine is below the floor (a NaN/Inf output always is). */
export function outputBelowFloor(o: OutputFidelity, floor: FidelityFloor): boolean {
  if (o.identical) return false;
  return o.sqnrDb === null || o.sqnrDb < floor.sqnrDb || o.cosine < floor.cosine;
}

export interface FidelityRun {
  /** Float model (already loaded) and the quantized model's file. */
  reference: OnnxModel;
  candidate: string;
  data: InputData;
  origin: QuantizeFidelity['inputs'];
  floor: FidelityFloor;
  threads?: number | undefined;
  /** Keys of the nodes the candidate quantized: the worst layers then say which nodes to keep float (exclusion.ts). */
  quantized?: readonly string[] | undefined;
  /**
   * Run the float model in stages of at most this many weight bytes (runInStages) instead of one
   * session: a model too large to load whole within the memory budget. No per-layer ranking then.
   */
  stageWeightBytes?: number | undefined;
}

/** The graph's real inputs as ORT's session metadata describes them (fixed dims as numbers). */
function inputMetadataOf(model: OnnxModel): InferenceSession['inputMetadata'] {
  return modelInputs(model.proto).map((i) => ({
    name: i.name,
    isTensor: true as const,
    type: dtypeName(i.elemType) as OrtTensor['type'],
    shape: (i.dims ?? []).map((d) => (typeof d === 'number' ? d : (d ?? -1))),
  }));
}

/** The reference's outputs on every run outputFidelity will make, the float model run in stages. */
export async function recordReferenceInStages(model: OnnxModel, data: InputData, capBytes: number, ctx: JobContext = {}, threads?: number): Promise<ReferenceRuns> {
  const inputMetadata = inputMetadataOf(model);
  const sizes = runSizes({ inputMetadata }, data.samples);
  const runs = await runInStages(model.proto, model, sizes.map(({ start, count }) => feedsFor(data, start, count)), capBytes, threads ?? 0, ctx.signal);
  let next = 0;
  return {
    outputNames: model.proto.graph?.output.map((o) => o.name) ?? [],
    inputMetadata,
    run: (async (_feeds: unknown, names?: readonly string[]) => {
      const r = runs[next++] ?? {};
      return Object.fromEntries((names ?? Object.keys(r)).flatMap((n) => (r[n] ? [[n, r[n]]] : [])));
    }) as ReferenceRuns['run'],
  };
}

/** Measure every output; below the floor, also rank the layers and keep the worst. */
export async function quantizationFidelity(run: FidelityRun, ctx: JobContext = {}): Promise<QuantizeFidelity> {
  const { reference, candidate, data, floor } = run;
  const staged = run.stageWeightBytes !== undefined;
  let refSession: InferenceSession | undefined;
  let outputs: OutputFidelity[];
  let candidateModel: OnnxModel | undefined;
  try {
    let referenceRuns: ReferenceRuns;
    if (run.stageWeightBytes !== undefined) referenceRuns = await recordReferenceInStages(reference, data, run.stageWeightBytes, ctx, run.threads);
    else {
      refSession = await createSession(reference.path, { threads: run.threads, optimization: CHECK_OPTIMIZATION });
      referenceRuns = refSession;
      // The float outputs first, and the float session released, when they are small enough to keep.
      const recorded = await recordReference(refSession, data, ctx);
      if (recorded) {
        referenceRuns = recorded;
        await refSession.release();
        refSession = undefined;
      }
    }
    // Its inputs now, its weights only if the per-layer ranking needs them (lazyWeights).
    candidateModel = loadModel(candidate, { lazyWeights: true });
    const candSession = await createSession(candidate, { threads: run.threads, optimization: CHECK_OPTIMIZATION });
    try {
      outputs = await outputFidelity(referenceRuns, candSession, data, adaptInputData(data, modelInputs(candidateModel.proto)), ctx);
    } finally {
      await candSession.release();
    }
    const result: QuantizeFidelity = {
      samples: data.samples,
      inputs: run.origin,
      inputShapes: describeInputs(data, 1),
      outputs,
      floor: { ...floor },
      belowFloor: outputs.some((o) => outputBelowFloor(o, floor)),
    };
    if (result.belowFloor && staged) {
      result.layersNotRanked = 'the float model is too large to rank its layers within the memory budget (it was run in stages)';
    } else if (result.belowFloor) {
      ctx.onProgress?.({ stage: 'per-layer', message: 'fidelity below the floor: ranking the layers' });
      const index = indexModel(reference.proto);
      let layers: Awaited<ReturnType<typeof perLayerErrors>>;
      try {
        layers = await perLayerErrors(reference, candidateModel, firstSamples(data, PER_LAYER_SAMPLES), { threads: run.threads }, ctx);
      } catch (e) {
        if (!(e instanceof WorkError)) throw e;
        result.layersNotRanked = e.message;
        return result;
      }
      const rows = run.quantized ? withExclusions(reference.proto, layers, new Set(run.quantized)) : layers;
      result.worstLayers = rows
        // A row that no quantized node causes has nothing to keep float.
        .filter((l) => l.localSqnrDb !== null && index.byKey(l.node) !== undefined && (!l.exclude || l.exclude.length > 0))
        .slice(0, WORST_SHOWN)
        .map((l) => ({ node: l.node, opType: l.opType, localSqnrDb: l.localSqnrDb, sqnrDb: l.sqnrDb, ...(l.exclude ? { exclude: l.exclude } : {}) }));
    }
    return result;
  } finally {
    candidateModel?.external.close();
    await refSession?.release();
  }
}

/** `output 'y': SQNR 35.2 dB, cosine 0.99985, arg-max 97.8 %` for each output, `; `-joined. */
export function fidelityFigures(f: QuantizeFidelity): string {
  return f.outputs
    .map((o) => `output '${o.output}': SQNR ${formatSqnr(o.sqnrDb, o.identical)}, cosine ${o.cosine.toFixed(5)}, arg-max agreement ${(o.agreement * 100).toFixed(1)} %`)
    .join('; ');
}

/** `, rounded as input of B`: the quantized consumers a row names besides (or instead of) its node. */
function roundedFor(l: { node: string; exclude?: string[] | undefined }): string {
  const readers = (l.exclude ?? []).filter((n) => n !== l.node);
  return readers.length ? `, rounded as input of ${readers.join(', ')}` : '';
}

/** The warning for a result below the floor: the figures, the worst layers, what to do. */
export function fidelityWarning(f: QuantizeFidelity): string {
  const worst = f.worstLayers ?? [];
  const layers = worst.length
    ? ` Worst layers (error each adds itself): ${worst.map((l) => `${l.node} (${l.opType}, ${formatSqnr(l.localSqnrDb)}${roundedFor(l)})`).join(', ')}; keep them in float with --exclude-nodes ${exclusionList(worst).join(',')}, or let --auto-exclude sqnr:${f.floor.sqnrDb} choose.`
    : f.layersNotRanked
      ? ` Worst layers not ranked (${f.layersNotRanked}); keep layers in float with --exclude-nodes.`
      : ` Try --auto-exclude sqnr:${f.floor.sqnrDb} to keep the layers that add the most error in float.`;
  return `fidelity below the floor (${f.floor.sqnrDb} dB or cosine ${f.floor.cosine}) on ${f.samples} samples of ${f.inputs}: ${fidelityFigures(f)}.${layers}`;
}
