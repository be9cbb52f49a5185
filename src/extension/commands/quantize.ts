/**
 * "Quantize…" (prompts for mode, preset, calibration data and output) and "Quantize with
 * Defaults" (settings only, no prompts). Both run the job in the worker, then offer Compare.
 * Called with an options object (tests, other extensions) there are no prompts and errors throw.
 *
 * Inputs the validation probe needs (`ids=1x128 sample_rate=16000`) are asked for only when the
 * float model fails on the default probe, and remembered per model (workspace state) for later runs.
 * A result below the fidelity floor is shown as a warning that offers to keep the worst layers float.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { InputError, oneLine } from '../../core/errors';
import type { RecipePlan } from '../../core/text/recipe';
import { outputNameProblem } from '../../core/util/writeGuard';
import { nextRunOutput } from '../../core/report/runOutput';
import { skippedText } from '../../core/quantize/skipped';
import { QUANT_MODES, type Preset, type QuantMode, type QuantizeOptions, type QuantizeResult } from '../../core/quantize/types';
import type { QuantizeSpeed } from '../../core/evaluate/types';
import type { CompareJobResult } from '../../shared/protocol';
import { formatInputOverrides, parseInputOverridesText } from '../../core/data/probe';
import { quantizeFidelityOf } from '../dashboard/reportAdapter';
import { reportError } from '../jobs/jobUi';
import { dataRoots, quantizeSettings, type QuantizeSettings } from '../settings';
import { confirmReplace } from './confirmReplace';
import { browseNpy, npyBrowseItems, type NpyBrowse } from './npyDialog';
import { compareAndShow } from './evaluate';
import { optionsOf, requireLocal, requireTrust, resolveModel, type Services } from './targets';

/** Options a caller may pass instead of answering prompts. */
export interface QuantizeCommandOptions extends Partial<QuantizeOptions> {
  /** Output path; default `MODEL.int8.onnx` (`.int4` weight-only, `.fp16` fp16) next to the model. */
  output?: string;
  /** Run a comparison afterwards and write the report next to the output. */
  compare?: boolean;
}

export interface QuantizeCommandResult extends QuantizeResult {
  compare?: CompareJobResult;
}

const MODE_TEXT: Record<QuantMode, { label: string; detail: string }> = {
  dynamic: { label: 'Dynamic (int8)', detail: 'Int8 weights, activations quantized on the fly. No data needed; best for MatMul/Gemm, LSTM and transformers.' },
  static: { label: 'Static (int8, calibrated)', detail: 'Int8 weights and activations with scales from calibration data. Fastest for CNNs; needs sample inputs.' },
  'weight-only': { label: 'Weight-only (int4)', detail: 'MatMul weights in 4 bits (MatMulNBits), activations stay float. Smallest; suited to large language models.' },
  fp16: { label: 'Float16', detail: 'Halves the size with almost no accuracy change; faster mainly on GPUs.' },
};
/** The picker's items, in core's mode order. */
const MODES = QUANT_MODES.map((mode) => ({ mode, ...MODE_TEXT[mode] }));

const PRESETS: { preset: Preset; label: string; detail: string }[] = [
  { preset: 'x86', label: 'x86 CPU', detail: 'uint8 activations, int8 per-channel weights (fuses well in ONNX Runtime on x86)' },
  { preset: 'arm', label: 'ARM CPU', detail: 'int8 activations and per-channel weights (native on ARM dot-product kernels)' },
  { preset: 'gpu', label: 'GPU (TensorRT)', detail: 'symmetric int8 QDQ on activations and weights, as TensorRT expects' },
];

/** `digits_mlp.onnx` → `digits_mlp.int8.onnx` (int4 for 4-bit weight-only, fp16 for fp16). */
export function defaultOutputPath(model: string, mode: QuantMode, weightBits: 4 | 8 = 4): string {
  const suffix = mode === 'fp16' ? 'fp16' : mode === 'weight-only' && weightBits === 4 ? 'int4' : 'int8';
  const stem = model.replace(/\.onnx$/i, '');
  return `${stem}.${suffix}.onnx`;
}

export function registerQuantizeCommands(services: Services): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand('onnxQuantizer.quantizeModel', (arg?: unknown, opts?: unknown) => quantizeCommand(services, arg, opts, false)),
    vscode.commands.registerCommand('onnxQuantizer.quantizeWithDefaults', (arg?: unknown, opts?: unknown) => quantizeCommand(services, arg, opts, true)),
  ];
}

