/**
 * Quantization recipes: `MODEL.quant.json` files next to a model that record how to quantize it
 * (mode, options, per-node overrides), edited by hand or by the language server's code actions.
 * Schema: schemas/quant-recipe.schema.json. Pure (path arithmetic only, no I/O).
 */
import * as path from 'node:path';
import { InputError } from '../errors';
import { recipePaths, spelledPathProblem } from './recipePaths';
import { QUANT_MODES, type QuantizeOptions, type QuantMode, type QuantNodeOverride } from '../quantize/types';

export interface NodeOverride {
  /** Keep this node in float. */
  exclude?: boolean;
  /** Per-channel (true) or per-tensor (false) weight scales for this node (dynamic and static modes). */
  perChannel?: boolean;
  /** Weight bits for this node (weight-only mode). */
  bits?: 4 | 8;
}

/**
 * Every QuantizeOptions field except the mode (a top-level recipe field), the per-node settings
 * (recipe `nodes`), force (replacing an output is the user's call when the recipe runs) and
 * dataRoots (where data links may lead is the caller's confinement, not the recipe's to widen).
 */
export type RecipeOptions = Omit<QuantizeOptions, 'mode' | 'nodeOverrides' | 'force' | 'dataRoots'>;

export interface QuantRecipe {
  $schema?: string;
  /** Model path, relative to the recipe's folder. */
  model: string;
  /** Output path, relative to the recipe's folder; default: the quantize command's (`MODEL.int8.onnx`, …). */
  output?: string;
  mode: QuantMode;
  options?: RecipeOptions;
  /** Overrides by node name (the name the quantizer reports: node name, else its first output). */
  nodes?: Record<string, NodeOverride>;
}

export { QUANT_MODES };

/** Recipe file for a model: `dir/model.onnx` → `dir/model.quant.json`. */
export function recipePathFor(modelPath: string): string {
  return modelPath.replace(/\.onnx$/i, '') + '.quant.json';
}

/** Fields of `options` and their JSON types, mirroring QuantizeOptions. */
const OPTION_TYPES: Record<keyof RecipeOptions, 'string' | 'number' | 'boolean' | 'string[]' | 'inputs' | 'floor'> = {
  format: 'string',
  calibrationData: 'string',
  calibrationMethod: 'string',
  percentile: 'number',
  histogramBins: 'number',
  calibrationBatch: 'number',
  memoryBudget: 'number',
  movingAverage: 'boolean',
  perChannel: 'boolean',
  reduceRange: 'boolean',
  symmetricActivations: 'boolean',
  activationType: 'string',
  weightBits: 'number',
  blockSize: 'number',
  accuracyLevel: 'number',
  weightClipping: 'string',
  weightRounding: 'string',
  preset: 'string',
  quantizeConv: 'boolean',
  opTypes: 'string[]',
  nodes: 'string[]',
  excludeNodes: 'string[]',
  validate: 'boolean',
  externalData: 'string',
  inputs: 'inputs',
  fidelity: 'boolean',
  fidelityData: 'string',
  fidelityFloor: 'floor',
  minSqnrDb: 'number',
  speedCheck: 'boolean',
  requireSpeedup: 'number',
};

export const RECIPE_OPTION_NAMES = Object.keys(OPTION_TYPES) as (keyof RecipeOptions)[];

/** Check the shape of a parsed recipe (the editor's JSON schema says more; this guards the command). */
export function validateRecipe(value: unknown, label = 'recipe'): QuantRecipe {
  const fail = (msg: string): never => {
    throw new InputError(`${label}: ${msg}`);
  };
  if (!isObject(value)) return fail('not a JSON object');
  if (typeof value.model !== 'string' || value.model === '') fail('"model" must name the model file');
  if (!QUANT_MODES.includes(value.mode as QuantMode)) fail(`"mode" must be one of ${QUANT_MODES.join(', ')}`);
  if (value.output !== undefined && typeof value.output !== 'string') fail('"output" must be a path');
  // A recipe is a file anyone can commit: it may only name files in its own folder (or below),
  // and it may not decide to replace an existing output (the user confirms that).
  for (const p of recipePaths(value)) {
    const problem = spelledPathProblem(p);
    if (problem) fail(problem);
  }
  if (value.options !== undefined) {
    if (!isObject(value.options)) fail('"options" must be an object');
    const options = value.options as Record<string, unknown>;
    if ('force' in options) fail('"force" is not allowed in a recipe: replacing an existing output is confirmed when the recipe runs');
    for (const [k, v] of Object.entries(value.options as object)) {
      const type = OPTION_TYPES[k as keyof RecipeOptions];
      if (!type) fail(`unknown option "${k}"`);
      if (type === 'floor') {
        const ok = isObject(v) && Object.entries(v).every(([fk, fv]) => (fk === 'sqnrDb' || fk === 'cosine') && typeof fv === 'number');
        if (!ok) fail('option "fidelityFloor" must be {"sqnrDb": DB, "cosine": C}');
        continue;
      }
      if (type === 'inputs') {
        const problem = inputsProblem(v);
        if (problem) fail(`option "inputs" ${problem}`);
        continue;
      }
      const ok = type === 'string[]' ? Array.isArray(v) && v.every((x) => typeof x === 'string') : typeof v === type;
      if (!ok) fail(`option "${k}" must be ${type === 'string[]' ? 'a list of strings' : `a ${type}`}`);
    }
  }
  if (value.nodes !== undefined) {
    if (!isObject(value.nodes)) fail('"nodes" must be an object keyed by node name');
    for (const [name, o] of Object.entries(value.nodes as object)) {
      if (!isObject(o)) fail(`override for node "${name}" must be an object`);
      const ov = o as Record<string, unknown>;
      for (const k of Object.keys(ov)) if (!['exclude', 'perChannel', 'bits'].includes(k)) fail(`override for node "${name}" has unknown field "${k}"`);
      if (ov.exclude !== undefined && typeof ov.exclude !== 'boolean') fail(`"exclude" of node "${name}" must be true or false`);
      if (ov.perChannel !== undefined && typeof ov.perChannel !== 'boolean') fail(`"perChannel" of node "${name}" must be true or false`);
      if (ov.bits !== undefined && ov.bits !== 4 && ov.bits !== 8) fail(`"bits" of node "${name}" must be 4 or 8`);
    }
  }
  return value as unknown as QuantRecipe;
}

