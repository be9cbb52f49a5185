/**
 * Which layers of a model stay float: read from and written to the model's recipe
 * (`MODEL.quant.json` next to it), the one record the Models-view checkboxes, the text view's
 * quick fixes and code lenses, the graph view and Quantize… share. A recipe edited by hand (or
 * by git) reaches them through the file events of the model index.
 *
 * The work is done by ExclusionsStore (exclusionsStore.ts), loaded with the JSONC parser on the
 * first recipe read from dist/recipeFiles.js, which keeps them out of the activation bundle.
 */
import * as vscode from 'vscode';
import type { QuantMode } from '../../core/quantize/types';
import type { QuantRecipe, RecipePlan } from '../../core/text/recipe';
import type { NewRecipe, OverridePatch } from '../../core/text/recipeEdit';
import type { FileEvent } from '../languageServer';
import type { ExclusionsStore, QuantizeChoice, RecipeWrite } from './exclusionsStore';
import type * as RecipeFiles from './recipeFiles';

export type { QuantizeChoice, RecipeWrite } from './exclusionsStore';

export class Exclusions implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  /** Fires with the model whose recipe changed (an edit here, or the file on disk). */
  readonly onDidChange = this.changed.event;
  private readonly subscription: vscode.Disposable;
  private loaded: { files: typeof RecipeFiles; store: ExclusionsStore } | undefined;

  constructor(
    /** dist/recipeFiles.js. */
    private readonly bundle: string,
    private readonly state: vscode.Memento,
    fileEvents: vscode.Event<FileEvent>,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.subscription = fileEvents((e) => {
      if (!/\.quant\.json$/i.test(e.uri.path) || e.uri.scheme !== 'file') return;
      this.loaded?.store.forget(e.uri.fsPath);
      this.changed.fire(vscode.Uri.file(e.uri.fsPath.replace(/\.quant\.json$/i, '.onnx')));
    });
  }

  /** The recipe bundle's functions (the layer commands run from it too). */
  files(): typeof RecipeFiles {
    return this.load().files;
  }

  recipe(model: vscode.Uri): QuantRecipe | undefined {
    return this.load().store.recipe(model);
  }

  recipeError(model: vscode.Uri): string | undefined {
    return this.load().store.recipeError(model);
  }

  /** The recipe's plan for the quantizer; throws an InputError when a path it names is refused. */
  plan(model: vscode.Uri): RecipePlan | undefined {
    return this.load().store.plan(model);
  }

  recipePath(model: vscode.Uri): string {
    return this.load().store.recipePath(model);
  }

  /** Node names the recipe keeps float (sorted). */
  get(model: vscode.Uri): string[] {
    return this.load().store.get(model);
  }

  isExcluded(model: vscode.Uri, node: string): boolean {
    return this.load().store.isExcluded(model, node);
  }

  /** Keep a node float (true) or quantize it again (false). */
  set(model: vscode.Uri, node: string, excluded: boolean): Promise<RecipeWrite | undefined> {
    return this.load().store.set(model, node, excluded);
  }

  setOverride(model: vscode.Uri, node: string, patch: OverridePatch): Promise<RecipeWrite | undefined> {
    return this.load().store.setOverride(model, node, patch);
  }

  async recordChoice(model: vscode.Uri, choice: QuantizeChoice): Promise<void> {
    await this.load().store.recordChoice(model, choice);
    // A model without a recipe follows the last choice too (its rows' checkboxes are mode-aware).
    this.changed.fire(model);
  }

  newRecipe(model: vscode.Uri): NewRecipe {
    return this.load().store.newRecipe(model);
  }

  /** The mode the model's layers are set for: its recipe's, else the one a first exclusion would record. */
  chosenMode(model: vscode.Uri): QuantMode {
    return this.recipe(model)?.mode ?? this.newRecipe(model).mode;
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }

  private load(): { files: typeof RecipeFiles; store: ExclusionsStore } {
    if (!this.loaded) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const files = require(this.bundle) as typeof RecipeFiles;
      this.loaded = { files, store: new files.ExclusionsStore(this.state, this.log, (m) => this.changed.fire(m)) };
    }
    return this.loaded;
  }
}