async function quantizeCommand(services: Services, arg: unknown, rawOptions: unknown, useDefaults: boolean): Promise<QuantizeCommandResult | undefined> {
  const given = optionsOf<QuantizeCommandOptions>(rawOptions) ?? optionsOf<QuantizeCommandOptions>(arg);
  const programmatic = given !== undefined;
  try {
    if (!(await requireTrust(vscode.l10n.t('Quantizing'), programmatic))) return undefined;
    const model = await resolveModel(arg, services, vscode.l10n.t('Quantize Model'));
    if (!model) return undefined;
    requireLocal(model);
    const settings = quantizeSettings(model);
    const recipe = modelRecipe(services, model);
    const plan = programmatic || useDefaults ? planFromSettings(model.fsPath, settings, given ?? {}, recipe) : await askPlan(model.fsPath, settings, recipe);
    if (!plan) return undefined;
    // The recipe's float layers stay float, unless the caller chose the nodes itself.
    const kept = recipe && plan.options.excludeNodes === undefined && plan.options.nodes === undefined ? keptFloatBy(recipe, plan.options.mode) : undefined;
    if (kept) {
      plan.options.excludeNodes = kept.nodes;
      services.log.info(`${kept.text}: ${kept.nodes.join(', ')}`);
    }
    if (useDefaults && !programmatic && fs.existsSync(plan.output)) {
      // As Quantize… proposes: quantizing again adds a run beside the earlier ones, never replaces one unasked.
      const next = nextRunOutput(model.fsPath, plan.output, plan.output);
      services.log.info(`${path.basename(plan.output)} exists: this run writes ${path.basename(next)}`);
      plan.output = next;
    }
    if (!programmatic && !plan.options.force && fs.existsSync(plan.output)) {
      if (!(await confirmReplace(plan.output))) return undefined;
      plan.options.force = true;
    }
    const result: QuantizeCommandResult = await runWithInputs(services, model.fsPath, plan, programmatic);
    services.log.info(`quantized ${model.fsPath} → ${result.output}: ${result.sizeRatio.toFixed(2)}× smaller, ${result.quantizedNodes} nodes, ${result.skippedNodes.length} skipped`);
    for (const n of result.skippedNodes) services.log.info(`  skipped ${n.node}${n.subgraph ? ` (in ${n.subgraph})` : ''}: ${n.reason}`);
    for (const w of result.warnings) services.log.warn(`  ${w}`);
    if (programmatic) {
      if (given?.compare) result.compare = await compareAndShow(services, model, vscode.Uri.file(result.output), { programmatic: true, quantize: result });
      return result;
    }
    await services.exclusions.recordChoice(model, { mode: plan.options.mode, ...(plan.options.calibrationData ? { calibrationData: plan.options.calibrationData } : {}) }).catch((e: unknown) => services.log.warn(`recipe not updated: ${oneLine(e)}`));
    void offerNextSteps(services, model, result, plan, kept?.text);
    return result;
  } catch (e) {
    if (programmatic) throw e;
    reportError(e, services.log);
    return undefined;
  }
}

interface Plan {
  output: string;
  options: QuantizeOptions;
}

const inputsKey = (model: string) => `onnxQuantizer.inputs:${model}`;

/**
 * Run the quantize job with the inputs remembered for this model. When the float model fails on
 * the probe (the error names the inputs), ask for them, retry, and remember what worked.
 */
async function runWithInputs(services: Services, model: string, plan: Plan, programmatic: boolean): Promise<QuantizeResult> {
  const state = services.context.workspaceState;
  const remembered = state.get<string>(inputsKey(model));
  if (plan.options.inputs === undefined && remembered) {
    plan.options.inputs = parseInputOverridesText(remembered);
    services.log.info(`validation probe inputs remembered for this model: ${remembered}`);
  }
  const roots = dataRoots();
  if (roots) plan.options.dataRoots = roots;
  for (;;) {
    try {
      const result = await services.jobs.run({ kind: 'quantize', model, output: plan.output, options: plan.options });
      const text = formatInputOverrides(plan.options.inputs);
      if (text && text !== remembered) await state.update(inputsKey(model), text);
      return result;
    } catch (e) {
      if (programmatic || !/float model itself fails on the probe/.test((e as Error).message ?? '')) throw e;
      services.log.warn((e as Error).message);
      const given = await vscode.window.showInputBox({
        title: vscode.l10n.t('Quantize {0}: inputs for validation', path.basename(model)),
        prompt: (e as Error).message.replace(/^validation: /, '').slice(0, 400),
        placeHolder: vscode.l10n.t('NAME=1x128 (a shape) or NAME=16000 / NAME=file.npy (a value), space-separated'),
        value: formatInputOverrides(plan.options.inputs) || remembered || '',
        ignoreFocusOut: true,
        validateInput: (v) => {
          try {
            parseInputOverridesText(v);
            return undefined;
          } catch (err) {
            return (err as Error).message;
          }
        },
      });
      const parsed = given?.trim() ? parseInputOverridesText(given) : undefined;
      if (!parsed) throw e;
      plan.options.inputs = parsed;
    }
  }
}

