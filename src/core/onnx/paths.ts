import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../errors';

/**
 * Resolve an external-data `location` against the model's folder, refusing anything that
 * could read outside it: absolute paths, `..` segments, and symlinks whose target leaves
 * the folder. Returns the real absolute path.
 */
export function resolveExternalLocation(modelDir: string, location: string, tensorName: string): string {
  const where = `external data for tensor '${tensorName}'`;
  if (location.length === 0) throw new InputError(`${where} has an empty location`);
  if (location.includes('\0')) throw new InputError(`${where} has a location with a NUL byte`);
  if (path.isAbsolute(location) || path.win32.isAbsolute(location)) {
    throw new InputError(`${where} uses an absolute path '${location}'; only files inside the model's folder are read`);
  }
  const segments = location.split(/[\\/]+/);
  if (segments.includes('..')) {
    throw new InputError(`${where} points outside the model's folder ('${location}'); refused`);
  }
  const realDir = realpathOrSelf(modelDir);
  const candidate = path.resolve(realDir, location);
  if (!fs.existsSync(candidate)) {
    throw new InputError(`${where} is missing: '${location}' does not exist next to the model`);
  }
  const real = fs.realpathSync(candidate);
  if (!isInside(realDir, real)) {
    throw new InputError(`${where} resolves through a symlink outside the model's folder ('${location}'); refused`);
  }
  return real;
}

export function isInside(dir: string, file: string): boolean {
  const rel = path.relative(dir, file);
  return rel.length > 0 && !rel.startsWith('..') && !path.isAbsolute(rel);
}

export function realpathOrSelf(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

/** True when two paths name the same file (also through links or different spellings). */
export function sameFile(a: string, b: string): boolean {
  if (path.resolve(a) === path.resolve(b)) return true;
  try {
    const sa = fs.statSync(a);
    const sb = fs.statSync(b);
    return sa.ino === sb.ino && sa.dev === sb.dev;
  } catch {
    return false;
  }
}
