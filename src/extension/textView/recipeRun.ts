/**
 * The plans the extension runs from recipes, in the lazily loaded dist/recipeFiles.js: a recipe
 * is valid, and every path it names is a regular file (or data folder) inside the workspace
 * (core/text/recipePaths), checked when it runs, so a FIFO or link made after it was read counts.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { recipeToOptions, type QuantRecipe, type RecipePlan } from '../../core/text/recipe';
import { parseRecipeText } from '../../core/text/recipeEdit';
import { checkRecipePaths } from '../../core/text/recipePaths';

/** Folders a recipe's paths must stay in: the workspace's (the recipe's own folder when none is open). */
export function workspaceRoots(): string[] {
  return (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath);
}

/** The quantizer's plan from a parsed recipe at `recipeFile`; an InputError names a refused path. */
export function recipePlan(recipe: QuantRecipe, recipeFile: string): RecipePlan {
  checkRecipePaths(recipe, recipeFile, workspaceRoots());
  return recipeToOptions(recipe, path.dirname(recipeFile));
}

/** The plan of a recipe's text (an open editor's, unsaved changes included). */
export function recipeTextPlan(text: string, recipeFile: string): RecipePlan {
  return recipePlan(parseRecipeText(text, path.basename(recipeFile)), recipeFile);
}
