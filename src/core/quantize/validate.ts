/**
 * Validation against the float model, on one probe: the first calibration sample when there is
 * calibration data, else generated inputs shaped by data/probe.ts (the user's --input-shape /
 * --input, else batch 1, sequences 128, images 224).
 *
 * The float model runs first on the probe. When it fails or gives NaN/Inf, the probe is at fault,
 * not the quantization: an InputError (exit 2) names the inputs that need a real shape or value.
 * Only then does the quantized model run, and it is refused only for failing, or giving NaN/Inf,
 * where the float model did not.
 */
import { InputError, WorkError } from '../errors';
import { formatInputOverrides, type InputOverrides } from '../data/probe';
import { describeInputs, feedsFor, firstSamples, generateInputData, loadInputData, maxBatchOf, modelInputs, type InputData } from '../evaluate/data';
import type { ModelProto } from '../onnx/schema';
import type { OnnxModel } from '../onnx/model';
import { runInStages } from '../calibrate/stages';
import { CHECK_OPTIMIZATION, createSession, type OrtTensor } from '../runtime/ort';

export interface Probe {
  data: InputData;
  /** Where the probe came from, for messages. */
  origin: 'calibration data' | 'generated inputs';
  /** `ids [1, 128] (seq=128 (sequence default))`. */
  shapes: string;
  /** Samples per run: 1, or the model's fixed first dim. */
  batch: number;
}

export function makeProbe(proto: ModelProto, calibrationData: string | undefined, inputs: InputOverrides | undefined, dataRoots: readonly string[] = []): Probe {
  const specs = modelInputs(proto);
  const fixed = maxBatchOf(specs);
  const wanted = Number.isFinite(fixed) ? fixed : 1;
  const data = calibrationData ? firstSamples(loadInputData(calibrationData, specs, inputs, dataRoots), wanted) : generateInputData(proto, specs, wanted, inputs);
  const batch = Math.min(wanted, data.samples);
  return { data, origin: calibrationData ? 'calibration data' : 'generated inputs', shapes: describeInputs(data, batch), batch };
}

/** The float model's outputs on the probe, or what went wrong (the probe's fault). */
export interface FloatRun {
  outputs?: Record<string, OrtTensor>;
  problem?: string;
}

/**
 * `staged`: the float model run in stages of at most `capBytes` of weights (runInStages), for a
 * model too large to load whole within the memory budget.
 */
export async function runFloatOnProbe(floatModel: string | Uint8Array, probe: Probe, staged?: { model: OnnxModel; capBytes: number }): Promise<FloatRun> {
  if (staged) {
    let outputs: Record<string, OrtTensor>;
    try {
      outputs = (await runInStages(staged.model.proto, staged.model, [feedsFor(probe.data, 0, probe.batch)], staged.capBytes))[0] ?? {};
    } catch (e) {
      return { problem: `ONNX Runtime cannot run it (${(e as Error).message.split('\n')[0]})` };
    }
    return finiteRun(outputs);
  }
  const session = await createSession(floatModel, { optimization: CHECK_OPTIMIZATION });
  try {
    let outputs: Record<string, OrtTensor>;
    try {
      outputs = await session.run(feedsFor(probe.data, 0, probe.batch));
    } catch (e) {
      return { problem: `ONNX Runtime cannot run it (${(e as Error).message.split('\n')[0]})` };
    }
    return finiteRun(outputs);
  } finally {
    await session.release();
  }
}

function finiteRun(outputs: Record<string, OrtTensor>): FloatRun {
  const bad = Object.entries(outputs).find(([, t]) => !allFinite(t));
  return bad ? { problem: `its output '${bad[0]}' holds NaN or infinity` } : { outputs };
}

/**
 * The message when the float model fails on the probe: which inputs need a real shape or value.
 * Suspects are the inputs whose shape or value was guessed (symbolic dims, scalars), else every
 * generated input; with calibration data, its first sample.
 */
export function probeFault(problem: string, probe: Probe, overrides: InputOverrides | undefined): InputError {
  if (probe.origin === 'calibration data') {
    return new InputError(
      `validation: the float model itself fails on the first calibration sample: ${problem}; the calibration data is at fault, not the quantization (fix it, or pass --no-validate). Nothing was written.`,
    );
  }
  const shapes = probe.data.shapes ?? [];
  const generated = shapes.filter((s) => overrides?.values?.[s.name] === undefined && overrides?.shapes?.[s.name] === undefined);
  const guessed = generated.filter((s) => s.guessed);
  const suspects = (guessed.length ? guessed : generated.length ? generated : shapes).map((s) => s.name);
  const stated = formatInputOverrides(overrides);
  const flags = suspects.map((n) => (probe.data.arrays.get(n)?.shape.length === 0 ? `--input ${n}=VALUE` : `--input-shape ${n}=D1xD2… or --input ${n}=VALUE|FILE.npy`));
  return new InputError(
    `validation: the float model itself fails on the probe (${probe.shapes}${stated ? `; stated: ${stated}` : ''}): ${problem}. ` +
      `The probe is at fault, not the quantization: ${suspects.length === 1 ? 'input' : 'inputs'} ${suspects.map((n) => `'${n}'`).join(', ')} ` +
      `${suspects.length === 1 ? 'needs' : 'need'} a real shape or value (${flags.join('; ')}), or pass --no-validate. Nothing was written.`,
  );
}

/** Run the quantized model on the probe: a WorkError when it fails or turns non-finite where the float model did not. */
export async function validateQuantized(file: string, probe: Probe, floatRun: FloatRun): Promise<void> {
  const session = await createSession(file, { optimization: CHECK_OPTIMIZATION });
  try {
    let outputs: Record<string, OrtTensor>;
    try {
      outputs = await session.run(feedsFor(probe.data, 0, probe.batch));
    } catch (e) {
      throw new WorkError(`ONNX Runtime loads the quantized model but cannot run it on a probe the float model runs (${probe.shapes}): ${(e as Error).message.split('\n')[0]}`);
    }
    for (const [name, t] of Object.entries(outputs)) {
      if (!allFinite(t) && (!floatRun.outputs?.[name] || allFinite(floatRun.outputs[name]!))) {
        throw new WorkError(`the quantized model produces NaN or infinity in output '${name}' where the float model does not (probe ${probe.shapes})`);
      }
    }
  } finally {
    await session.release();
  }
}

function allFinite(t: OrtTensor): boolean {
  if (t.type !== 'float32' && t.type !== 'float64') return true;
  const d = t.data as Float32Array | Float64Array;
  for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i]!)) return false;
  return true;
}