export interface RecipeWarning {
  node: string;
  message: string;
}

export interface RecipePlan {
  /** Absolute model path. */
  model: string;
  /** Absolute output path, when the recipe names one (else the quantize command's default applies). */
  output?: string;
  options: QuantizeOptions;
  /** Overrides that have no effect in the recipe's mode (they are left out of `options`). */
  warnings: RecipeWarning[];
}

/**
 * Map a recipe to the quantizer's options. Paths (model, output, calibrationData) are resolved
 * against the recipe's folder; excluded nodes join `excludeNodes`; per-node perChannel (dynamic,
 * static) and bits (weight-only) become `nodeOverrides`, keyed by the same node names.
 */
export function recipeToOptions(recipe: QuantRecipe, recipeDir: string): RecipePlan {
  const options: QuantizeOptions = { mode: recipe.mode };
  for (const [k, v] of Object.entries(recipe.options ?? {})) {
    if (v !== undefined && k in OPTION_TYPES) (options as unknown as Record<string, unknown>)[k] = v;
  }
  if (options.calibrationData !== undefined) options.calibrationData = path.resolve(recipeDir, options.calibrationData);
  if (options.fidelityData !== undefined) options.fidelityData = path.resolve(recipeDir, options.fidelityData);
  if (options.inputs?.values) {
    // Numbers stay numbers; a .npy file is relative to the recipe, like the calibration data.
    const values = Object.entries(options.inputs.values).map(([n, v]) => [n, /\.npy$/i.test(String(v)) ? path.resolve(recipeDir, String(v)) : String(v)]);
    options.inputs = { ...options.inputs, values: Object.fromEntries(values) };
  }
  const excluded = new Set(options.excludeNodes ?? []);
  const warnings: RecipeWarning[] = [];
  const overrides: Record<string, QuantNodeOverride> = {};
  const scaled = recipe.mode === 'dynamic' || recipe.mode === 'static';
  for (const [name, o] of Object.entries(recipe.nodes ?? {})) {
    if (o.exclude) excluded.add(name);
    if (o.exclude) continue;
    const ov: QuantNodeOverride = {};
    if (o.perChannel !== undefined) {
      if (scaled) ov.perChannel = o.perChannel;
      else warnings.push({ node: name, message: `"perChannel" applies to dynamic and static modes only: no effect in ${recipe.mode} mode` });
    }
    if (o.bits !== undefined) {
      if (recipe.mode === 'weight-only') ov.bits = o.bits;
      else warnings.push({ node: name, message: `"bits" applies to weight-only mode only: no effect in ${recipe.mode} mode` });
    }
    if (Object.keys(ov).length) overrides[name] = ov;
  }
  if (excluded.size) options.excludeNodes = [...excluded];
  if (Object.keys(overrides).length) options.nodeOverrides = overrides;
  const plan: RecipePlan = { model: path.resolve(recipeDir, recipe.model), options, warnings };
  if (recipe.output !== undefined) plan.output = path.resolve(recipeDir, recipe.output);
  return plan;
}

/** What is wrong with `options.inputs` ({shapes: {NAME: [dims]}, values: {NAME: "16000" | "x.npy"}}), or undefined. */
function inputsProblem(v: unknown): string | undefined {
  if (!isObject(v)) return 'must be an object with "shapes" and/or "values"';
  for (const k of Object.keys(v)) if (k !== 'shapes' && k !== 'values') return `has unknown field "${k}" (expected "shapes", "values")`;
  if (v.shapes !== undefined) {
    if (!isObject(v.shapes)) return '"shapes" must map input names to lists of whole numbers';
    for (const [n, d] of Object.entries(v.shapes)) {
      if (!Array.isArray(d) || !d.every((x) => Number.isSafeInteger(x) && x >= 0)) return `shape of "${n}" must be a list of whole numbers, e.g. [1, 128]`;
    }
  }
  if (v.values !== undefined) {
    if (!isObject(v.values)) return '"values" must map input names to a value or a .npy file';
    for (const [n, x] of Object.entries(v.values)) if (typeof x !== 'string' && typeof x !== 'number') return `value of "${n}" must be a number, "1,0,1" or a .npy file`;
  }
  return undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
