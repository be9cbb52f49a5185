/**
 * Which layers of a model stay float: read from and written to the model's recipe
 * (`MODEL.quant.json` next to it), the one record the Models-view checkboxes, the text view's
 * quick fixes and code lenses, the graph view and Quantize… share. A recipe edited by hand (or
 * by git) reaches them through the file events of the model index. This store does the reads and
 * edits; it is loaded on first need in dist/recipeFiles.js (recipeFiles.ts) behind Exclusions.
 *
 * The first exclusion creates the recipe with the mode the user last quantized with in this
 * workspace (else the settings' mode); static only when calibration data inside the model's
 * folder is known, since a static recipe without data is invalid. Edits never change the mode of
 * an existing recipe. Writes are atomic; a recipe open with unsaved changes is edited in its editor
 * and saved.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { InputError, oneLine } from '../../core/errors';
import type { QuantMode } from '../../core/quantize/types';
import { recipePathFor, type QuantRecipe, type RecipePlan } from '../../core/text/recipe';
import { recipePlan } from '../textView/recipeRun';
import { editNodeOverride, excludedNodesOf, parseRecipeText, relativeInside, setRecipeMode, type NewRecipe, type OverridePatch } from '../../core/text/recipeEdit';
import { readRegularText } from '../../core/util/files';
import { writeFileAtomic } from '../../core/onnx/save';
import { quantizeSettings } from '../settings';

const LAST_CHOICE = 'onnxQuantizer.lastQuantizeChoice';

/** The mode (and data) of the user's last Quantize… in this workspace. */
export interface QuantizeChoice {
  mode: QuantMode;
  calibrationData?: string;
}

interface Cached {
  stamp: string;
  recipe?: QuantRecipe;
  error?: string;
}

/** What an edit wrote, for the confirmation the user sees. */
export interface RecipeWrite {
  recipe: string;
  created: boolean;
  mode: QuantMode;
}

export class ExclusionsStore {
  private readonly cache = new Map<string, Cached>();
  private readonly reported = new Set<string>();

  constructor(
    private readonly state: vscode.Memento,
    private readonly log: vscode.LogOutputChannel,
    /** Tells the views a model's recipe changed. */
    private readonly fire: (model: vscode.Uri) => void,
  ) {}

  /** A recipe file changed on disk: read it again next time. */
  forget(recipeFile: string): void {
    this.cache.delete(recipeFile);
  }

  /** The model's recipe, when it has a valid one. */
  recipe(model: vscode.Uri): QuantRecipe | undefined {
    return this.read(model).recipe;
  }

  /** The model's recipe as the quantizer's plan (its paths checked now: core/text/recipePaths), when it has a valid one. */
  plan(model: vscode.Uri): RecipePlan | undefined {
    const recipe = this.recipe(model);
    return recipe ? recipePlan(recipe, this.recipePath(model)) : undefined;
  }

  /** Why the model's recipe cannot be used (not JSON, not a recipe), when it has a broken one. */
  recipeError(model: vscode.Uri): string | undefined {
    return this.read(model).error;
  }

  recipePath(model: vscode.Uri): string {
    return recipePathFor(model.fsPath);
  }

  /** Node names the recipe keeps float (sorted). */
  get(model: vscode.Uri): string[] {
    const recipe = this.recipe(model);
    return recipe ? excludedNodesOf(recipe) : [];
  }

  isExcluded(model: vscode.Uri, node: string): boolean {
    return this.get(model).includes(node);
  }

  /** Keep a node float (true) or quantize it again (false). */
  set(model: vscode.Uri, node: string, excluded: boolean): Promise<RecipeWrite | undefined> {
    return this.setOverride(model, node, { exclude: excluded });
  }

