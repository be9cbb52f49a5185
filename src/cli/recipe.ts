/**
 * `quantize --recipe FILE`: a `*.quant.json` recipe as the run's model, output and options.
 * The recipe's paths are held to what any recipe may name (core/text/recipePaths): spelled
 * inside its folder, there once links are followed, regular files (or data folders); the
 * command line's own paths are the user's choice and are not confined.
 */
import * as path from 'node:path';
import { recipeToOptions, type RecipePlan } from '../core/text/recipe';
import { parseRecipeText } from '../core/text/recipeEdit';
import { checkRecipePaths } from '../core/text/recipePaths';
import { readRegularText } from '../core/util/files';

export function readRecipePlan(file: string): RecipePlan {
  const recipe = parseRecipeText(readRegularText(file, 'recipe'), path.basename(file));
  const dir = path.dirname(path.resolve(file));
  checkRecipePaths(recipe, file, [dir]);
  return recipeToOptions(recipe, dir);
}
