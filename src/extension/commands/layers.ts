/**
 * Per-layer edits of a model's recipe, for the quick fixes, code lenses and hovers of the text
 * view (the language server names these commands; they are not in the palette):
 *
 *   onnxQuantizer.setLayerExcluded(model: Uri | string, node: string, excluded = true) → RecipeWrite | undefined
 *   onnxQuantizer.setLayerPerChannel(model: Uri | string, node: string) → RecipeWrite | undefined
 *
 * Each confirms what it wrote (file and mode) in a notification with "Open Recipe".
 */
import * as vscode from 'vscode';
import type { Services } from './targets';
import { SET_LAYER_EXCLUDED_COMMAND, SET_LAYER_PER_CHANNEL_COMMAND } from '../../shared/lsp/documents';

/** The commands; their work (layerEdits.ts) is in the recipe bundle, loaded on first use. */
export function registerLayerCommands(services: Services): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand(SET_LAYER_EXCLUDED_COMMAND, (arg?: unknown, node?: unknown, excluded?: unknown) => services.exclusions.files().setLayerExcluded(services, arg, node, excluded)),
    vscode.commands.registerCommand(SET_LAYER_PER_CHANNEL_COMMAND, (arg?: unknown, node?: unknown) => services.exclusions.files().setLayerPerChannel(services, arg, node)),
  ];
}