  /** Set one node's override in the recipe, creating the recipe when needed. Undefined: nothing to change. */
  async setOverride(model: vscode.Uri, node: string, patch: OverridePatch): Promise<RecipeWrite | undefined> {
    const file = this.recipePath(model);
    const label = path.basename(file);
    const open = vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'file' && d.uri.fsPath === file);
    const text = open?.isDirty ? open.getText() : fs.existsSync(file) ? readRegularText(file, 'recipe') : undefined;
    const create = this.newRecipe(model);
    const next = editNodeOverride(text, node, patch, create, label);
    if (next === undefined) return undefined;
    await this.write(model, file, next, open);
    const mode = this.recipe(model)?.mode ?? create.mode;
    this.log.info(`${label}: ${node} ${JSON.stringify(patch)} (${mode} mode${text === undefined ? ', recipe created' : ''})`);
    return { recipe: file, created: text === undefined || text.trim() === '', mode };
  }

  /**
   * After a quantization: remember the choice for the next new recipe, and make the model's
   * existing recipe record the mode it was quantized with (its exclusions and diagnostics follow it).
   */
  async recordChoice(model: vscode.Uri, choice: QuantizeChoice): Promise<void> {
    await this.state.update(LAST_CHOICE, choice);
    const file = this.recipePath(model);
    if (!this.recipe(model)) return;
    const next = setRecipeMode(readRegularText(file, 'recipe'), choice.mode, choice.calibrationData, path.dirname(file), path.basename(file));
    if (next === undefined) return;
    await this.write(model, file, next, vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'file' && d.uri.fsPath === file));
    this.log.info(`${path.basename(file)}: mode is now ${choice.mode}`);
  }

  /** The mode (and data) a recipe created now gets. */
  newRecipe(model: vscode.Uri): NewRecipe {
    const last = this.state.get<QuantizeChoice>(LAST_CHOICE);
    const settings = quantizeSettings(model);
    const mode = last?.mode ?? settings.mode;
    const base = { model: path.basename(model.fsPath) };
    if (mode !== 'static') return { ...base, mode };
    const dir = path.dirname(model.fsPath);
    const data = [last?.calibrationData, settings.calibrationData].map((p) => (p ? relativeInside(dir, p) : undefined)).find((p) => p !== undefined);
    // Static mode needs data the recipe can name; without it the recipe would be invalid at once.
    return data ? { ...base, mode, calibrationData: data } : { ...base, mode: 'dynamic' };
  }



  private async write(model: vscode.Uri, file: string, text: string, open: vscode.TextDocument | undefined): Promise<void> {
    if (open?.isDirty) {
      const edit = new vscode.WorkspaceEdit();
      edit.replace(open.uri, new vscode.Range(open.positionAt(0), open.positionAt(open.getText().length)), text);
      if (!(await vscode.workspace.applyEdit(edit)) || !(await open.save())) throw new InputError(vscode.l10n.t('{0} could not be saved', path.basename(file)));
    } else {
      writeFileAtomic(file, text, { what: 'recipe', rules: { model: model.fsPath, inputs: [], force: true } });
    }
    this.cache.delete(file);
    this.fire(model);
  }

  private read(model: vscode.Uri): Cached {
    const file = this.recipePath(model);
    let stamp: string;
    try {
      const s = fs.statSync(file);
      stamp = `${s.size}:${s.mtimeMs}`;
    } catch {
      stamp = 'missing';
    }
    const hit = this.cache.get(file);
    if (hit?.stamp === stamp) return hit;
    let entry: Cached = { stamp };
    if (stamp !== 'missing') {
      try {
        entry = { stamp, recipe: parseRecipeText(readRegularText(file, 'recipe'), path.basename(file)) };
      } catch (e) {
        entry = { stamp, error: oneLine(e) };
        if (!this.reported.has(`${file}|${stamp}`)) {
          this.reported.add(`${file}|${stamp}`);
          this.log.warn(`${entry.error} (its exclusions are not applied)`);
        }
      }
    }
    this.cache.set(file, entry);
    return entry;
  }
}
