/**
 * Quantize, measure, and keep the worst layers in float until a fidelity target is met, in a few
 * passes: quantize everything once; if below target, rank the layers once by the error each adds
 * itself (per-layer, on that model); then search the number N of ranked layers to keep float —
 * a first guess from the ranking (each layer's own noise, scaled to the measured output noise),
 * doubling while the target is missed, then bisection down to the smallest N that meets it.
 * Static mode calibrates once: every pass reuses the ranges (RangeCache). Each pass is a point
 * (size, fidelity, latency) in the result.
 *
 * Intermediate outputs go to a hidden folder beside OUTPUT (same file system, so the final
 * rename is atomic); OUTPUT appears only at the end, and a failed or cancelled run leaves nothing.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../errors';
import { indexModel } from '../onnx/graph-index';
import { loadModel, modelFilePaths, modelFilePathsAt } from '../onnx/model';
import { checkOutputPath } from '../onnx/save';
import type { JobContext } from '../progress';
import { quantizeFile } from '../quantize/index';
import type { QuantizeOptions, QuantizeResult } from '../quantize/types';
import { createSession, type InferenceSession } from '../runtime/ort';
import { DYNAMIC_OP_TYPES } from '../quantize/dynamic';
import { newRangeCache, STATIC_OP_TYPES } from '../quantize/static/index';
import type { AutoExcludePoint, AutoExcludeSummary, ExclusionStep, FidelityResult, LayerError } from './types';
import { defaultThreads } from './bench';
import { compareModels, measureFidelity, readLabels } from './compare';
import { buildReport, checkReportPaths, writeReports } from '../report';
import { guardWrite, inputFiles, optionInputs, sweepStaleTemporaries } from '../util/writeGuard';
import { lockOutput } from '../util/outputLock';
import { publishModel } from '../onnx/publish';
import { adaptInputData, evaluationInputs, feedsFor, firstSamples, modelInputs, type InputData } from './data';
import { perLayerErrors } from './perLayer';
import { exclusionList, withExclusions } from './exclusion';

export type AutoExcludeTarget = { kind: 'sqnr'; db: number; text: string } | { kind: 'acc-drop'; points: number; text: string };

/** `sqnr:25` (final-output SQNR floor in dB) or `acc-drop:1` (max accuracy drop in percentage points). */
export function parseAutoExcludeTarget(text: string): AutoExcludeTarget {
  const m = /^\s*(sqnr|acc-drop)\s*:\s*(-?\d+(?:\.\d+)?)\s*$/i.exec(text);
  if (!m) throw new InputError(`--auto-exclude expects sqnr:DB or acc-drop:POINTS (e.g. sqnr:25, acc-drop:1), got '${text}'`);
  const value = Number(m[2]);
  if (m[1]!.toLowerCase() === 'sqnr') return { kind: 'sqnr', db: value, text: `sqnr:${value}` };
  if (value < 0) throw new InputError(`--auto-exclude acc-drop must be ≥ 0, got ${value}`);
  return { kind: 'acc-drop', points: value, text: `acc-drop:${value}` };
}

export interface AutoExcludeOptions {
  /** Evaluation inputs; default: the calibration data, else generated inputs. */
  data?: string | undefined;
  /** Labels for the evaluation data (required by acc-drop). */
  labels?: string | undefined;
  /** Most nodes to return to float; default 20. */
  maxSteps?: number | undefined;
  /** Samples for the per-layer measurement; default 128. */
  perLayerSamples?: number | undefined;
  /** Most quantize passes of the search (the first, fully quantized, included); default 8. */
  maxPasses?: number | undefined;
  threads?: number | undefined;
  /** Other files the caller's run reads (a recipe): never written either. */
  inputs?: readonly (string | undefined)[] | undefined;
}

export interface AutoExcludeResult {
  quantize: QuantizeResult;
  summary: AutoExcludeSummary;
  fidelity: FidelityResult;
  /** Per-layer errors of the model finally written, when they were measured on it. */
  layers?: LayerError[];
}

