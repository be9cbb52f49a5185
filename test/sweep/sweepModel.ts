/**
 * One backend model through the quantizer, as a user would: quantize in dynamic mode, and in
 * static mode with the test's own inputs as calibration data; run every written model in ONNX
 * Runtime on the test's inputs and compare with the float model.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadModel } from '../../src/core/onnx/model';
import type { TensorProto } from '../../src/core/onnx/schema';
import type { OrtTensor } from '../../src/core/runtime/ort';
import { inputNames, readDataSetInputs, toOrtTensor, unfeedableReason, writeCalibrationFolder, type BackendModel } from './backendData';
import { compareOutputs, runAll, worstSqnr, type Outputs } from './compareOutputs';
import { firstLine, quantizeGuarded } from './guard';
import { classOf, normalizeMessage, type Outcome, type SweepMode } from './outcome';

/** Quantized outputs at or above this SQNR against float count as faithful. */
export const FAITHFUL_DB = 20;
/** Nothing quantized: the outputs must stay this close to float (only float reordering may differ). */
export const UNCHANGED_DB = 60;

export interface SweepOptions {
  modes: SweepMode[];
  /** Per model and mode, for the quantizer call. */
  timeoutMs: number;
  tempDir: string;
}

export async function sweepModel(m: BackendModel, options: SweepOptions): Promise<Outcome[]> {
  const notRun = (cls: string, detail?: string): Outcome[] => options.modes.map((mode) => ({ model: m.id, mode, verdict: 'not-run', cls, ...(detail ? { detail } : {}), seconds: 0 }));
  let graph;
  try {
    const model = loadModel(m.model);
    graph = model.proto.graph;
    model.external.close();
  } catch (e) {
    return notRun('the model does not load', firstLine(e));
  }
  if (!graph) return notRun('the model has no graph');
  const sets: TensorProto[][] = m.dataSets.map(readDataSetInputs);
  if (!sets[0]) return notRun('no test data set');
  const unfeedable = unfeedableReason(graph, sets[0]);
  if (unfeedable) return notRun('inputs are not plain tensors', unfeedable);
  let feedSets: Record<string, OrtTensor>[];
  let reference: Outputs[];
  try {
    feedSets = sets.map((set) => {
      const names = inputNames(graph, set);
      return Object.fromEntries(set.map((t, i) => [names[i] ?? t.name, toOrtTensor(t)]));
    });
    reference = await runAll(m.model, feedSets);
  } catch (e) {
    return notRun('the float model fails in ONNX Runtime', firstLine(e));
  }

  const work = path.join(options.tempDir, m.id.replace(/[^\w.-]+/g, '_'));
  fs.mkdirSync(work, { recursive: true });
  try {
    const outcomes: Outcome[] = [];
    for (const mode of options.modes) {
      let calibrationData: string | undefined;
      if (mode === 'static') {
        calibrationData = path.join(work, 'calibration');
        const why = writeCalibrationFolder(graph, sets, calibrationData);
        if (why) {
          outcomes.push({ model: m.id, mode, verdict: 'not-run', cls: 'test inputs cannot be calibration data', detail: why, seconds: 0 });
          continue;
        }
      }
      outcomes.push(await quantizeAndCompare(m, mode, path.join(work, `${mode}.onnx`), calibrationData, feedSets, reference, options.timeoutMs));
    }
    return outcomes;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

async function quantizeAndCompare(
  m: BackendModel,
  mode: SweepMode,
  out: string,
  calibrationData: string | undefined,
  feedSets: Record<string, OrtTensor>[],
  reference: Outputs[],
  timeoutMs: number,
): Promise<Outcome> {
  const started = performance.now();
  const done = (o: Omit<Outcome, 'model' | 'mode' | 'seconds'>): Outcome => ({ model: m.id, mode, ...o, seconds: (performance.now() - started) / 1000 });
  const q = await quantizeGuarded(m.model, out, { mode, force: true, ...(calibrationData ? { calibrationData } : {}) }, timeoutMs);
  if (q.kind === 'refused') return done({ verdict: 'refused', cls: classOf(q.message), detail: q.message });
  if (q.kind === 'crashed') return done({ verdict: 'crashed', cls: normalizeMessage(q.message), detail: q.stack ?? q.message });
  const result = q.result;

  let candidate: Outputs[];
  try {
    candidate = await runAll(out, feedSets);
  } catch (e) {
    return done({ verdict: 'wrong', cls: `the written model fails in ONNX Runtime: ${normalizeMessage(firstLine(e))}`, detail: firstLine(e), quantizedNodes: result.quantizedNodes });
  }
  const comparisons = compareOutputs(reference, candidate);
  const mismatch = comparisons.find((c) => c.mismatch);
  if (mismatch?.mismatch) {
    return done({ verdict: 'wrong', cls: `output ${mismatch.mismatch.replace(/\[[^\]]*\]/g, '[…]')}`, detail: `${mismatch.name}: ${mismatch.mismatch}`, quantizedNodes: result.quantizedNodes });
  }
  const worst = worstSqnr(comparisons);
  const sqnr = worst === null ? 'identical' : `${worst.toFixed(1)} dB`;
  if (result.quantizedNodes === 0) {
    if (worst !== null && worst < UNCHANGED_DB) {
      return done({ verdict: 'wrong', cls: 'nothing quantized, yet the outputs changed', detail: sqnr, quantizedNodes: 0, worstSqnrDb: worst });
    }
    const reason = result.skippedNodes[0]?.reason;
    return done({ verdict: 'unchanged', cls: reason ? classOf(reason) : 'no quantizable node', ...(reason ? { detail: reason } : {}), quantizedNodes: 0, worstSqnrDb: worst });
  }
  if (worst !== null && !(worst >= FAITHFUL_DB)) {
    // A result that itself reported fidelity below the floor told the user the truth: not a wrong output.
    if (result.fidelity?.belowFloor) return done({ verdict: 'warned', cls: `below ${FAITHFUL_DB} dB of float, reported by the result`, detail: sqnr, quantizedNodes: result.quantizedNodes, worstSqnrDb: worst });
    return done({ verdict: 'wrong', cls: `below ${FAITHFUL_DB} dB of float`, detail: sqnr, quantizedNodes: result.quantizedNodes, worstSqnrDb: worst });
  }
  return done({ verdict: 'ok', quantizedNodes: result.quantizedNodes, worstSqnrDb: worst });
}
