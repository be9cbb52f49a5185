/**
 * Recipe files (`*.quant.json`): semantic checks against the model they name (node names, op
 * types the mode can quantize, calibration data matching the inputs), completion of node names
 * and op types, and the edits the text view's code actions make to a model's recipe.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
// The ESM build: esbuild cannot follow the UMD build's dynamic requires.
import * as jsonc from 'jsonc-parser/lib/esm/main.js';
import { DiagnosticSeverity, CompletionItemKind, type CompletionItem, type Diagnostic } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { oneLine } from '../core/errors';
import { readRegularText } from '../core/util/files';
import { loadInputData, modelInputs } from '../core/evaluate/data';
import type { QuantMode } from '../core/quantize/types';
import { QUANT_MODES, recipePathFor, recipeToOptions, validateRecipe, type NodeOverride, type QuantRecipe, type RecipeWarning } from '../core/text/recipe';
import { parseRecipeText } from '../core/text/recipeEdit';
import { recipePathProblems } from '../core/text/recipePaths';
import { SOURCE } from './diagnostics';
import type { ModelState, ModelStore } from './models';

export function isRecipeUri(uri: string): boolean {
  return /\.quant\.json$/i.test(uri);
}

/** Model path a recipe names (resolved against the recipe's folder), if it names one. */
export function recipeModelPath(text: string, recipePath: string): string | undefined {
  const value = jsonc.parse(text, [], { allowTrailingComma: true }) as { model?: unknown } | undefined;
  return typeof value?.model === 'string' && value.model ? path.resolve(path.dirname(recipePath), value.model) : undefined;
}

/**
 * What the server may read for a recipe: nothing a recipe names unless the workspace is trusted,
 * and then only inside `roots` (the workspace folders; the recipe's folder when there are none).
 */
export interface RecipeAccess {
  trusted: boolean;
  roots: readonly string[];
}

/** The paths of a recipe the server may not read, keyed by their place in the JSON ("model", "options/calibrationData"). */
function refusedPaths(value: unknown, recipePath: string, access: RecipeAccess): Map<string, { at: (string | number)[]; problem: string }> {
  const out = new Map<string, { at: (string | number)[]; problem: string }>();
  for (const { path: p, problem } of recipePathProblems(value, recipePath, access.roots)) out.set(p.at.join('/'), { at: p.at, problem });
  return out;
}

/** The node keys a recipe may use (the quantizer, the analysis and the editor name nodes by them). */
function knownNodes(state: ModelState): Map<string, { opType: string; modes: QuantMode[] }> {
  const out = new Map<string, { opType: string; modes: QuantMode[] }>();
  for (const { info, node } of state.layers) out.set(info.node, { opType: node.opType, modes: [...info.modes, ...(info.onRequest ?? [])] as QuantMode[] });
  return out;
}

const calibrationCache = new Map<string, string | null>();

/**
 * One line why the data cannot calibrate this model, or null when it fits. Cached by file stamps.
 * A data folder's entries are read only inside `roots` (links leading elsewhere are refused).
 */
function calibrationProblem(dataPath: string, state: ModelState, roots: readonly string[]): string | null {
  let stamp: string;
  try {
    const s = fs.statSync(dataPath);
    stamp = `${dataPath}|${s.size}|${s.mtimeMs}|${state.path}|${state.stamp}|${roots.join('|')}`;
  } catch {
    return `calibration data '${dataPath}' does not exist`;
  }
  let cached = calibrationCache.get(stamp);
  if (cached === undefined) {
    try {
      loadInputData(dataPath, modelInputs(state.model!.proto), undefined, roots);
      cached = null;
    } catch (e) {
      cached = oneLine(e);
    }
    if (calibrationCache.size > 64) calibrationCache.clear();
    calibrationCache.set(stamp, cached);
  }
  return cached;
}