export async function quantizeWithAutoExclude(
  input: string,
  output: string,
  options: QuantizeOptions,
  target: string | AutoExcludeTarget,
  ctx: JobContext = {},
  evalOptions: AutoExcludeOptions = {},
): Promise<AutoExcludeResult> {
  const goal = typeof target === 'string' ? parseAutoExcludeTarget(target) : target;
  if (goal.kind === 'acc-drop' && !evalOptions.labels) throw new InputError('--auto-exclude acc-drop needs --labels (and --data, the samples they label)');
  const dataPath = evalOptions.data ?? options.calibrationData;
  if (evalOptions.labels && !evalOptions.data) throw new InputError('--labels needs --data (the samples the labels belong to)');
  const reference = loadModel(input);
  const outAbs = path.resolve(output);
  // Everything this run reads is protected: the model and its data files, calibration data, data, labels.
  const protect = [...modelFilePaths(reference), ...inputFiles([...optionInputs(options), evalOptions.data, evalOptions.labels, ...(evalOptions.inputs ?? [])])];
  checkOutputPath(outAbs, protect, options.force ?? false);
  guardWrite(`${outAbs}.data`, 'external data file', { inputs: protect, force: options.force ?? false });
  const index = indexModel(reference.proto);
  const data = evaluationInputs(reference.proto, modelInputs(reference.proto), dataPath, 64, options.inputs, options.dataRoots ?? [path.dirname(path.resolve(input))]);
  const labels = evalOptions.labels ? readLabels(evalOptions.labels) : undefined;
  const maxSteps = evalOptions.maxSteps ?? 20;
  const maxPasses = evalOptions.maxPasses ?? 8;
  const threads = evalOptions.threads ?? defaultThreads();
  const log = (line: string) => ctx.log?.(line);

  // One run at a time on this output; the passes are written and checked in a work folder.
  const lock = lockOutput(outAbs);
  let work: string | undefined;
  let refSession: InferenceSession;
  try {
    sweepStaleTemporaries(path.dirname(outAbs));
    work = fs.mkdtempSync(path.join(path.dirname(outAbs), `.${path.basename(outAbs)}.auto-${process.pid}-`));
    refSession = await createSession(reference.path, { threads });
  } catch (e) {
    if (work) fs.rmSync(work, { recursive: true, force: true });
    lock.release();
    reference.external.close();
    throw e;
  }
  const workDir = work;
  const ranges = newRangeCache();
  const userExcluded = [...(options.excludeNodes ?? [])];
  const tried = new Map<number, Tried>();
  let ranking: LayerError[] = [];
  // What the fully quantized pass quantized: a ranked row then names the nodes that cause it (exclusion.ts).
  let quantizedKeys: readonly string[] | undefined;
  try {
    /** Quantize with the first `k` ranked layers kept float, measure it, remember it. */
    const attempt = async (k: number): Promise<Tried> => {
      const pass = tried.size + 1;
      const excluded = exclusionList(ranking.slice(0, k));
      const file = path.join(workDir, String(k), path.basename(outAbs));
      fs.mkdirSync(path.dirname(file));
      // Each pass measures fidelity itself (on the evaluation data): the quantizer's own check is not repeated.
      const quantized = await quantizeFile(
        input,
        file,
        { ...options, excludeNodes: [...userExcluded, ...excluded], force: true, fidelity: false, minSqnrDb: undefined, speedCheck: false, requireSpeedup: undefined },
        { signal: ctx.signal, log: ctx.log, onProgress: (p) => ctx.onProgress?.({ ...p, message: `pass ${pass} (${k} float): ${p.stage}${p.message ? ` ${p.message}` : ''}` }) },
        { ranges, onQuantized: (keys) => { if (k === 0) quantizedKeys = keys; } },
      );
      const candidate = loadModel(file);
      const candSession = await createSession(file, { threads });
      let fidelity: FidelityResult;
      let latencyMs: number;
      try {
        const candData = adaptInputData(data, modelInputs(candidate.proto));
        fidelity = await measureFidelity(refSession, candSession, data, labels, { signal: ctx.signal }, candData);
        latencyMs = await medianLatency(candSession, candData);
      } finally {
        await candSession.release();
        candidate.external.close();
      }
      const met = targetMet(goal, fidelity);
      const point: AutoExcludePoint = { excludedCount: k, excluded, outputBytes: quantized.outputBytes, sqnrDb: fidelity.sqnrDb, latencyMs, met };
      if (fidelity.candidateAccuracy !== undefined) point.candidateAccuracy = fidelity.candidateAccuracy;
      log(
        `auto-exclude pass ${pass}: ${k} layer(s) float, output SQNR ${fidelity.sqnrDb ?? '∞'} dB${fidelity.candidateAccuracy !== undefined ? `, accuracy ${fidelity.candidateAccuracy}` : ''}, target ${met ? 'met' : 'not met'}`,
      );
      const t: Tried = { point, file, quantized, fidelity };
      tried.set(k, t);
      return t;
    };

    const full = await attempt(0);
    let stoppedBecause: string | undefined;
    let best: Tried | undefined = full.point.met ? full : undefined;
    if (!best) {
      ctx.onProgress?.({ stage: 'per-layer', message: 'ranking the layers by the error each adds' });
      const candidate = loadModel(full.file);
      let layers: LayerError[];
      try {
        // The ranking's runs stay within the quantizer's calibration budget when one is set.
        const memoryBudget = options.memoryBudget !== undefined ? options.memoryBudget * 2 ** 20 : undefined;
        layers = await perLayerErrors(reference, candidate, firstSamples(data, evalOptions.perLayerSamples ?? 128), { threads, memoryBudget }, { signal: ctx.signal });
      } finally {
        candidate.external.close();
      }
      const skipped = new Set(full.quantized.skippedNodes.map((n) => n.node));
      const quantizable = QUANTIZABLE[options.mode];
      // Only real layers that were quantized and add error qualify, worst own added error first.
      // Only real layers whose error quantized nodes cause qualify, worst own added error first: a row
      // names the nodes to keep float (its node, or the quantized consumers that round its output).
      const rows = quantizedKeys ? withExclusions(reference.proto, layers, new Set(quantizedKeys)) : layers;
      ranking = rows
        .filter((l) => l.localSqnrDb !== null && index.byKey(l.node) !== undefined)
        .filter((l) => (l.exclude ? l.exclude.length > 0 : !userExcluded.includes(l.node) && !skipped.has(l.node) && (!quantizable || quantizable.has(l.opType))))
        .sort((a, b) => (a.localSqnrDb ?? Infinity) - (b.localSqnrDb ?? Infinity))
        .slice(0, maxSteps);
      const n = ranking.length;
      if (n === 0) stoppedBecause = 'no quantized layer left that adds error';
      // Bounds: `lo` layers float is known to miss the target, `hi` (when found) to meet it.
      let lo = 0;
      let hi: number | undefined;
      let k = Math.min(n, firstGuess(goal, full.fidelity, ranking));
      while (n > 0 && tried.size < maxPasses) {
        const t = tried.get(k) ?? (await attempt(k));
        if (t.point.met) hi = k;
        else lo = k;
        if (hi === undefined) {
          if (lo >= n) break;
          k = Math.min(n, Math.max(lo + 1, 2 * lo));
        } else if (hi - lo <= 1) break;
        else k = Math.floor((lo + hi) / 2);
      }
      if (hi !== undefined) best = tried.get(hi);
      else if (n > 0) stoppedBecause = lo >= n ? `keeping all ${n} ranked layers in float does not meet the target` : `reached the limit of ${maxPasses} quantize passes`;
    }
    // Not met: the best fidelity tried is written.
    const chosen = best ?? [...tried.values()].reduce((a, b) => (score(b.fidelity) > score(a.fidelity) ? b : a));
    publishModel(chosen.file, `${chosen.file}.data`, outAbs, { model: reference.path, inputs: protect, force: options.force ?? false });
    const excludedSteps: ExclusionStep[] = ranking.slice(0, chosen.point.excludedCount).map((l, i) => {
      const before = tried.get(i);
      const step: ExclusionStep = { node: l.node, opType: l.opType, tensor: l.tensor, localSqnrDb: l.localSqnrDb, sqnrDb: l.sqnrDb, outputSqnrDb: before ? before.fidelity.sqnrDb : null };
      if (l.exclude) step.exclude = l.exclude;
      if (before?.fidelity.candidateAccuracy !== undefined) step.candidateAccuracy = before.fidelity.candidateAccuracy;
      return step;
    });
    const summary: AutoExcludeSummary = {
      target: goal.text,
      met: chosen.point.met,
      excluded: excludedSteps,
      finalSqnrDb: chosen.fidelity.sqnrDb,
      points: [...tried.values()].map((t) => t.point),
      quantizePasses: tried.size,
      calibrations: ranges.calibrations,
    };
    if (chosen.fidelity.referenceAccuracy !== undefined) summary.referenceAccuracy = chosen.fidelity.referenceAccuracy;
    if (chosen.fidelity.candidateAccuracy !== undefined) summary.finalAccuracy = chosen.fidelity.candidateAccuracy;
    if (!chosen.point.met && stoppedBecause) summary.stoppedBecause = stoppedBecause;
    log(`auto-exclude: ${chosen.point.excludedCount} layer(s) kept float after ${tried.size} quantize pass(es) and ${ranges.calibrations} calibration(s)`);
    // A target not met leaves a written model below it: the result says so, as any fidelity below the floor does.
    const warnings = chosen.point.met
      ? chosen.quantized.warnings
      : [...chosen.quantized.warnings, `fidelity below the auto-exclude target ${goal.text}: the written model reads ${chosen.fidelity.sqnrDb === null ? 'identical' : `${chosen.fidelity.sqnrDb.toFixed(1)} dB`} with ${chosen.point.excludedCount} layer(s) kept float (${stoppedBecause ?? 'no set tried met it'})`];
    return { quantize: { ...chosen.quantized, output: outAbs, warnings }, summary, fidelity: chosen.fidelity };
  } finally {
    await refSession.release();
    reference.external.close();
    fs.rmSync(workDir, { recursive: true, force: true });
    lock.release();
  }
}

