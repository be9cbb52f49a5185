/**
 * Reading and editing recipe files, as the extension host needs them: its own bundle
 * (dist/recipeFiles.js), loaded on the first recipe read, so the JSONC parser and the write
 * guards stay out of the activation bundle (src/extension/explorer/exclusions.ts).
 */
export { editNodeOverride, excludedNodesOf, parseRecipeText, relativeInside, setRecipeMode } from './recipeEdit';
export { readRegularText } from '../util/files';
export { writeFileAtomic } from '../onnx/save';