/** The model's recipe (`MODEL.quant.json`) as quantizer options; a recipe that cannot be read stops the run. */
interface ModelRecipe {
  file: string;
  plan: RecipePlan;
}

function modelRecipe(services: Services, model: vscode.Uri): ModelRecipe | undefined {
  const error = services.exclusions.recipeError(model);
  if (error) throw new InputError(error);
  const plan = services.exclusions.plan(model);
  if (!plan) return undefined;
  const file = services.exclusions.recipePath(model);
  // Only the model's own recipe counts here: one naming another model is run with Quantize with Recipe.
  return path.resolve(plan.model) === path.resolve(model.fsPath) ? { file, plan } : undefined;
}

/** The recipe's options that apply in `mode`: all of them in the recipe's own mode, else only its float layers. */
function recipeOptionsFor(recipe: ModelRecipe | undefined, mode: QuantMode): Partial<QuantizeOptions> {
  if (!recipe) return {};
  const { mode: _mode, ...options } = recipe.plan.options;
  if (recipe.plan.options.mode === mode) return options;
  return options.excludeNodes ? { excludeNodes: options.excludeNodes } : {};
}

/** "3 nodes kept float by digits_cnn.quant.json" (undefined when the recipe keeps none float). */
function keptFloatBy(recipe: ModelRecipe, mode: QuantMode): { nodes: string[]; text: string } | undefined {
  const nodes = recipeOptionsFor(recipe, mode).excludeNodes ?? [];
  if (nodes.length === 0) return undefined;
  const name = path.basename(recipe.file);
  return { nodes, text: nodes.length === 1 ? vscode.l10n.t('1 node kept float by {0}', name) : vscode.l10n.t('{0} nodes kept float by {1}', nodes.length, name) };
}

function planFromSettings(model: string, s: QuantizeSettings, given: QuantizeCommandOptions, recipe: ModelRecipe | undefined): Plan {
  const { output, compare: _compare, ...overrides } = given;
  // The caller's options win, then the recipe's (its mode too), then the settings.
  const mode = overrides.mode ?? recipe?.plan.options.mode ?? s.mode;
  const { excludeNodes: _excluded, ...fromRecipe } = recipeOptionsFor(recipe, mode);
  const options: QuantizeOptions = { preset: s.preset, ...fromRecipe, ...overrides, mode };
  if (options.mode === 'static') {
    options.format ??= s.format;
    options.calibrationMethod ??= s.calibrationMethod;
    options.calibrationData ??= s.calibrationData;
    options.calibrationBatch ??= s.calibrationBatch;
    options.memoryBudget ??= s.memoryBudget;
    if (!options.calibrationData) throw new InputError(vscode.l10n.t('Static quantization needs calibration data: set onnxQuantizer.quantize.calibrationData or use "Quantize…".'));
  }
  if (options.mode === 'weight-only') {
    options.weightBits ??= s.weightBits;
    options.accuracyLevel ??= s.accuracyLevel;
  }
  options.perChannel ??= s.perChannel;
  const out = output ? path.resolve(path.dirname(model), output) : mode === recipe?.plan.options.mode && recipe.plan.output ? recipe.plan.output : defaultOutputPath(model, options.mode, options.weightBits);
  return { output: out, options };
}

