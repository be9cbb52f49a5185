/**
 * Quantize, measure, and keep the worst layers in float until a fidelity target is met:
 * quantize → final-output fidelity → if below target, per-layer error → the node adding the most
 * error goes to excludeNodes → quantize again … until the target is met or no layer is left.
 *
 * Intermediate outputs go to a hidden folder beside OUTPUT (same file system, so the final
 * rename is atomic); OUTPUT appears only at the end, and a failed or cancelled run leaves nothing.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../errors';
import { indexModel } from '../onnx/graph-index';
import { loadModel, modelFilePaths } from '../onnx/model';
import { checkOutputPath } from '../onnx/save';
import type { JobContext } from '../progress';
import { quantizeFile } from '../quantize/index';
import type { QuantizeOptions, QuantizeResult } from '../quantize/types';
import { createSession } from '../runtime/ort';
import type { AutoExcludeSummary, ExclusionStep, FidelityResult, LayerError } from './types';
import { defaultThreads } from './bench';
import { compareModels, measureFidelity, readLabels } from './compare';
import { buildReport, checkReportPaths, writeReports } from '../report';
import { guardWrite, inputFiles, sweepStaleTemporaries } from '../util/writeGuard';
import { adaptInputData, evaluationInputs, firstSamples, modelInputs } from './data';
import { perLayerErrors } from './perLayer';

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
  threads?: number | undefined;
}

export interface AutoExcludeResult {
  quantize: QuantizeResult;
  summary: AutoExcludeSummary;
  fidelity: FidelityResult;
  /** Per-layer errors of the model finally written, when they were measured last round. */
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
  const protect = [...modelFilePaths(reference), ...inputFiles([options.calibrationData, evalOptions.data, evalOptions.labels])];
  checkOutputPath(outAbs, protect, options.force ?? false);
  guardWrite(`${outAbs}.data`, 'external data file', { inputs: protect, force: options.force ?? false });
  const index = indexModel(reference.proto);
  const data = evaluationInputs(reference.proto, modelInputs(reference.proto), dataPath, 64, options.inputs);
  const labels = evalOptions.labels ? readLabels(evalOptions.labels) : undefined;
  const maxSteps = evalOptions.maxSteps ?? 20;
  const threads = evalOptions.threads ?? defaultThreads();
  const log = (line: string) => ctx.log?.(line);

  sweepStaleTemporaries(path.dirname(outAbs));
  const work = fs.mkdtempSync(path.join(path.dirname(outAbs), `.${path.basename(outAbs)}.auto-${process.pid}-`));
  const tmpOut = path.join(work, path.basename(outAbs));
  const refSession = await createSession(reference.path, { threads });
  try {
    const excluded = [...(options.excludeNodes ?? [])];
    const steps: ExclusionStep[] = [];
    let stoppedBecause: string | undefined;
    for (let round = 0; ; round++) {
      // Each round measures fidelity itself (on the evaluation data): the quantizer's own check is not repeated.
      const quantized = await quantizeFile(input, tmpOut, { ...options, excludeNodes: [...excluded], force: true, fidelity: false, minSqnrDb: undefined, speedCheck: false, requireSpeedup: undefined }, {
        signal: ctx.signal,
        log: ctx.log,
        onProgress: (p) => ctx.onProgress?.({ ...p, message: `round ${round + 1}: ${p.stage}${p.message ? ` ${p.message}` : ''}` }),
      });
      const candidate = loadModel(tmpOut);
      const candSession = await createSession(tmpOut, { threads });
      let fidelity: FidelityResult;
      try {
        fidelity = await measureFidelity(refSession, candSession, data, labels, { signal: ctx.signal }, adaptInputData(data, modelInputs(candidate.proto)));
      } finally {
        await candSession.release();
        candidate.external.close();
      }
      const met = targetMet(goal, fidelity);
      log(`auto-exclude round ${round + 1}: output SQNR ${fidelity.sqnrDb ?? '∞'} dB${fidelity.candidateAccuracy !== undefined ? `, accuracy ${fidelity.candidateAccuracy}` : ''}, target ${met ? 'met' : 'not met'}`);
      let layers: LayerError[] | undefined;
      let pick: LayerError | undefined;
      if (!met && steps.length >= maxSteps) stoppedBecause = `reached the limit of ${maxSteps} excluded nodes`;
      else if (!met) {
        ctx.onProgress?.({ stage: 'per-layer', message: `round ${round + 1}: measuring per-layer error` });
        try {
          layers = await perLayerErrors(reference, candidate, firstSamples(data, evalOptions.perLayerSamples ?? 128), { threads }, { signal: ctx.signal });
        } finally {
          candidate.external.close();
        }
        // Ranked by the error each node adds itself; only real, not yet excluded nodes qualify.
        pick = layers.find((l) => l.localSqnrDb !== null && index.byKey(l.node) !== undefined && !excluded.includes(l.node));
        if (!pick) stoppedBecause = 'no quantized layer left that adds error';
      }
      if (met || !pick) {
        checkOutputPath(outAbs, protect, options.force ?? false);
        publish(tmpOut, outAbs);
        const summary: AutoExcludeSummary = { target: goal.text, met, excluded: steps, finalSqnrDb: fidelity.sqnrDb };
        if (fidelity.referenceAccuracy !== undefined) summary.referenceAccuracy = fidelity.referenceAccuracy;
        if (fidelity.candidateAccuracy !== undefined) summary.finalAccuracy = fidelity.candidateAccuracy;
        if (!met && stoppedBecause) summary.stoppedBecause = stoppedBecause;
        const result: AutoExcludeResult = { quantize: { ...quantized, output: outAbs }, summary, fidelity };
        if (layers) result.layers = layers;
        return result;
      }
      const step: ExclusionStep = { node: pick.node, opType: pick.opType, tensor: pick.tensor, localSqnrDb: pick.localSqnrDb, sqnrDb: pick.sqnrDb, outputSqnrDb: fidelity.sqnrDb };
      if (fidelity.candidateAccuracy !== undefined) step.candidateAccuracy = fidelity.candidateAccuracy;
      steps.push(step);
      excluded.push(pick.node);
      log(`auto-exclude: keeping '${pick.node}' (${pick.opType}) in float: it adds error at ${pick.localSqnrDb} dB local SQNR`);
    }
  } finally {
    await refSession.release();
    reference.external.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

function targetMet(goal: AutoExcludeTarget, f: FidelityResult): boolean {
  if (goal.kind === 'sqnr') return f.identical || (f.sqnrDb !== null && f.sqnrDb >= goal.db);
  const drop = ((f.referenceAccuracy ?? 0) - (f.candidateAccuracy ?? 0)) * 100;
  return drop <= goal.points + 1e-9;
}

/** Move the model (and its external data file, if any) from the work folder to OUTPUT. */
function publish(tmpOut: string, outAbs: string): void {
  const data = `${tmpOut}.data`;
  if (fs.existsSync(data)) fs.renameSync(data, `${outAbs}.data`);
  fs.renameSync(tmpOut, outAbs);
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
  const reportRules = { inputs: [input, options.calibrationData, evalOptions.data, evalOptions.labels], force: options.force ?? false };
  checkReportPaths(path.resolve(output), reportRules);
  const result = await quantizeWithAutoExclude(input, output, options, target, ctx, evalOptions);
  ctx.onProgress?.({ stage: 'comparing', message: 'timing float vs quantized' });
  const comparison = await compareModels(input, result.quantize.output, { data: evalOptions.data ?? options.calibrationData, labels: evalOptions.labels, threads: evalOptions.threads }, { signal: ctx.signal });
  if (result.layers) comparison.layers = result.layers;
  const report = buildReport(comparison, { options, quantize: result.quantize, autoExclude: result.summary });
  const files = writeReports(report, result.quantize.output, reportRules);
  return { ...result, reportFiles: [files.json, files.markdown, files.html] };
}
