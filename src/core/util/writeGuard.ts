/**
 * The one check every written path goes through (quantized model, its data file, reports,
 * recipes, exports): never a file the run reads, never a FIFO or device, never an existing file
 * without force. Inputs are compared by identity (same inode), so links and other spellings of a
 * path are caught too.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../errors';
import { sameFile } from '../onnx/paths';
import { checkWritableTarget } from './files';
import { isStaleLock, processAlive } from './outputLock';

export interface WriteRules {
  /** The input model (named as such in the message). */
  model?: string | undefined;
  /** Every other file or folder the run reads (external data, calibration data, data, labels, recipe). */
  inputs: readonly (string | undefined)[];
  /** Replace an existing regular file. */
  force: boolean;
}

/** The files behind `inputs`: a folder stands for the files directly inside it (a data folder). */
export function inputFiles(inputs: readonly (string | undefined)[]): string[] {
  const out: string[] = [];
  for (const p of inputs) {
    if (!p) continue;
    out.push(p);
    let entries: string[] = [];
    try {
      if (fs.statSync(p).isDirectory()) entries = fs.readdirSync(p);
    } catch {
      /* missing or unreadable: its reader reports it */
    }
    for (const name of entries) out.push(path.join(p, name));
  }
  return out;
}

/**
 * The files a run's options name for reading: calibration and evaluation data, and the
 * `--input NAME=FILE.npy` values (a value is a file by the rule its reader uses: `.npy`, or it exists).
 */
export function optionInputs(options: { calibrationData?: string | undefined; fidelityData?: string | undefined; inputs?: { values?: Record<string, string> } | undefined }): string[] {
  const values = Object.values(options.inputs?.values ?? {}).filter((v) => /\.npy$/i.test(v) || fs.existsSync(v));
  return [options.calibrationData, options.fidelityData, ...values].filter((p): p is string => !!p);
}

/** Refuse writing `file` (named `what` in messages) under `rules`; returns whether it exists. */
export function guardWrite(file: string, what: string, rules: WriteRules): boolean {
  if (rules.model && sameFile(file, rules.model)) {
    throw new InputError(what === 'output' ? `output '${file}' is the input model; choose another output path` : `${what} '${file}' would overwrite the input model; choose another path`);
  }
  for (const input of inputFiles(rules.inputs)) {
    if (sameFile(file, input)) throw new InputError(`${what} '${file}' would overwrite the input '${input}' of this run; choose another path`);
  }
  const exists = checkWritableTarget(file, what);
  if (exists && !rules.force) throw new InputError(`${what} '${file}' already exists; use --force to replace it`);
  const dir = path.dirname(path.resolve(file));
  let folder: fs.Stats | undefined;
  try {
    folder = fs.statSync(dir);
  } catch {
    folder = undefined;
  }
  if (!folder) throw new InputError(`${what} folder '${dir}' does not exist`);
  if (!folder.isDirectory()) throw new InputError(`${what} folder '${dir}' is not a folder`);
  return exists;
}

/**
 * True when `file` stays inside `folder` by its spelling: relative, no `..` that leaves it.
 * For paths written down in files (recipes), which may not point elsewhere.
 */
export function staysInside(folder: string, file: string): boolean {
  if (path.isAbsolute(file) || path.win32.isAbsolute(file) || file.includes('\0')) return false;
  const rel = path.relative(path.resolve(folder), path.resolve(folder, file));
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/**
 * Why an output name typed for `model` is refused, or undefined: it must stay in the model's
 * folder (staysInside), differ from the model, and not be another source model there (an
 * existing `.onnx` that is not one of this model's outputs, `MODEL.*.onnx`).
 */
export function outputNameProblem(model: string, name: string): string | undefined {
  const dir = path.dirname(path.resolve(model));
  const trimmed = name.trim();
  if (!staysInside(dir, trimmed) || path.dirname(path.resolve(dir, trimmed)) !== dir) return `'${trimmed}' is outside the model's folder: the output stays next to the model`;
  const target = path.resolve(dir, trimmed);
  if (target === path.resolve(model)) return 'the output must differ from the input model';
  const stem = path.basename(model).replace(/\.onnx$/i, '');
  const own = path.basename(target).startsWith(`${stem}.`);
  if (!own && /\.onnx$/i.test(target) && fs.existsSync(target)) return `'${trimmed}' is another model in this folder, not an output of ${path.basename(model)}: choose a new name`;
  return undefined;
}

/**
 * Temporaries this package writes next to outputs: `.NAME.tmp-PID-…` files and staging folders,
 * `.NAME.auto-PID-…` folders; and `.NAME.lock` files (outputLock.ts).
 */
const TEMPORARY = /^\..+\.(?:tmp|auto)-(\d+)-[0-9A-Za-z]+$/;

/**
 * Remove the temporaries that killed runs left in `folder` (their process is gone); those of
 * live processes (another run in progress) stay. Returns the names removed.
 */
export function sweepStaleTemporaries(folder: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(folder);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const file = path.join(folder, name);
    const pid = Number(TEMPORARY.exec(name)?.[1]);
    const stale = pid ? pid !== process.pid && !processAlive(pid) : isStaleLock(file);
    if (!stale) continue;
    try {
      fs.rmSync(file, { recursive: true, force: true });
      removed.push(name);
    } catch {
      /* not ours to force: left for the user */
    }
  }
  return removed;
}