export function recipeDiagnostics(doc: TextDocument, recipePath: string, store: ModelStore, access: RecipeAccess): Diagnostic[] {
  const text = doc.getText();
  const root = jsonc.parseTree(text, [], { allowTrailingComma: true });
  if (!root || root.type !== 'object') return []; // syntax errors are the JSON language's job
  const out: Diagnostic[] = [];
  const at = (node: jsonc.Node, severity: DiagnosticSeverity, message: string): void => {
    out.push({ range: { start: doc.positionAt(node.offset), end: doc.positionAt(node.offset + node.length) }, severity, source: SOURCE, message });
  };
  const modelNode = jsonc.findNodeAtLocation(root, ['model']);
  if (!modelNode || typeof modelNode.value !== 'string') return out;
  if (!access.trusted) {
    at(modelNode, DiagnosticSeverity.Information, 'Restricted Mode: the files this recipe names are not read until the workspace is trusted');
    return out;
  }
  // A recipe may name only regular files inside the workspace: others are flagged, never read.
  const refused = refusedPaths(jsonc.getNodeValue(root), recipePath, access);
  for (const { at: where, problem } of refused.values()) {
    const node = jsonc.findNodeAtLocation(root, where);
    if (node) at(node, DiagnosticSeverity.Error, problem);
  }
  if (refused.has('model')) return out;
  const modelPath = path.resolve(path.dirname(recipePath), modelNode.value);
  const state = store.get(modelPath);
  if (state.error || !state.model) {
    at(modelNode, DiagnosticSeverity.Error, state.error ?? 'model could not be read');
    return out;
  }
  const modeNode = jsonc.findNodeAtLocation(root, ['mode']);
  const mode = QUANT_MODES.includes(modeNode?.value) ? (modeNode!.value as QuantMode) : undefined;
  const nodes = knownNodes(state);
  const opTypes = new Map<string, QuantMode[]>();
  for (const { opType, modes } of nodes.values()) opTypes.set(opType, [...new Set([...(opTypes.get(opType) ?? []), ...modes])]);

  const checkNodeName = (n: jsonc.Node, name: string): void => {
    if (!nodes.has(name)) at(n, DiagnosticSeverity.Warning, `no node named '${name}' in ${path.basename(modelPath)}`);
  };
  for (const list of ['nodes', 'excludeNodes']) {
    const arr = jsonc.findNodeAtLocation(root, ['options', list]);
    for (const item of arr?.type === 'array' ? (arr.children ?? []) : []) if (typeof item.value === 'string') checkNodeName(item, item.value);
  }
  const opArr = jsonc.findNodeAtLocation(root, ['options', 'opTypes']);
  for (const item of opArr?.type === 'array' ? (opArr.children ?? []) : []) {
    if (typeof item.value !== 'string') continue;
    const op = item.value.replace(/^(ai\.onnx|com\.microsoft)\./, '');
    const modes = opTypes.get(op);
    if (!modes) at(item, DiagnosticSeverity.Warning, `no ${item.value} node in ${path.basename(modelPath)}`);
    else if (mode && mode !== 'fp16' && !modes.includes(mode)) at(item, DiagnosticSeverity.Warning, `${mode} mode cannot quantize the ${item.value} nodes of this model`);
  }
  const overrides = jsonc.findNodeAtLocation(root, ['nodes']);
  for (const prop of overrides?.type === 'object' ? (overrides.children ?? []) : []) {
    const key = prop.children?.[0];
    if (!key || typeof key.value !== 'string') continue;
    const known = nodes.get(key.value);
    if (!known) {
      checkNodeName(key, key.value);
      continue;
    }
    const value = prop.children?.[1];
    const o = (value ? jsonc.getNodeValue(value) : {}) as NodeOverride;
    if (mode && mode !== 'fp16' && !o.exclude && !known.modes.includes(mode)) {
      at(key, DiagnosticSeverity.Warning, `${mode} mode does not quantize '${key.value}' (${known.opType}): this override has no effect`);
    }
    // Dynamic mode keeps these per tensor whatever the override: ConvInteger takes one weight zero
    // point, embedding Gathers are uint8 per tensor.
    if (o.perChannel === true && !o.exclude && mode === 'dynamic' && (known.opType === 'Conv' || known.opType === 'Gather')) {
      at(key, DiagnosticSeverity.Warning, `dynamic mode quantizes ${known.opType} weights per tensor: "perChannel" has no effect on '${key.value}'`);
    }
  }
  // What the Quantize with Recipe command will warn about (per-node settings that do nothing in this mode).
  let planned: RecipeWarning[] = [];
  try {
    planned = recipeToOptions(validateRecipe(jsonc.getNodeValue(root)), path.dirname(recipePath)).warnings;
  } catch {
    /* shape problems: the JSON schema reports them */
  }
  for (const w of planned) {
    const key = jsonc.findNodeAtLocation(root, ['nodes', w.node])?.parent?.children?.[0];
    if (key && nodes.has(w.node)) at(key, DiagnosticSeverity.Warning, w.message);
  }
  const calib = jsonc.findNodeAtLocation(root, ['options', 'calibrationData']);
  if (calib && typeof calib.value === 'string') {
    if (refused.has('options/calibrationData')) return out;
    const roots = access.roots.length ? access.roots : [path.dirname(recipePath)];
    const problem = calibrationProblem(path.resolve(path.dirname(recipePath), calib.value), state, roots);
    if (problem) at(calib, DiagnosticSeverity.Error, problem);
  } else if (mode === 'static' && modeNode) {
    at(modeNode, DiagnosticSeverity.Error, 'static mode needs calibration data: set "options.calibrationData" to a .npy file or a folder of INPUTNAME.npy files');
  }
  return out;
}

