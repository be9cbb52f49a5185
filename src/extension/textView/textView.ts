/**
 * "Show as Text" and "Quantize with Recipe".
 *
 *   registerTextView(context: vscode.ExtensionContext, deps: TextViewDeps): vscode.Disposable
 *
 * Registers the read-only `onnx-text:` documents (`onnx-text:/path/to/model.onnx.txt`, language
 * onnx-text) whose text the language server renders (RenderTextRequest; the first view starts the
 * server), the commands
 * `onnxQuantizer.showAsText` (arg: model Uri or explorer node; default: active model) and
 * `onnxQuantizer.quantizeWithRecipe` (arg: Uri of a `*.quant.json`; default: active recipe, else
 * a pick), which checks the recipe and the paths it names (recipeRun.ts, in the recipe bundle) and
 * runs `onnxQuantizer.quantizeModel`.
 * Views refresh when their model changes on disk (the model index's file events, which also cover
 * a model outside the workspace folders while a view shows it, plus the server's ModelChangedNotification). Everything is pushed to context.subscriptions and also returned.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { oneLine } from '../../core/errors';
import { TEXT_LANGUAGE, TEXT_SCHEME } from '../../shared/lsp/documents';
import { confirmReplace } from '../commands/confirmReplace';
import { defaultOutputPath } from '../commands/quantize';
import { activeModel, uriOf } from '../commands/targets';
import type { Exclusions } from '../explorer/exclusions';
import type { ModelIndex } from '../explorer/modelIndex';
import type { LanguageServer } from '../languageServer';

export interface TextViewDeps {
  server: LanguageServer;
  index: ModelIndex;
  log: vscode.LogOutputChannel;
  /** Its recipe bundle (dist/recipeFiles.js) checks and maps the recipe being run. */
  exclusions: Exclusions;
}

/** `file:///x/model.onnx` → `onnx-text:/x/model.onnx.txt`. */
export function textViewUri(model: vscode.Uri): vscode.Uri {
  return model.with({ scheme: TEXT_SCHEME, path: `${model.path}.txt`, query: '', fragment: '' });
}

export function modelOfTextView(view: vscode.Uri): vscode.Uri {
  return view.with({ scheme: 'file', path: view.path.replace(/\.txt$/, '') });
}

class OnnxTextProvider implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  /** Per open view: keeps file events of its model coming when it lies outside the workspace folders. */
  private readonly watchers = new Map<string, vscode.Disposable>();
  private readonly subscriptions: vscode.Disposable[] = [];
  private readonly log: vscode.LogOutputChannel;

  constructor(private readonly deps: TextViewDeps) {
    this.log = deps.log;
    this.subscriptions.push(
      vscode.workspace.onDidOpenTextDocument((d) => this.watch(d.uri)),
      vscode.workspace.onDidCloseTextDocument((d) => this.unwatch(d.uri)),
      deps.index.onDidChangeFile((e) => {
        if (/\.onnx$/i.test(e.uri.path)) this.refresh(e.uri);
      }),
      deps.server.onModelChanged((model) => this.refresh(model)),
    );
    for (const d of vscode.workspace.textDocuments) this.watch(d.uri);
  }

  async provideTextDocumentContent(uri: vscode.Uri, token: vscode.CancellationToken): Promise<string> {
    const model = modelOfTextView(uri);
    try {
      const server = await this.deps.server.start(`text view of ${path.basename(model.fsPath)}`);
      const result = await server.renderText(model, token);
      if (result.error) this.log.warn(`text view of ${model.fsPath}: ${result.error}`);
      return result.text;
    } catch (e) {
      this.log.error(`text view of ${model.fsPath}: ${oneLine(e)}`);
      return `# ${path.basename(model.fsPath)}: the language server could not render it (${oneLine(e)})\n`;
    }
  }

  refresh(model: vscode.Uri): void {
    const view = textViewUri(model);
    if (vscode.workspace.textDocuments.some((d) => d.uri.toString() === view.toString())) this.changed.fire(view);
  }

  private watch(uri: vscode.Uri): void {
    if (uri.scheme !== TEXT_SCHEME || this.watchers.has(uri.toString())) return;
    this.watchers.set(uri.toString(), this.deps.index.watchFile(modelOfTextView(uri)));
  }

  private unwatch(uri: vscode.Uri): void {
    this.watchers.get(uri.toString())?.dispose();
    this.watchers.delete(uri.toString());
  }

  dispose(): void {
    for (const w of this.watchers.values()) w.dispose();
    this.watchers.clear();
    this.subscriptions.forEach((s) => s.dispose());
    this.changed.dispose();
  }
}

