/**
 * The quantizer's single entry point, used by the CLI, the worker and the evaluation module:
 * load → check output path → resolve options → run the float model on the validation probe →
 * select nodes → quantize (mode engine) → save into a staging folder → validate there in ONNX
 * Runtime against the float model's run → publish (rename into place) → report. One run at a
 * time per output (outputLock.ts); a run killed at any point leaves no output (publish.ts). A probe the float model itself fails on is the probe's fault
 * (InputError naming the inputs, see validate.ts); a model with nothing quantized is never
 * refused by validation.
 *
 * Already-quantized models: a model that already holds quantized operators and in which the
 * chosen mode finds nothing left to quantize is refused with an InputError ("already
 * quantized", exit 2) instead of being written out again. A model whose weights still go
 * through QuantizeLinear → DequantizeLinear pairs (quantization-aware training export) is
 * "finished" instead: weights stored as integers, whatever the mode (see qat.ts).
 */
import * as path from 'node:path';
import { CancelledError, InputError, throwIfCancelled, WorkError } from '../errors';
import { DataType } from '../onnx/dtype';
import { isExternal, loadModel, withGraphFromFile, modelDiskBytes, modelFilePaths, type OnnxModel } from '../onnx/model';
import { sameFile } from '../onnx/paths';
import { checkOutputPath, ExternalDataWriter, modelToBytes, saveModel, type SaveResult } from '../onnx/save';
import { walkTensors } from '../onnx/walk';
import { guardWrite, inputFiles, optionInputs, sweepStaleTemporaries } from '../util/writeGuard';
import { lockOutput, type OutputLock } from '../util/outputLock';
import { StagedOutput } from '../onnx/publish';
import { indexModel } from '../onnx/graph-index';
import type { JobContext } from '../progress';
import { quantizeDynamic } from './dynamic';
import { convertFp16 } from './fp16';
import { effectiveOptions, resolveOptions } from './options';
import { countQuantizedOps, finishQat, findQatWeights } from './qat';
import { modelForMode } from './opset';
import { makeSelection, unknownNodeNames, type EngineResult, type NodeSelection, type ResolvedOptions } from './selection';
import type { QuantizeOptions, QuantizeResult } from './types';
import { makeProbe, probeFault, runFloatOnProbe, validateQuantized, type FloatRun, type Probe } from './validate';
import { quantizeWeightOnly } from './weightOnly';
import { quantizeStatic, type RangeCache } from './static/index';
import { measureQuantizeFidelity } from './fidelity';
import { widenFloat16 } from './widen';
import { quantizeSpeedCheck, speedProbeOf } from './speedCheck';
import { quantizeWithSpeedRequirement, type OnceRun } from './speedRequirement';
import { modelInputs } from '../evaluate/data';
import { formatBytes } from '../report/format';
import { canCheckInChild, CHECK_IN_CHILD_BYTES, outcomeError, runChecksInChild } from './check';
import type { QuantizeFidelity, QuantizeSpeed } from '../evaluate/types';
import { foldBatchNormalization } from './static/foldBatchNorm';
import { foldConstants, foldedText } from '../onnx/constantFold';

export type { QuantizeOptions, QuantizeResult } from './types';

/** Files the caller's run also reads (evaluation data, labels, a recipe): never written either. */
export interface RunInputs {
  inputs?: readonly (string | undefined)[];
  /** Static mode: ranges shared by runs on the same model and calibration data (auto-exclude). */
  ranges?: RangeCache;
  /** Called with the keys of the nodes the engine quantized (not with --require-speedup, which runs several). */
  onQuantized?: (keys: readonly string[]) => void;
}

export async function quantizeFile(input: string, output: string, options: QuantizeOptions, ctx: JobContext = {}, run: RunInputs = {}): Promise<QuantizeResult> {
  if (options.requireSpeedup !== undefined) return quantizeWithSpeedRequirement(input, output, options, ctx, run, quantizeOnce);
  return quantizeOnce(input, output, options, ctx, run);
}

