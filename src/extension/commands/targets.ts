/**
 * What every command needs: which model it acts on (from a Uri, a tree node, the active
 * editor, or a pick), whether options came from code (tests: no prompts), and the trust gate.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { InputError } from '../../core/errors';
import type { CompareJobResult } from '../../shared/protocol';
import type { JobUi } from '../jobs/jobUi';
import type { JobRunner } from '../jobs/jobRunner';
import type { Exclusions } from '../explorer/exclusions';
import type { ModelIndex } from '../explorer/modelIndex';
import type { ModelsProvider } from '../explorer/modelsProvider';

/** Everything commands use, built once in activate(). */
export interface Services {
  context: vscode.ExtensionContext;
  log: vscode.LogOutputChannel;
  runner: JobRunner;
  jobs: JobUi;
  index: ModelIndex;
  models: ModelsProvider;
  exclusions: Exclusions;
  /** The comparison dashboard (webview part), when it registered. */
  showDashboard?: ((result: CompareJobResult) => unknown) | undefined;
}

/** A Uri from whatever a menu passes: a Uri (explorer, editor title) or one of our tree nodes. */
export function uriOf(arg: unknown): vscode.Uri | undefined {
  if (arg instanceof vscode.Uri) return arg;
  if (typeof arg === 'object' && arg !== null && 'uri' in arg && (arg as { uri: unknown }).uri instanceof vscode.Uri) return (arg as { uri: vscode.Uri }).uri;
  return undefined;
}

/** A programmatic options object (tests): a plain object that is not a Uri, a node or a selection array. */
export function optionsOf<T extends object>(arg: unknown): T | undefined {
  if (typeof arg !== 'object' || arg === null || Array.isArray(arg) || arg instanceof vscode.Uri || 'kind' in arg) return undefined;
  return arg as T;
}

/** The `.onnx` shown in the active editor tab (custom editor or text view), if any. */
export function activeModel(): vscode.Uri | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  const uri = input instanceof vscode.TabInputCustom || input instanceof vscode.TabInputText ? input.uri : undefined;
  if (!uri) return undefined;
  if (/\.onnx$/i.test(uri.path)) return uri;
  // A text view of a model may use its own scheme with the model path inside.
  if (uri.scheme !== 'file' && /\.onnx/i.test(uri.path)) return vscode.Uri.file(uri.path.replace(/(\.onnx).*$/i, '$1'));
  return undefined;
}

/** The model a command acts on; asks with a pick when nothing says. Undefined when the user backs out. */
export async function resolveModel(arg: unknown, services: Services, title: string): Promise<vscode.Uri | undefined> {
  const given = uriOf(arg) ?? activeModel();
  if (given) return given;
  const models = await services.index.allModels();
  if (models.length === 0) {
    void vscode.window.showInformationMessage(vscode.l10n.t('No .onnx models in this workspace. Open a folder with a model, or run "ONNX Quantizer: Open Sample Model".'));
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    models.map((uri) => ({ label: path.basename(uri.fsPath), description: vscode.workspace.asRelativePath(uri, true), uri })),
    { title, placeHolder: vscode.l10n.t('Choose a model') },
  );
  return picked?.uri;
}

/** Jobs read local files through Node in the worker: virtual file systems are not supported. */
export function requireLocal(uri: vscode.Uri): void {
  if (uri.scheme !== 'file') throw new InputError(vscode.l10n.t('{0} is not a local file; quantizing and benchmarking need a local folder.', uri.toString()));
}

/**
 * Running a model (ONNX Runtime loads it; custom ops and external data come from the workspace)
 * is not allowed in Restricted Mode. Interactive callers get a message with a way to trust;
 * programmatic callers get an error.
 */
export async function requireTrust(action: string, programmatic: boolean): Promise<boolean> {
  if (vscode.workspace.isTrusted) return true;
  const message = vscode.l10n.t('{0} runs the model with ONNX Runtime, which is not allowed in Restricted Mode. Trust this workspace to enable it.', action);
  if (programmatic) throw new InputError(message);
  const manage = vscode.l10n.t('Manage Workspace Trust');
  const pick = await vscode.window.showWarningMessage(message, manage);
  if (pick === manage) await vscode.commands.executeCommand('workbench.trust.manage');
  return false;
}