async function askPlan(model: string, s: QuantizeSettings, recipe: ModelRecipe | undefined): Promise<Plan | undefined> {
  const title = vscode.l10n.t('Quantize {0}', path.basename(model));
  const recipeName = recipe ? path.basename(recipe.file) : '';
  const preferred = recipe?.plan.options.mode ?? s.mode;
  const mode = await vscode.window.showQuickPick(
    MODES.map((m) => ({ ...m, description: m.mode !== preferred ? '' : recipe ? vscode.l10n.t('from {0}', recipeName) : vscode.l10n.t('default') })).sort(
      (a, b) => Number(b.mode === preferred) - Number(a.mode === preferred),
    ),
    { title: `${title} (1/3)`, placeHolder: vscode.l10n.t('Quantization mode'), matchOnDetail: true },
  );
  if (!mode) return undefined;
  const preset = await vscode.window.showQuickPick(
    PRESETS.map((p) => ({ ...p, description: p.preset === s.preset ? vscode.l10n.t('default') : '' })).sort((a, b) => Number(b.preset === s.preset) - Number(a.preset === s.preset)),
    { title: `${title} (2/3)`, placeHolder: vscode.l10n.t('Target hardware') },
  );
  if (!preset) return undefined;
  // The recipe's settings for its own mode (its float layers in any mode) over the settings' defaults.
  const { excludeNodes: _excluded, ...fromRecipe } = recipeOptionsFor(recipe, mode.mode);
  const options: QuantizeOptions = { perChannel: s.perChannel, ...fromRecipe, mode: mode.mode, preset: preset.preset };
  if (mode.mode === 'static') {
    const fromFile = fromRecipe.calibrationData ? { path: fromRecipe.calibrationData, source: recipeName } : undefined;
    const data = await pickCalibrationData(model, s.calibrationData, title, fromFile);
    if (!data) return undefined;
    options.calibrationData = data;
    options.format ??= s.format;
    options.calibrationMethod ??= s.calibrationMethod;
    options.calibrationBatch ??= s.calibrationBatch;
    options.memoryBudget ??= s.memoryBudget;
  }
  if (mode.mode === 'weight-only') {
    options.weightBits ??= s.weightBits;
    options.accuracyLevel ??= s.accuracyLevel;
  }
  const usual = mode.mode === recipe?.plan.options.mode && recipe.plan.output ? recipe.plan.output : defaultOutputPath(model, mode.mode, options.weightBits);
  // Quantizing again adds a run (NAME.int8-2.onnx …) beside the earlier ones rather than replacing one.
  const suggested = fs.existsSync(usual) ? nextRunOutput(model, usual, usual) : usual;
  const kept = recipe ? keptFloatBy(recipe, mode.mode) : undefined;
  const place = suggested === usual ? vscode.l10n.t('Output file, next to the model') : vscode.l10n.t('Output file, next to the model: a new run beside {0}', path.basename(usual));
  const name = await vscode.window.showInputBox({
    title: `${title} (3/3)`,
    prompt: kept ? `${place} (${kept.text})` : place,
    value: path.basename(suggested),
    valueSelection: [0, path.basename(suggested).length - '.onnx'.length],
    validateInput: (v) => {
      if (!v.trim()) return vscode.l10n.t('Enter a file name');
      if (!/\.onnx$/i.test(v.trim())) return vscode.l10n.t('The output name should end in .onnx');
      const problem = outputNameProblem(model, v);
      if (problem) return vscode.l10n.t('Refused: {0}', problem);
      return undefined;
    },
  });
  if (!name) return undefined;
  return { output: path.resolve(path.dirname(model), name.trim()), options };
}

/** Calibration data: the setting, `.npy` files next to the model, or a file/folder dialog. */
async function pickCalibrationData(model: string, fromSettings: string | undefined, title: string, fromRecipe?: { path: string; source: string }): Promise<string | undefined> {
  type Item = vscode.QuickPickItem & { path?: string; browse?: NpyBrowse };
  const items: Item[] = [];
  if (fromRecipe) items.push({ label: path.basename(fromRecipe.path), description: vscode.l10n.t('from {0}', fromRecipe.source), detail: fromRecipe.path, path: fromRecipe.path });
  if (fromSettings && fromSettings !== fromRecipe?.path) items.push({ label: path.basename(fromSettings), description: vscode.l10n.t('from settings'), detail: fromSettings, path: fromSettings });
  const dir = path.dirname(model);
  let nearby: string[] = [];
  try {
    nearby = (await fs.promises.readdir(dir)).filter((f) => f.endsWith('.npy')).map((f) => path.join(dir, f));
  } catch {
    /* folder not listable: only the dialog remains */
  }
  for (const p of nearby) if (p !== fromSettings && p !== fromRecipe?.path) items.push({ label: path.basename(p), description: vscode.l10n.t('next to the model'), path: p });
  items.push(...npyBrowseItems());
  const pick = await vscode.window.showQuickPick(items, { title, placeHolder: vscode.l10n.t('Calibration data (first axis = samples)') });
  if (!pick) return undefined;
  if (pick.path) return pick.path;
  return pick.browse ? browseNpy(pick.browse, dir, vscode.l10n.t('Calibration data')) : undefined;
}