/** One run: the engine once, checks, publish (`--require-speedup` runs it in rounds, speedRequirement.ts). */
async function quantizeOnce(input: string, output: string, options: QuantizeOptions, ctx: JobContext, run: OnceRun): Promise<QuantizeResult> {
  const started = performance.now();
  const progress = (stage: string, fraction?: number, message?: string) =>
    ctx.onProgress?.({ stage, ...(fraction !== undefined ? { fraction } : {}), ...(message ? { message } : {}) });
  throwIfCancelled(ctx.signal);
  // A data folder's links may lead into the model's folder unless the caller says where (the workspace).
  options = { ...options, dataRoots: options.dataRoots ?? [path.dirname(path.resolve(input))] };
  const { options: resolved, warnings } = resolveOptions(options);
  progress('loading', 0);
  // Large weights are read one at a time as the engine reaches them (aligned, and let go once rewritten).
  const model = loadModel(input, { lazyWeights: true });
  const outAbs = path.resolve(output);
  // Everything this run reads; sizes measured before the engine rewrites the loaded graph.
  const protect = [...modelFilePaths(model), ...inputFiles([resolved.calibrationData, ...optionInputs(options), ...(run.inputs ?? [])])];
  const inputBytes = modelDiskBytes(model);
  let lock: OutputLock | undefined;
  let staged: StagedOutput | undefined;
  try {
    checkOutputPath(outAbs, protect, resolved.force);
    lock = lockOutput(outAbs);
    // Temporaries of runs that were killed (SIGKILL, OOM, power) are removed by the next run.
    const swept = sweepStaleTemporaries(path.dirname(outAbs));
    if (swept.length) warnings.push(`removed ${swept.length} temporary file(s) left by interrupted runs: ${swept.join(', ')}`);
    const dataPath = `${outAbs}.data`;
    const inputHadExternal = hasExternalData(model);
    const streamWeights = (resolved.externalData === 'always' || (resolved.externalData === 'auto' && inputHadExternal));
    if (streamWeights || resolved.externalData === 'always') checkDataPath(dataPath, protect, resolved.force);

    // Indexing gives every node its key, which the selection and the engines name it by.
    const index = indexModel(model.proto);
    const selection = makeSelection(resolved);
    const unknown = unknownNodeNames(selection, index);
    if (unknown.length) warnings.push(`no node named ${unknown.map((n) => `'${n}'`).join(', ')} (names from --nodes / --exclude-nodes / node overrides)`);

    // The float model runs first on the probe: a probe it fails on says nothing about the quantization.
    let probe: Probe | undefined;
    let floatRun: FloatRun | undefined;
    if (resolved.validate) probe = makeProbe(model.proto, resolved.calibrationData, options.inputs, resolved.dataRoots);
    // The speed check times the probe's inputs; without validation it gets its own (a failure to make one is only a warning then).
    const speedProbe = resolved.speedCheck ? speedProbeOf(probe, () => makeProbe(model.proto, resolved.calibrationData, options.inputs, resolved.dataRoots)) : undefined;
    // Below the opset the mode needs, the model is converted (and checked against the original on the probe).
    const { model: atOpset, conversion } = await modelForMode(model, resolved, selection, warnings, probe);
    // A large model is checked in a child process after saving (check.ts): this process never holds
    // ONNX Runtime's sessions next to its own copy of the model.
    const checkInChild = (resolved.validate || resolved.fidelity) && !conversion && inputBytes >= CHECK_IN_CHILD_BYTES && canCheckInChild();
    if (probe && !checkInChild) {
      progress('probing', 0.01, 'the float model on the validation probe');
      floatRun = await runFloatOnProbe(conversion && !inputHadExternal ? modelToBytes(atOpset.proto) : model.path, probe);
      throwIfCancelled(ctx.signal);
    }

    // Everything is written and checked under the staging folder, published only at the end.
    const stage = (staged = new StagedOutput(outAbs));
    const discard = () => stage.discard();
    const writer = streamWeights ? new ExternalDataWriter(stage.data, stage.location) : undefined;
    let saved: SaveResult | undefined;
    let engine: EngineResult;
    try {
      engine = await runEngine(atOpset, resolved, selection, ctx, writer, warnings, run.ranges);
      run.onQuantized?.(engine.quantizedKeys ?? []);
      throwIfCancelled(ctx.signal);
      if (probe && floatRun?.problem) {
        if (engine.quantizedNodes > 0) throw probeFault(floatRun.problem, probe, options.inputs);
        warnings.push(`validation skipped: nothing was quantized, and the float model itself fails on the probe (${floatRun.problem})`);
      }
      progress('saving', 0.9);
      saved = saveModel(engine.proto, stage.model, {
        source: model,
        location: stage.location,
        force: resolved.force,
        externalData: resolved.externalData,
        protect,
        ...(writer ? { writer } : {}),
      });
    } catch (e) {
      writer?.abort();
      throw e;
    }

    let fidelity: QuantizeFidelity | undefined;
    let speed: QuantizeSpeed | undefined;
    if (checkInChild) {
      progress('validating', 0.95, 'in a separate process');
      const outcome = await runChecksInChild(
        { input: model.path, output: stage.model, options, resolved, quantizedNodes: engine.quantizedNodes, quantizedKeys: engine.quantizedKeys, quantizedInputs: modelInputs(engine.proto) },
        ctx.signal,
      );
      warnings.push(...outcome.warnings);
      if (outcome.peakRssBytes !== undefined) ctx.log?.(`validation process: peak RSS ${formatBytes(outcome.peakRssBytes)}`);
      if (outcome.floatProblem !== undefined && probe) {
        if (engine.quantizedNodes > 0) throw probeFault(outcome.floatProblem, probe, options.inputs);
        warnings.push(`validation skipped: nothing was quantized, and the float model itself fails on the probe (${outcome.floatProblem})`);
      }
      if (outcome.error) throw outcomeError(outcome.error);
      fidelity = outcome.fidelity;
      speed = outcome.speed;
    }
    if (probe && floatRun && !floatRun.problem && engine.quantizedNodes > 0) {
      progress('validating', 0.95);
      try {
        await validateQuantized(stage.model, probe, floatRun);
        throwIfCancelled(ctx.signal);
      } catch (e) {
        if (e instanceof CancelledError || e instanceof InputError) throw e;
        throw new WorkError(`the quantized model failed validation, nothing was written: ${(e as Error).message}`);
      }
    }
    // The engine rewrote the loaded graph in place (unless it worked on a converted copy): the
    // per-layer ranking below the floor compares the file's float graph with the output.
    const floatModel = atOpset === model ? withGraphFromFile(model) : model;
    if (!checkInChild && resolved.fidelity) fidelity = await measureQuantizeFidelity(floatModel, stage.model, discard, options, resolved, warnings, ctx, undefined, undefined, engine.quantizedKeys);
    // Nothing quantized, nothing to time.
    if (!checkInChild && speedProbe && engine.quantizedNodes > 0) {
      const input = { floatModel: model.path, quantizedModel: stage.model, probe: speedProbe, quantizedInputs: modelInputs(engine.proto), mode: resolved.mode, accuracyLevel: resolved.accuracyLevel };
      speed = await quantizeSpeedCheck(input, discard, warnings, ctx);
    }
    throwIfCancelled(ctx.signal);
    stage.publish({ model: model.path, inputs: protect, force: resolved.force });
    const outputBytes = saved.modelBytes + saved.dataBytes;
    progress('done', 1);
    return {
      output: outAbs,
      inputBytes,
      outputBytes,
      sizeRatio: outputBytes > 0 ? inputBytes / outputBytes : 0,
      quantizedNodes: engine.quantizedNodes,
      skippedNodes: engine.skippedNodes,
      seconds: (performance.now() - started) / 1000,
      mode: resolved.mode,
      effectiveOptions: effectiveOptions(resolved),
      warnings: [...warnings, ...engine.warnings],
      ...(probe ? { inputShapes: `${probe.shapes} (${probe.origin})` } : {}),
      ...(conversion ? { conversion: conversion.summary } : {}),
      ...(engine.compensatedNodes ? { compensatedNodes: engine.compensatedNodes } : {}),
      ...(fidelity ? { fidelity } : {}),
      ...(speed ? { speed } : {}),
    };
  } finally {
    staged?.discard();
    lock?.release();
    model.external.close();
  }
}