export function registerTextView(context: vscode.ExtensionContext, deps: TextViewDeps): vscode.Disposable {
  const { log } = deps;
  const provider = new OnnxTextProvider(deps);
  const disposable = vscode.Disposable.from(
    provider,
    vscode.workspace.registerTextDocumentContentProvider(TEXT_SCHEME, provider),
    vscode.commands.registerCommand('onnxQuantizer.showAsText', (arg?: unknown) => showAsText(arg)),
    vscode.commands.registerCommand('onnxQuantizer.quantizeWithRecipe', (arg?: unknown) => quantizeWithRecipe(arg, deps)),
  );
  context.subscriptions.push(disposable);
  return disposable;
}

async function showAsText(arg: unknown): Promise<vscode.TextEditor | undefined> {
  const model = uriOf(arg) ?? activeModel();
  if (!model) {
    void vscode.window.showInformationMessage(vscode.l10n.t('Open or select an .onnx model to show it as text.'));
    return undefined;
  }
  let doc = await vscode.workspace.openTextDocument(textViewUri(model));
  if (doc.languageId !== TEXT_LANGUAGE) doc = await vscode.languages.setTextDocumentLanguage(doc, TEXT_LANGUAGE);
  return vscode.window.showTextDocument(doc, { preview: false });
}

/** The recipe to run: the argument, the active editor's recipe, or one picked from the workspace. */
async function pickRecipe(arg: unknown): Promise<vscode.Uri | undefined> {
  const given = uriOf(arg);
  if (given) return given;
  const active = vscode.window.activeTextEditor?.document.uri;
  if (active && /\.quant\.json$/i.test(active.path)) return active;
  const found = await vscode.workspace.findFiles('**/*.quant.json', '**/node_modules/**', 200);
  if (found.length === 0) {
    void vscode.window.showInformationMessage(vscode.l10n.t('No *.quant.json recipe in this workspace. Use a quick fix in a model\'s text view to create one.'));
    return undefined;
  }
  const pick = await vscode.window.showQuickPick(
    found.map((uri) => ({ label: path.basename(uri.fsPath), description: vscode.workspace.asRelativePath(uri, true), uri })),
    { title: vscode.l10n.t('Quantize with Recipe'), placeHolder: vscode.l10n.t('Choose a recipe') },
  );
  return pick?.uri;
}

async function quantizeWithRecipe(arg: unknown, { log, exclusions }: TextViewDeps): Promise<unknown> {
  const recipeUri = await pickRecipe(arg);
  if (!recipeUri) return undefined;
  try {
    // An open editor's text wins over the file: the user runs what they see.
    const doc = await vscode.workspace.openTextDocument(recipeUri);
    // Parsed, checked and mapped in the recipe bundle: every path it names must be a regular file inside the workspace.
    const plan = exclusions.files().recipeTextPlan(doc.getText(), recipeUri.fsPath);
    const warnings = plan.warnings.map((w) => `${w.node}: ${w.message}`);
    for (const w of warnings) log.warn(`${path.basename(recipeUri.fsPath)}: ${w}`);
    if (warnings.length) void vscode.window.showWarningMessage(warnings.join(' · '));
    log.info(`quantize with recipe ${recipeUri.fsPath}: ${JSON.stringify(plan.options)}${plan.output ? ` → ${plan.output}` : ''}`);
    // The recipe's float layers, even none: the model's own recipe is not added to the one being run.
    const options = { ...plan.options, excludeNodes: plan.options.excludeNodes ?? [], ...(plan.output ? { output: plan.output } : {}) };
    // Recipes cannot force: an existing output is replaced only when the user says so here.
    const output = plan.output ?? defaultOutputPath(plan.model, plan.options.mode, plan.options.weightBits);
    if (fs.existsSync(output)) {
      if (!(await confirmReplace(output))) return undefined;
      options.force = true;
    }
    return await vscode.commands.executeCommand('onnxQuantizer.quantizeModel', vscode.Uri.file(plan.model), options);
  } catch (e) {
    const show = vscode.l10n.t('Show Log');
    log.error(`quantize with recipe: ${oneLine(e)}`);
    void vscode.window.showErrorMessage(oneLine(e), show).then((pick) => pick === show && log.show(true));
    return undefined;
  }
}