/** The speed check in a few words (the full figures are in the log and the JSON). */
function speedText(s: QuantizeSpeed): string {
  const kept = s.requirement?.keptFloat ?? [];
  if (kept.length) {
    const groups = kept.map((g) => g.group).join('; ');
    return vscode.l10n.t('Kept float for speed: {0}; now {1}× float at batch {2}.', groups, s.speedup.toFixed(2), s.batch);
  }
  if (s.verdict === 'slower') return vscode.l10n.t('Slower than float on this CPU: {0}× ({1}).', s.speedup.toFixed(2), s.cpuFlags);
  if (s.verdict === 'faster') return vscode.l10n.t('{0}× faster than float at batch {1}.', s.speedup.toFixed(2), s.batch);
  return vscode.l10n.t('No faster than float on this CPU ({0}×, within the noise).', s.speedup.toFixed(2));
}

async function offerNextSteps(services: Services, model: vscode.Uri, result: QuantizeResult, plan: Plan, keptFloat?: string): Promise<void> {
  const compare = vscode.l10n.t('Compare');
  const reveal = vscode.l10n.t('Reveal in Explorer');
  const keepFloat = vscode.l10n.t('Keep Worst Layers Float');
  // Why nodes stayed float, beyond the ones the recipe keeps float (keptFloat says those).
  const kept = new Set(plan.options.excludeNodes ?? []);
  const why = skippedText(result.skippedNodes.filter((n) => !kept.has(n.node)));
  const skipped = result.skippedNodes.length ? vscode.l10n.t(', {0} skipped', result.skippedNodes.length) + (why ? ` (${why})` : '') : '';
  // The same fidelity line as the dashboard's.
  const fidelity = quantizeFidelityOf({ quantize: { fidelity: result.fidelity } });
  const message =
    vscode.l10n.t('Quantized {0} → {1}: {2}× smaller, {3} nodes quantized{4}.', path.basename(model.fsPath), path.basename(result.output), result.sizeRatio.toFixed(2), result.quantizedNodes, skipped) +
    (keptFloat ? ' ' + vscode.l10n.t('{0}.', keptFloat) : '') +
    (fidelity ? ' ' + vscode.l10n.t('Fidelity vs float: {0}.', fidelity.text) : '') +
    (result.speed ? ' ' + speedText(result.speed) : '');
  const worst = result.fidelity?.worstLayers?.map((l) => l.node) ?? [];
  const pick = fidelity?.belowFloor || result.speed?.verdict === 'slower'
    ? await vscode.window.showWarningMessage(message, ...(worst.length ? [keepFloat] : []), compare, reveal)
    : await vscode.window.showInformationMessage(message, compare, reveal);
  if (pick === keepFloat) {
    try {
      // The model's recipe records them, so the Models view, the text view and the next run agree.
      for (const node of worst) await services.exclusions.set(model, node, true);
      const { force: _force, ...earlier } = plan.options;
      const options = { ...earlier, excludeNodes: [...new Set([...(plan.options.excludeNodes ?? []), ...worst])] };
      keptFloat = vscode.l10n.t('{0} nodes kept float by {1}', options.excludeNodes.length, path.basename(services.exclusions.recipePath(model)));
      // A new run beside the one it improves on, so the two can be compared side by side.
      const output = nextRunOutput(model.fsPath, result.output, result.output);
      services.log.info(`re-quantizing into ${output} with ${worst.join(', ')} kept in float`);
      const again = await services.jobs.run({ kind: 'quantize', model: model.fsPath, output, options });
      void offerNextSteps(services, model, again, { output, options }, keptFloat);
    } catch (e) {
      reportError(e, services.log);
    }
  } else if (pick === compare) {
    try {
      await compareAndShow(services, model, vscode.Uri.file(result.output), { programmatic: false, quantize: result });
    } catch (e) {
      reportError(e, services.log);
    }
  } else if (pick === reveal) {
    await vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(result.output));
  }
}
