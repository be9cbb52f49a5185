/**
 * The quantizer's fidelity step: after saving, the float and the quantized model run on the same
 * inputs (the user's `--data`, else the calibration data in static mode, else generated probe
 * inputs) and the result carries the figures of every output. Below the floor the run warns with
 * the worst layers; below `--min-sqnr` it fails and the output is removed.
 */
import { CancelledError, InputError, WorkError } from '../errors';
import { generateInputData, firstSamples, loadInputData, modelInputs, sampleRange, type InputData } from '../evaluate/data';
import { gptqHeldOut } from './gptq';
import { DEFAULT_FIDELITY_FLOOR, fidelityFigures, fidelityWarning, quantizationFidelity } from '../evaluate/fidelity';
import type { OnnxModel } from '../onnx/model';
import type { JobContext } from '../progress';
import type { QuantizeFidelity } from '../evaluate/types';
import type { ResolvedOptions } from './selection';
import type { QuantizeOptions } from './types';

/** Most samples measured from data (the calibration set or --data). */
const MAX_SAMPLES = 256;
/** Generated samples when there is no data. */
const GENERATED_SAMPLES = 16;

export async function measureQuantizeFidelity(
  model: OnnxModel,
  output: string,
  /** Removes the saved output (on failure: nothing is left written). */
  discard: () => void,
  options: QuantizeOptions,
  resolved: ResolvedOptions,
  warnings: string[],
  ctx: JobContext,
  /** The inputs, when the caller took them from the model already (see fidelityInputs). */
  inputs?: FidelityInputs,
  /** Run the float model in stages of at most this many weight bytes (too large for one session in the budget). */
  stageWeightBytes?: number,
  /** Keys of the nodes quantized: below the floor, the warning names the nodes to keep float. */
  quantized?: readonly string[],
): Promise<QuantizeFidelity | undefined> {
  ctx.onProgress?.({ stage: 'fidelity', fraction: 0.96, message: 'float vs quantized outputs' });
  const floor = { ...DEFAULT_FIDELITY_FLOOR, ...definedOnly(options.fidelityFloor) };
  let fidelity: QuantizeFidelity;
  try {
    const { data, origin } = inputs ?? fidelityInputs(model, options, resolved);
    fidelity = await quantizationFidelity({ reference: model, candidate: output, data, origin, floor, stageWeightBytes, quantized }, ctx);
  } catch (e) {
    if (e instanceof CancelledError || e instanceof InputError || options.minSqnrDb !== undefined) {
      discard();
      throw e;
    }
    warnings.push(`fidelity not measured: ${(e as Error).message.split('\n')[0]}`);
    return undefined;
  }
  const min = options.minSqnrDb;
  const failing = min === undefined ? [] : fidelity.outputs.filter((o) => !o.identical && (o.sqnrDb === null || o.sqnrDb < min));
  if (failing.length) {
    discard();
    throw new WorkError(
      `fidelity below --min-sqnr ${min} dB on ${fidelity.samples} samples of ${fidelity.inputs}: ${fidelityFigures(fidelity)}` +
        `${fidelity.worstLayers?.length ? `; worst layers: ${fidelity.worstLayers.map((l) => l.node).join(', ')}` : ''}. Nothing was written.`,
    );
  }
  if (fidelity.belowFloor) warnings.push(fidelityWarning(fidelity));
  return fidelity;
}

export interface FidelityInputs {
  data: InputData;
  origin: QuantizeFidelity['inputs'];
}

/** The samples fidelity runs on: --data, else the calibration data (static; GPTQ: the samples it held out), else generated inputs. */
export function fidelityInputs(model: Pick<OnnxModel, 'proto'>, options: QuantizeOptions, resolved: ResolvedOptions): FidelityInputs {
  const specs = modelInputs(model.proto);
  if (options.fidelityData) return { data: firstSamples(loadInputData(options.fidelityData, specs, options.inputs, resolved.dataRoots), MAX_SAMPLES), origin: 'data' };
  if (resolved.mode === 'weight-only' && resolved.weightRounding === 'gptq' && resolved.calibrationData) {
    // The samples GPTQ held out of its statistics (all of them when there are too few to split).
    const all = loadInputData(resolved.calibrationData, specs, options.inputs, resolved.dataRoots);
    const held = gptqHeldOut(all.samples);
    return { data: sampleRange(all, held ? all.samples - held : 0, Math.min(MAX_SAMPLES, held || all.samples)), origin: 'calibration data' };
  }
  if (resolved.mode === 'static' && resolved.calibrationData) {
    return { data: firstSamples(loadInputData(resolved.calibrationData, specs, options.inputs, resolved.dataRoots), MAX_SAMPLES), origin: 'calibration data' };
  }
  return { data: generateInputData(model.proto, specs, GENERATED_SAMPLES, options.inputs, 4321), origin: 'generated inputs' };
}

function definedOnly<T extends object>(o: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
}