interface Tried {
  point: AutoExcludePoint;
  file: string;
  quantized: QuantizeResult;
  fidelity: FidelityResult;
}

/** Op types each mode quantizes (excluding another op changes nothing); undefined: any. */
const QUANTIZABLE: Partial<Record<QuantizeOptions['mode'], ReadonlySet<string>>> = { dynamic: DYNAMIC_OP_TYPES, static: STATIC_OP_TYPES };

/**
 * How many ranked layers to keep float first. SQNR target: each layer's own noise (10^(-dB/10))
 * scaled so that all of them add up to the measured output noise; the smallest N whose remaining
 * noise is under the target's. Accuracy target: 1.
 */
export function firstGuess(goal: AutoExcludeTarget, full: FidelityResult, ranking: LayerError[]): number {
  if (goal.kind !== 'sqnr' || full.sqnrDb === null || ranking.length === 0) return 1;
  const noise = ranking.map((l) => 10 ** (-Math.max(l.localSqnrDb ?? 100, -100) / 10));
  const total = noise.reduce((a, b) => a + b, 0);
  const scale = 10 ** (-full.sqnrDb / 10) / total;
  const allowed = 10 ** (-goal.db / 10);
  let remaining = total;
  for (let k = 1; k <= ranking.length; k++) {
    remaining -= noise[k - 1] ?? 0;
    if (remaining * scale <= allowed) return k;
  }
  return ranking.length;
}

