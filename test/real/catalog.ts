/** The fetch list (models.json) and where scripts/fetch-models.mjs caches each model. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import list from './models.json';

export type Task = 'text-detection' | 'text-recognition' | 'text-direction' | 'vad-v4' | 'vad-v5' | 'melspectrogram' | 'speech-embedding' | 'wakeword' | 'salient-object';

export interface RealModel {
  id: string;
  package: string;
  version: string;
  sha256: string;
  /** Model file inside the npm tarball (or assembled from `parts`). */
  path: string;
  /** Files of the tarball the package splits the model into, concatenated in order into `path`. */
  parts?: string[];
  task: Task;
  covers: string[];
  /** Part of the subset that runs in `npm test`. */
  fast: boolean;
}

export const REAL_MODELS = list.models as RealModel[];

export const CACHE_DIR = process.env.ONNX_QUANTIZER_MODELS ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'onnx-quantizer-models');

export function cachedPath(m: RealModel): string {
  return path.join(CACHE_DIR, `${m.package.replace(/^@/, '').replace(/\//g, '-')}-${m.version}`, m.path);
}

export function modelById(id: string): RealModel {
  const m = REAL_MODELS.find((x) => x.id === id);
  if (!m) throw new Error(`no model '${id}' in test/real/models.json`);
  return m;
}

/**
 * Run the fetch script (npm pack, sha256 check, extraction; a no-op when cached). Returns why the
 * models are not available (no registry, checksum mismatch, ...), or undefined when they are.
 */
export function fetchModels(fastOnly: boolean): string | undefined {
  const script = path.join(__dirname, '../../scripts/fetch-models.mjs');
  const r = spawnSync(process.execPath, [script, ...(fastOnly ? ['--fast'] : [])], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const missing = REAL_MODELS.filter((m) => (!fastOnly || m.fast) && !fs.existsSync(cachedPath(m)));
  if (missing.length === 0) return undefined;
  const why = (r.stderr ?? '').trim().split('\n').filter((l) => /cannot|differs|could not/.test(l)).join('; ');
  return `${missing.map((m) => m.id).join(', ')} not in ${CACHE_DIR} and not fetchable (${why || `fetch exit ${r.status}`})`;
}
