/**
 * `--require-speedup X`: quantize, time against float (speedCheck.ts), and while the result is
 * below X keep float the op group that most likely costs the time (speedGroups.ts), re-quantize
 * and time again, for at most MAX_KEEP_FLOAT_ROUNDS rounds. Each round is written and checked in
 * a work folder beside OUTPUT (same file system: the final rename is atomic); OUTPUT appears
 * only when a round meets X. When none does, or every group is float, the run fails with each
 * round's figure and writes nothing. Static mode calibrates once for all rounds.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WorkError } from '../errors';
import { indexModel } from '../onnx/graph-index';
import { loadModel, modelFilePaths } from '../onnx/model';
import { publishModel } from '../onnx/publish';
import { checkOutputPath } from '../onnx/save';
import type { JobContext } from '../progress';
import { lockOutput } from '../util/outputLock';
import { inputFiles, optionInputs, sweepStaleTemporaries } from '../util/writeGuard';
import { resolveOptions } from './options';
import { speedGroups, type SpeedGroup } from './speedGroups';
import { newRangeCache, type RangeCache } from './static/index';
import type { SpeedRequirement } from '../evaluate/types';
import type { QuantizeOptions, QuantizeResult } from './types';

/** Rounds after the first, each keeping one more group float. */
export const MAX_KEEP_FLOAT_ROUNDS = 3;

export interface OnceRun {
  inputs?: readonly (string | undefined)[];
  ranges?: RangeCache;
  /** Called with the keys of the nodes the engine quantized. */
  onQuantized?: (keys: readonly string[]) => void;
}

/** One quantize run (quantizeFile without the requirement). */
export type QuantizeOnce = (input: string, output: string, options: QuantizeOptions, ctx: JobContext, run: OnceRun) => Promise<QuantizeResult>;

export async function quantizeWithSpeedRequirement(
  input: string,
  output: string,
  options: QuantizeOptions,
  ctx: JobContext,
  run: { inputs?: readonly (string | undefined)[]; ranges?: RangeCache },
  once: QuantizeOnce,
): Promise<QuantizeResult> {
  const started = performance.now();
  const { options: resolved } = resolveOptions(options);
  const required = resolved.requireSpeedup ?? 1;
  const force = resolved.force;
  const reference = loadModel(input);
  const outAbs = path.resolve(output);
  const protect = [...modelFilePaths(reference), ...inputFiles([resolved.calibrationData, ...optionInputs(options), ...(run.inputs ?? [])])];
  let lock: ReturnType<typeof lockOutput> | undefined;
  let work: string | undefined;
  try {
    checkOutputPath(outAbs, protect, force);
    lock = lockOutput(outAbs);
    sweepStaleTemporaries(path.dirname(outAbs));
    work = fs.mkdtempSync(path.join(path.dirname(outAbs), `.${path.basename(outAbs)}.tmp-${process.pid}-`));
    const index = indexModel(reference.proto);
    const ranges = run.ranges ?? newRangeCache();
    const userExcluded = resolved.excludeNodes;
    const kept: SpeedGroup[] = [];
    const rounds: SpeedRequirement['rounds'] = [];
    let groups: SpeedGroup[] | undefined;
    let diagnosis = '';
    for (let round = 0; ; round++) {
      const file = path.join(work, String(round), path.basename(outAbs));
      fs.mkdirSync(path.dirname(file));
      let quantizedKeys: readonly string[] = [];
      const keptNodes = kept.flatMap((g) => g.nodes);
      const roundCtx: JobContext = round === 0 ? ctx : { ...ctx, onProgress: (p) => ctx.onProgress?.({ ...p, message: `round ${round + 1} (${kept.length} group(s) float): ${p.message ?? ''}`.trim() }) };
      const result = await once(
        input,
        file,
        { ...options, excludeNodes: [...userExcluded, ...keptNodes], requireSpeedup: undefined, force: true },
        roundCtx,
        { ...run, ranges, onQuantized: (keys) => (quantizedKeys = keys) },
      );
      const speed = result.speed;
      if (!speed && round === 0 && result.quantizedNodes === 0) {
        // Nothing quantized: the float model's own speed, nothing to time or keep float.
        publishModel(file, `${file}.data`, outAbs, { model: reference.path, inputs: protect, force });
        return { ...result, output: outAbs, effectiveOptions: { ...result.effectiveOptions, requireSpeedup: required } };
      }
      if (!speed) {
        if (result.quantizedNodes === 0) throw failure(required, rounds, diagnosis, kept.length ? 'every quantized group is float now' : 'nothing was quantized');
        const why = result.warnings.find((w) => w.startsWith('speed not measured')) ?? 'speed not measured';
        throw new WorkError(`speed check: ${why}, so --require-speedup ${required} cannot be checked. Nothing was written.`);
      }
      diagnosis ||= speed.summary;
      rounds.push({ keptFloat: kept.map((g) => g.label), quantizedNodes: result.quantizedNodes, speedup: speed.speedup, verdict: speed.verdict });
      ctx.log?.(`speed round ${round + 1}: ${kept.length ? `kept float ${kept.map((g) => g.label).join('; ')}: ` : ''}${speed.speedup.toFixed(2)}× float (required ${required}×)`);
      if (speed.speedup >= required) {
        publishModel(file, `${file}.data`, outAbs, { model: reference.path, inputs: protect, force });
        const requirement: SpeedRequirement = {
          speedup: required,
          met: true,
          keptFloat: kept.map((g) => ({ group: g.label, opType: g.opType, sizeClass: g.sizeClass, nodes: g.nodes })),
          rounds,
        };
        const warnings = kept.length
          ? [...result.warnings, `kept float for speed (--require-speedup ${required}): ${kept.map((g) => `${g.label}, ${g.nodes.length} node(s)`).join('; ')}; now ${speed.speedup.toFixed(2)}× float's speed`]
          : result.warnings;
        return {
          ...result,
          output: outAbs,
          seconds: (performance.now() - started) / 1000,
          effectiveOptions: { ...result.effectiveOptions, requireSpeedup: required },
          warnings,
          speed: { ...speed, requirement },
        };
      }
      // The groups come from the first, fully quantized round; later rounds only drop whole groups.
      groups ??= speedGroups(index, quantizedKeys, resolved.mode);
      const stillQuantized = new Set(quantizedKeys);
      const next = groups.find((g) => !kept.includes(g) && g.nodes.some((n) => stillQuantized.has(n)));
      if (!next || kept.length + 1 >= groups.length) throw failure(required, rounds, diagnosis, 'keeping the next group float would leave nothing quantized');
      if (round >= MAX_KEEP_FLOAT_ROUNDS) throw failure(required, rounds, diagnosis, `reached the limit of ${MAX_KEEP_FLOAT_ROUNDS} rounds keeping groups float`);
      kept.push(next);
    }
  } finally {
    if (work) fs.rmSync(work, { recursive: true, force: true });
    lock?.release();
    reference.external.close();
  }
}

function failure(required: number, rounds: SpeedRequirement['rounds'], diagnosis: string, why: string): WorkError {
  const figures = rounds.map((r) => (r.keptFloat.length ? `${r.keptFloat.join(' + ')} float: ${r.speedup.toFixed(2)}×` : `all quantized: ${r.speedup.toFixed(2)}×`)).join('; ');
  const first = diagnosis ? ` Fully quantized: ${diagnosis}.` : '';
  return new WorkError(`speed check: the quantized model stays below --require-speedup ${required} with every grouping tried (${figures}); ${why}. Nothing was written.${first}`);
}
