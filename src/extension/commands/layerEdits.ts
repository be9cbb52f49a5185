/**
 * Per-layer edits of a model's recipe, for the quick fixes, code lenses and hovers of the text
 * view (the language server names these commands; they are not in the palette):
 *
 *   onnxQuantizer.setLayerExcluded(model: Uri | string, node: string, excluded = true) → RecipeWrite | undefined
 *   onnxQuantizer.setLayerPerChannel(model: Uri | string, node: string) → RecipeWrite | undefined
 *
 * Each confirms what it wrote (file and mode) in a notification with "Open Recipe".
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { oneLine } from '../../core/errors';
import type { RecipeWrite } from '../explorer/exclusionsStore';
import type { Services } from './targets';

/** A model Uri from a command argument: a Uri or a URI string (from the language server). */
function modelOf(arg: unknown): vscode.Uri | undefined {
  if (arg instanceof vscode.Uri) return arg;
  if (typeof arg === 'string' && arg) return arg.includes(':') ? vscode.Uri.parse(arg) : vscode.Uri.file(arg);
  return undefined;
}

async function run(
  services: Services,
  arg: unknown,
  node: unknown,
  edit: (model: vscode.Uri, node: string) => Promise<RecipeWrite | undefined>,
  done: (w: RecipeWrite, node: string) => string,
  unchanged: (node: string) => string,
): Promise<RecipeWrite | undefined> {
  const model = modelOf(arg);
  if (!model || model.scheme !== 'file' || typeof node !== 'string' || !node) {
    services.log.warn(`layer edit: needs a local model and a node name (got ${String(arg)}, ${String(node)})`);
    return undefined;
  }
  try {
    const written = await edit(model, node);
    const open = vscode.l10n.t('Open Recipe');
    const message = written ? done(written, node) : unchanged(node);
    void vscode.window.showInformationMessage(message, open).then(async (pick) => {
      if (pick === open) await vscode.window.showTextDocument(vscode.Uri.file(services.exclusions.recipePath(model)));
    });
    return written;
  } catch (e) {
    services.log.error(`layer edit of ${node}: ${oneLine(e)}`);
    void vscode.window.showErrorMessage(oneLine(e));
    return undefined;
  }
}

function where(w: RecipeWrite): string {
  return w.created ? vscode.l10n.t('created {0} ({1} mode)', path.basename(w.recipe), w.mode) : vscode.l10n.t('written to {0} ({1} mode)', path.basename(w.recipe), w.mode);
}

export function setLayerExcluded(services: Services, arg?: unknown, node?: unknown, excluded?: unknown): Promise<RecipeWrite | undefined> {
  const exclude = excluded !== false;
  return run(
    services,
    arg,
    node,
    (m, n) => services.exclusions.set(m, n, exclude),
    (w, n) => (exclude ? vscode.l10n.t('{0} will stay float: {1}.', n, where(w)) : vscode.l10n.t('{0} will be quantized again: {1}.', n, where(w))),
    (n) => (exclude ? vscode.l10n.t('{0} already stays float.', n) : vscode.l10n.t('{0} is already quantized.', n)),
  );
}

export function setLayerPerChannel(services: Services, arg?: unknown, node?: unknown): Promise<RecipeWrite | undefined> {
  return run(
    services,
    arg,
    node,
    (m, n) => services.exclusions.setOverride(m, n, { perChannel: true }),
    (w, n) => vscode.l10n.t('{0} gets per-channel weight scales: {1}.', n, where(w)),
    (n) => vscode.l10n.t('{0} already has per-channel weight scales.', n),
  );
}
