/**
 * Edits of a model's recipe (`MODEL.quant.json`), the one record of which nodes stay float:
 * the Models view, the quick fixes, the graph view and Quantize… all change it through these
 * functions. Edits keep the user's text (comments, order, formatting) and never touch the mode of
 * an existing recipe; a new recipe gets the mode its creator chose. Pure: text in, text out.
 */
import * as path from 'node:path';
// The ESM build: esbuild cannot follow the UMD build's dynamic requires.
import * as jsonc from 'jsonc-parser/lib/esm/main.js';
import { InputError } from '../errors';
import type { QuantMode } from '../quantize/types';
import { staysInside } from '../util/writeGuard';
import { validateRecipe, type NodeOverride, type QuantRecipe } from './recipe';

/** What a recipe created by an edit starts with. */
export interface NewRecipe {
  /** The model's file name (the recipe lies next to it). */
  model: string;
  mode: QuantMode;
  /** Static mode: calibration data relative to the recipe's folder. */
  calibrationData?: string;
}

/** The settings an edit changes for one node; `exclude: false` and `perChannel: undefined`-free keys only. */
export type OverridePatch = Pick<NodeOverride, 'exclude' | 'perChannel'>;

const FORMAT: jsonc.FormattingOptions = { insertSpaces: true, tabSize: 2, eol: '\n' };

/** Parse a recipe's text (JSON with comments and trailing commas allowed) and check its shape. */
export function parseRecipeText(text: string, label: string): QuantRecipe {
  const errors: jsonc.ParseError[] = [];
  const value: unknown = jsonc.parse(text, errors, { allowTrailingComma: true });
  const first = errors[0];
  if (first) {
    const line = text.slice(0, first.offset).split('\n').length;
    throw new InputError(`${label} is not valid JSON (${jsonc.printParseErrorCode(first.error)} on line ${line}): fix it, or delete it to start again`);
  }
  return validateRecipe(value, label);
}

/** Nodes a recipe keeps float: `nodes.X.exclude` and `options.excludeNodes`, sorted, once each. */
export function excludedNodesOf(recipe: QuantRecipe): string[] {
  const out = new Set(recipe.options?.excludeNodes ?? []);
  for (const [name, o] of Object.entries(recipe.nodes ?? {})) if (o.exclude) out.add(name);
  return [...out].sort();
}

/**
 * The recipe's text after setting one node's override. `text` undefined or blank: a new recipe
 * from `create`. Returns undefined when nothing changes (e.g. un-excluding a node no recipe names).
 * Un-excluding removes the node from both places a recipe can exclude it, and drops an override
 * left empty. A text that is not valid JSON is refused (InputError), never rewritten.
 */
export function editNodeOverride(text: string | undefined, node: string, patch: OverridePatch, create: NewRecipe, label = 'recipe'): string | undefined {
  if (text === undefined || text.trim() === '') {
    const settings = Object.fromEntries(Object.entries(patch).filter(([k, v]) => v !== undefined && !(k === 'exclude' && v === false)));
    if (Object.keys(settings).length === 0) return undefined;
    const recipe: QuantRecipe = { model: create.model, mode: create.mode };
    if (create.calibrationData !== undefined) recipe.options = { calibrationData: create.calibrationData };
    recipe.nodes = { [node]: settings };
    return JSON.stringify(recipe, null, 2) + '\n';
  }
  const recipe = parseRecipeText(text, label);
  let out = text;
  const modify = (at: jsonc.JSONPath, value: unknown): void => {
    out = jsonc.applyEdits(out, jsonc.modify(out, at, value, { formattingOptions: FORMAT }));
  };
  const current = recipe.nodes?.[node] ?? {};
  for (const [key, value] of Object.entries(patch) as [keyof OverridePatch, boolean | undefined][]) {
    const remove = value === undefined || (key === 'exclude' && value === false);
    if (remove ? current[key] !== undefined : current[key] !== value) modify(['nodes', node, key], remove ? undefined : value);
  }
  if (patch.exclude === false) {
    const listed = recipe.options?.excludeNodes ?? [];
    // The whole list is rewritten: jsonc-parser's removal of a list's last item breaks the text.
    if (listed.includes(node)) modify(['options', 'excludeNodes'], listed.filter((n) => n !== node));
  }
  const after = parseRecipeText(out, label);
  const left = after.nodes?.[node];
  if (left && Object.keys(left).length === 0) {
    modify(['nodes', node], undefined);
    if (Object.keys(parseRecipeText(out, label).nodes ?? {}).length === 0) modify(['nodes'], undefined);
  }
  return out === text ? undefined : out;
}

/**
 * The text of a recipe whose mode (and, for static, calibration data) follows a new choice.
 * Used when the user quantizes with another mode than the recipe's: the recipe records how the
 * model is quantized. Calibration data outside the recipe's folder cannot be recorded (a recipe
 * names files in its folder only) and is left as it was.
 */
export function setRecipeMode(text: string, mode: QuantMode, calibrationData: string | undefined, recipeDir: string, label = 'recipe'): string | undefined {
  const recipe = parseRecipeText(text, label);
  let out = text;
  const modify = (at: jsonc.JSONPath, value: unknown): void => {
    out = jsonc.applyEdits(out, jsonc.modify(out, at, value, { formattingOptions: FORMAT }));
  };
  if (recipe.mode !== mode) modify(['mode'], mode);
  const relative = calibrationData !== undefined ? relativeInside(recipeDir, calibrationData) : undefined;
  if (mode === 'static' && relative !== undefined && recipe.options?.calibrationData !== relative) modify(['options', 'calibrationData'], relative);
  return out === text ? undefined : out;
}

/** `file` relative to `dir` with forward slashes when it lies inside it (as a recipe may name it), else undefined. */
export function relativeInside(dir: string, file: string): string | undefined {
  const rel = path.relative(dir, path.resolve(dir, file)).split(path.sep).join('/');
  return rel && staysInside('/recipe', rel) ? rel : undefined;
}
