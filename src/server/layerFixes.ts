/**
 * Per-layer fixes of the text view: "Keep float" code lenses on node lines and the quick fixes
 * of node diagnostics. Both run the extension's recipe commands (onnxQuantizer.setLayerExcluded /
 * setLayerPerChannel) rather than a workspace edit: the text view is read-only, and the extension
 * owns the recipe (it picks the mode of a new one and confirms what it wrote).
 *
 * Mode-aware: a node is offered only when the recipe's mode quantizes it (any mode when the model
 * has no recipe yet); an already quantized model gets none, its recipe would change nothing.
 */
import { CodeActionKind, type CodeAction, type CodeLens, type Command, type Diagnostic } from 'vscode-languageserver/node';
import { modeQuantizes, type LayerInfo, type LayerMode } from '../core/analysis/layers';
import { QUANT_MODES, type QuantRecipe } from '../core/text/recipe';
import { excludedNodesOf } from '../core/text/recipeEdit';
import { lineRange } from './diagnostics';
import type { ModelState } from './models';
import type { NodeDiagnosticData } from '../shared/lsp/documents';
import { fileUri } from './uris';
import { SET_LAYER_EXCLUDED_COMMAND, SET_LAYER_PER_CHANNEL_COMMAND } from '../shared/lsp/documents';


const LAYER_MODES = QUANT_MODES.filter((m): m is LayerMode => m === 'dynamic' || m === 'static' || m === 'weight-only');

/** The modes a fix speaks for: the recipe's, else every mode that quantizes the node. */
function offeredModes(info: LayerInfo, recipe: QuantRecipe | undefined): LayerMode[] {
  const modes = recipe ? LAYER_MODES.filter((m) => m === recipe.mode) : LAYER_MODES;
  return modes.filter((m) => modeQuantizes(info, m));
}

function isQuantizedModel(state: ModelState): boolean {
  return state.layers.some((l) => l.info.quantized);
}

function excludeCommand(modelPath: string, node: string, exclude: boolean, title: string): Command {
  return { title, command: SET_LAYER_EXCLUDED_COMMAND, arguments: [fileUri(modelPath), node, exclude] };
}

/** "Keep float (dynamic)" over each node line the mode quantizes; "Kept float · quantize again" once excluded. */
export function layerLenses(state: ModelState, recipe: QuantRecipe | undefined): CodeLens[] {
  if (!state.rendered || isQuantizedModel(state)) return [];
  const excluded = new Set(recipe ? excludedNodesOf(recipe) : []);
  const out: CodeLens[] = [];
  for (const { info, line } of state.layers) {
    if (!line) continue;
    const range = lineRange(line.line, line.start, line.start);
    if (excluded.has(info.node)) {
      out.push({ range, command: excludeCommand(state.path, info.node, false, `Kept float by the recipe · Quantize again`) });
      continue;
    }
    const modes = offeredModes(info, recipe);
    if (modes.length) out.push({ range, command: excludeCommand(state.path, info.node, true, `Keep float (${modes.join(', ')})`) });
  }
  return out;
}

/** Quick fixes for the node diagnostics in `diagnostics`, once per node. */
export function layerActions(state: ModelState, recipe: QuantRecipe | undefined, diagnostics: Diagnostic[]): CodeAction[] {
  if (isQuantizedModel(state)) return [];
  const excluded = new Set(recipe ? excludedNodesOf(recipe) : []);
  const actions: CodeAction[] = [];
  const seen = new Set<string>();
  for (const d of diagnostics) {
    const data = d.data as NodeDiagnosticData | undefined;
    if (!data?.node || seen.has(data.node) || excluded.has(data.node)) continue;
    seen.add(data.node);
    const layer = state.layers.find((l) => l.info.node === data.node);
    if (!layer) continue;
    const modes = offeredModes(layer.info, recipe);
    if (!modes.length) continue;
    const title = `Exclude ${data.node} from quantization (${modes.join(', ')})`;
    actions.push({ title, kind: CodeActionKind.QuickFix, diagnostics: [d], isPreferred: data.kind !== 'layer', command: excludeCommand(state.path, data.node, true, title) });
    if (layer.info.weightBytes > 0) {
      const pc = `Use per-channel for ${data.node}`;
      actions.push({ title: pc, kind: CodeActionKind.QuickFix, diagnostics: [d], command: { title: pc, command: SET_LAYER_PER_CHANNEL_COMMAND, arguments: [fileUri(state.path), data.node] } });
    }
  }
  return actions;
}
