/**
 * The lazily loaded bundle dist/recipeFiles.js (scripts/esbuild.mjs): recipe reads and edits with
 * the JSONC parser and the write guards, and the layer commands that use them, loaded on the
 * first recipe read so the activation bundle stays small (exclusions.ts loads it); also the
 * recipe checks and mapping (recipeRun.ts) that Quantize… and Quantize with Recipe run.
 */
export { ExclusionsStore } from './exclusionsStore';
export { setLayerExcluded, setLayerPerChannel } from '../commands/layerEdits';
export { recipePlan, recipeTextPlan } from '../textView/recipeRun';