/** Higher is better: SQNR (identical = ∞), then accuracy. */
function score(f: FidelityResult): number {
  if (f.identical) return Infinity;
  return f.sqnrDb ?? -Infinity;
}

/** Median time of one sample through `session`, after two warm-up runs (10 timed runs). */
async function medianLatency(session: InferenceSession, data: InputData): Promise<number> {
  const feeds = feedsFor(data, 0, 1);
  for (let i = 0; i < 2; i++) await session.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t = performance.now();
    await session.run(feeds);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return Number((times[Math.floor(times.length / 2)] ?? 0).toFixed(3));
}

function targetMet(goal: AutoExcludeTarget, f: FidelityResult): boolean {
  if (goal.kind === 'sqnr') return f.identical || (f.sqnrDb !== null && f.sqnrDb >= goal.db);
  const drop = ((f.referenceAccuracy ?? 0) - (f.candidateAccuracy ?? 0)) * 100;
  return drop <= goal.points + 1e-9;
}

export interface AutoExcludeReportResult extends AutoExcludeResult {
  /** MODEL.quant-report.{json,md,html} written next to the output. */
  reportFiles: string[];
}

/**
 * quantizeWithAutoExclude, then a full comparison (latency included) of the model written, saved
 * as a report next to it: what the CLI's `quantize --auto-exclude` does.
 */
export async function autoExcludeWithReport(
  input: string,
  output: string,
  options: QuantizeOptions,
  target: string,
  ctx: JobContext = {},
  evalOptions: AutoExcludeOptions = {},
): Promise<AutoExcludeReportResult> {
  // The reports are guarded like the output: never the model, its data files, or anything else the run reads.
  const reportRules = { inputs: [...modelFilePathsAt(input), ...optionInputs(options), evalOptions.data, evalOptions.labels, ...(evalOptions.inputs ?? [])], force: options.force ?? false };
  checkReportPaths(path.resolve(output), reportRules);
  const result = await quantizeWithAutoExclude(input, output, options, target, ctx, evalOptions);
  ctx.onProgress?.({ stage: 'comparing', message: 'timing float vs quantized' });
  const comparison = await compareModels(input, result.quantize.output, { data: evalOptions.data ?? options.calibrationData, labels: evalOptions.labels, threads: evalOptions.threads, dataRoots: options.dataRoots }, { signal: ctx.signal });
  if (result.layers) comparison.layers = result.layers;
  const report = buildReport(comparison, { options, quantize: result.quantize, autoExclude: result.summary });
  const files = writeReports(report, result.quantize.output, reportRules);
  return { ...result, reportFiles: [files.json, files.markdown, files.html] };
}
