/**
 * The paths a recipe names and where they may lead. A recipe is a file anyone can commit, so
 * every path in it (model, output, calibration and fidelity data, `.npy` input values) must be
 * spelled inside the recipe's folder, lie inside the workspace once links are followed, and be a
 * regular file (or, for data, a folder) when it exists: never a FIFO or device that would block
 * or flood a reader. Checking touches only metadata (realpath, stat): nothing is opened.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../errors';
import { isInside, sameFile } from '../onnx/paths';
import { fileKind } from '../util/files';
import { staysInside } from '../util/writeGuard';

/** One path a recipe spells. */
export interface RecipePath {
  /** Where it sits in the recipe's JSON (for diagnostics). */
  at: (string | number)[];
  /** As spelled in the recipe. */
  value: string;
  /** How messages name it, e.g. `"model"`. */
  what: string;
  /** A folder of INPUTNAME.npy files may be named (data), not only a file. */
  folder: boolean;
}

/** Every path a recipe value names (tolerant of a recipe of the wrong shape: what is not a string is skipped). */
export function recipePaths(value: unknown): RecipePath[] {
  const out: RecipePath[] = [];
  if (!isObject(value)) return out;
  const add = (v: unknown, at: (string | number)[], what: string, folder: boolean): void => {
    if (typeof v === 'string') out.push({ at, value: v, what, folder });
  };
  add(value.model, ['model'], '"model"', false);
  add(value.output, ['output'], '"output"', false);
  const options = value.options;
  if (isObject(options)) {
    add(options.calibrationData, ['options', 'calibrationData'], '"calibrationData"', true);
    add(options.fidelityData, ['options', 'fidelityData'], '"fidelityData"', true);
    const inputs = options.inputs;
    const values = isObject(inputs) ? inputs.values : undefined;
    if (isObject(values)) {
      for (const [name, v] of Object.entries(values)) {
        if (typeof v === 'string' && /\.npy$/i.test(v)) add(v, ['options', 'inputs', 'values', name], `value of input "${name}"`, false);
      }
    }
  }
  return out;
}

/** Why a recipe's path is refused by its spelling alone (no I/O), or undefined. */
export function spelledPathProblem(p: RecipePath): string | undefined {
  if (p.value === '') return `${p.what} is empty`;
  return staysInside('/recipe', p.value) ? undefined : `${p.what} '${p.value}' leaves the recipe's folder: a recipe may only name files in its folder or below`;
}

/**
 * Why a recipe's path may not be used, or undefined. `roots` are the folders it must stay in
 * once links are followed (the workspace folders; the recipe's folder when there are none).
 * A path outside is refused without looking at what is there.
 */
export function recipePathProblem(recipeDir: string, p: RecipePath, roots: readonly string[]): string | undefined {
  const spelled = spelledPathProblem(p);
  if (spelled) return spelled;
  const resolved = path.resolve(recipeDir, p.value);
  const real = realPathOf(resolved);
  const within = (roots.length ? roots : [recipeDir]).map(realPathOf);
  if (!within.some((root) => isInside(root, real))) return `${p.what} '${p.value}' leads outside the workspace folder (through a link); refused`;
  let s: fs.Stats;
  try {
    s = fs.statSync(resolved);
  } catch {
    return undefined; // missing: the reader says so (an output is created)
  }
  if (s.isFile() || (p.folder && s.isDirectory())) return undefined;
  if (s.isDirectory()) return `${p.what} '${p.value}' is a folder, not a file`;
  return `${p.what} '${p.value}' is ${fileKind(s)}, not a regular file; refused`;
}

/** Every refused path of the recipe value read from `recipeFile`, with the reason. */
export function recipePathProblems(value: unknown, recipeFile: string, roots: readonly string[]): { path: RecipePath; problem: string }[] {
  const recipeDir = path.dirname(path.resolve(recipeFile));
  const out: { path: RecipePath; problem: string }[] = [];
  for (const p of recipePaths(value)) {
    const problem = recipePathProblem(recipeDir, p, roots) ?? (p.at[0] === 'output' ? ownOutputProblem(recipeFile, p) : undefined);
    if (problem) out.push({ path: p, problem });
  }
  return out;
}

/** A recipe's output that names the recipe itself would replace it (with --force) by the model's bytes. */
function ownOutputProblem(recipeFile: string, p: RecipePath): string | undefined {
  const target = path.resolve(path.dirname(path.resolve(recipeFile)), p.value);
  return sameFile(target, recipeFile) ? `${p.what} '${p.value}' would overwrite this recipe; choose another output` : undefined;
}

/** Throw an InputError (prefixed with the recipe's name) for the first refused path of the recipe at `recipeFile`. */
export function checkRecipePaths(value: unknown, recipeFile: string, roots: readonly string[]): void {
  const first = recipePathProblems(value, recipeFile, roots)[0];
  if (first) throw new InputError(`${path.basename(recipeFile)}: ${first.problem}`);
}

/** The real path of `p`: links resolved in its deepest existing ancestor, the rest appended. */
function realPathOf(p: string): string {
  const rest: string[] = [];
  let cur = path.resolve(p);
  for (;;) {
    try {
      return path.join(fs.realpathSync(cur), ...rest);
    } catch {
      const parent = path.dirname(cur);
      if (parent === cur) return path.resolve(p);
      rest.unshift(path.basename(cur));
      cur = parent;
    }
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