/** Node names inside `nodes` keys and the node lists; op types inside `options.opTypes`. */
export function recipeCompletions(doc: TextDocument, recipePath: string, offset: number, store: ModelStore, access: RecipeAccess): CompletionItem[] {
  if (!access.trusted) return [];
  const text = doc.getText();
  const loc = jsonc.getLocation(text, offset);
  const p = loc.path;
  const wantsNode = (p[0] === 'nodes' && p.length === 2 && loc.isAtPropertyKey) || (p[0] === 'options' && (p[1] === 'nodes' || p[1] === 'excludeNodes') && p.length === 3);
  const wantsOp = p[0] === 'options' && p[1] === 'opTypes' && p.length === 3;
  if (!wantsNode && !wantsOp) return [];
  const modelPath = recipeModelPath(text, recipePath);
  if (!modelPath || refusedPaths(jsonc.parse(text, [], { allowTrailingComma: true }), recipePath, access).has('model')) return [];
  const state = store.get(modelPath);
  if (!state.model) return [];
  // Replace the string being typed (quotes included), or insert a quoted one.
  const str = loc.previousNode?.type === 'string' && offset >= loc.previousNode.offset && offset <= loc.previousNode.offset + loc.previousNode.length ? loc.previousNode : undefined;
  const range = str ? { start: doc.positionAt(str.offset), end: doc.positionAt(str.offset + str.length) } : { start: doc.positionAt(offset), end: doc.positionAt(offset) };
  const item = (label: string, detail: string, kind: CompletionItemKind): CompletionItem => ({ label, detail, kind, filterText: JSON.stringify(label), textEdit: { range, newText: JSON.stringify(label) } });
  if (wantsOp) {
    const ops = new Map<string, number>();
    for (const { node } of state.layers) {
      const op = node.domain && node.domain !== 'ai.onnx' ? `${node.domain}.${node.opType}` : node.opType;
      ops.set(op, (ops.get(op) ?? 0) + 1);
    }
    return [...ops].map(([op, n]) => item(op, `${n} node${n === 1 ? '' : 's'}`, CompletionItemKind.Class));
  }
  return state.layers.map(({ info, node }) => item(info.node, `${node.opType}${info.modes.length ? ` · ${info.modes.join(', ')}` : ''}`, CompletionItemKind.Field));
}

/**
 * The model's recipe (`MODEL.quant.json`; the open editor's text when there is one), undefined
 * when it has none or one that cannot be read (its own diagnostics say why).
 */
export function modelRecipe(modelPath: string, openText: string | undefined): QuantRecipe | undefined {
  const recipePath = recipePathFor(modelPath);
  try {
    const text = openText ?? (fs.existsSync(recipePath) ? readRegularText(recipePath, 'recipe') : undefined);
    return text === undefined || text.trim() === '' ? undefined : parseRecipeText(text, path.basename(recipePath));
  } catch {
    return undefined;
  }
}