async function runEngine(
  model: OnnxModel,
  options: ResolvedOptions,
  selection: NodeSelection,
  ctx: JobContext,
  writer: ExternalDataWriter | undefined,
  warnings: string[],
  ranges: RangeCache | undefined,
): Promise<EngineResult> {
  const graph = model.proto.graph!;
  const alreadyQuantized = countQuantizedOps(graph);
  if (findQatWeights(graph).length > 0) {
    warnings.push('the model carries QuantizeLinear → DequantizeLinear pairs on float weights (quantization-aware training): weights stored as integers, nothing else changed');
    return finishQat(model, ctx, writer);
  }
  ctx.onProgress?.({ stage: 'quantizing', fraction: 0 });
  const original = model;
  // Weights computed from constants by layout ops (Slice/Concat/Transpose… of a Constant) become constants first, bit for bit.
  const fold = foldConstants(model.proto, model);
  if (fold.total > 0) model = { ...model, proto: fold.proto };
  // The int8/int4 engines quantize float32 weights: a float16 model is widened first (exact).
  const wide = options.mode === 'fp16' ? undefined : widenFloat16(model.proto, model);
  if (wide) model = { ...model, proto: wide.proto };
  let result: EngineResult;
  switch (options.mode) {
    case 'dynamic': {
      // ConvInteger cannot absorb a BatchNormalization: fold it into the Conv first (shared with static).
      let input = model;
      if (options.quantizeConv || selection.opTypes?.has('Conv')) {
        const bn = foldBatchNormalization(model.proto, model);
        if (bn.folded > 0) {
          input = { ...model, proto: bn.proto };
          warnings.push(`${bn.folded} BatchNormalization folded into the preceding Conv`);
        }
      }
      result = await quantizeDynamic(input, options, selection, ctx, writer);
      break;
    }
    case 'weight-only':
      result = await quantizeWeightOnly(model, options, selection, ctx, writer);
      break;
    case 'fp16':
      result = await convertFp16(model, options, selection, ctx, writer);
      break;
    case 'static':
      result = await quantizeStatic(model, options, selection, ctx, ranges, writer);
      break;
  }
  if ((wide || fold.total > 0) && result.quantizedNodes === 0) {
    // Nothing quantized: the model is written as it was (not twice its size in float32, nothing folded).
    result = { ...result, proto: original.proto };
  } else if (fold.total > 0) {
    warnings.push(`folded ${fold.total} node(s) computed from constants only into constants (${foldedText(fold.folded)}), exactly`);
  }
  if (wide && result.quantizedNodes > 0) {
    warnings.push(
      `float16 model: its ${wide.tensors} float16 tensor(s) were widened to float32 (exact) to quantize from${wide.castsRemoved.length ? `, and ${wide.castsRemoved.length} float16/float32 Cast(s) that no longer change anything removed` : ''}; inputs and outputs keep their types`,
    );
  }
  if (result.quantizedNodes === 0 && options.mode === 'fp16' && graph.initializer.some((t) => t.dataType === DataType.FLOAT16)) {
    throw new InputError('model weights are already float16; nothing left to convert');
  }
  if (result.quantizedNodes === 0 && alreadyQuantized.total > 0) {
    throw new InputError(`model is already quantized (${alreadyQuantized.summary}); nothing left to quantize`);
  }
  if (result.quantizedNodes === 0) warnings.push('no node was quantized (see skipped nodes)');
  return result;
}

function hasExternalData(model: OnnxModel): boolean {
  for (const { tensor } of walkTensors(model.proto.graph!)) if (isExternal(tensor)) return true;
  return false;
}

/** The output's data file: never one of the run's inputs, never a special file, never replaced without force. */
function checkDataPath(dataPath: string, protect: string[], force: boolean): void {
  try {
    guardWrite(dataPath, 'external data file', { inputs: protect, force });
  } catch (e) {
    if (e instanceof InputError && /would overwrite/.test(e.message)) {
      throw new InputError(`the output's external data file '${dataPath}' would overwrite an input file; choose another output name`);
    }
    throw e;
  }
}
