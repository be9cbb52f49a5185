/** Reads `onnxQuantizer.*` settings for one resource (calibration paths can differ per folder). */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CalibrationMethod, Preset, QuantFormat, QuantMode } from '../core/quantize/types';

export interface QuantizeSettings {
  mode: QuantMode;
  preset: Preset;
  format: QuantFormat;
  perChannel: boolean;
  calibrationMethod: CalibrationMethod;
  /** Absolute path, or undefined when unset. */
  calibrationData: string | undefined;
  weightBits: 4 | 8;
  /** MatMulNBits accuracy_level (weight-only). */
  accuracyLevel: 0 | 1 | 2 | 4;
  calibrationBatch: number;
  /** MiB. */
  memoryBudget: number;
}

export interface EvaluationSettings {
  benchRuns: number;
  benchWarmup: number;
  benchThreads: number;
  compareData: string | undefined;
  compareLabels: string | undefined;
  compareRuns: number;
  timeoutMinutes: number;
}

function config(resource: vscode.Uri | undefined): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration('onnxQuantizer', resource);
}

/** Relative setting paths are relative to the resource's workspace folder. */
function resolvePath(value: string | undefined, resource: vscode.Uri | undefined): string | undefined {
  const v = value?.trim();
  if (!v) return undefined;
  if (path.isAbsolute(v)) return v;
  const folder = resource ? vscode.workspace.getWorkspaceFolder(resource) : vscode.workspace.workspaceFolders?.[0];
  return folder ? path.join(folder.uri.fsPath, v) : undefined;
}

/**
 * Where a data folder's entries may lead through links in jobs run from the editor: the
 * workspace's folders (undefined without one: the worker then keeps them in the model's folder).
 */
export function dataRoots(): string[] | undefined {
  const roots = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath);
  return roots.length ? roots : undefined;
}

export function quantizeSettings(resource: vscode.Uri | undefined): QuantizeSettings {
  const c = config(resource);
  return {
    mode: c.get<QuantMode>('quantize.mode', 'dynamic'),
    preset: c.get<Preset>('quantize.preset', 'x86'),
    format: c.get<QuantFormat>('quantize.format', 'qdq'),
    perChannel: c.get<boolean>('quantize.perChannel', true),
    calibrationMethod: c.get<CalibrationMethod>('quantize.calibrationMethod', 'minmax'),
    calibrationData: resolvePath(c.get<string>('quantize.calibrationData'), resource),
    weightBits: c.get<number>('quantize.weightBits', 4) === 8 ? 8 : 4,
    accuracyLevel: accuracyLevelSetting(c.get<number>('quantize.accuracyLevel', 0)),
    // The schema's bounds, enforced here too: settings.json is not checked against the schema.
    calibrationBatch: wholeSetting(c, 'quantize.calibrationBatch', 16, 1, 4096),
    memoryBudget: wholeSetting(c, 'quantize.memoryBudget', 512, 16, 1048576),
  };
}

function accuracyLevelSetting(n: number): 0 | 1 | 2 | 4 {
  return n === 1 || n === 2 || n === 4 ? n : 0;
}

function wholeSetting(c: vscode.WorkspaceConfiguration, key: string, fallback: number, min: number, max: number): number {
  const n = c.get<number>(key, fallback);
  return Number.isSafeInteger(n) && n >= min && n <= max ? n : fallback;
}

export function evaluationSettings(resource: vscode.Uri | undefined): EvaluationSettings {
  const c = config(resource);
  // The schema's bounds, enforced here too: settings.json is not checked against the schema.
  const count = (key: string, fallback: number, min: number, max: number): number => wholeSetting(c, key, fallback, min, max);
  return {
    benchRuns: count('bench.runs', 50, 1, 100000),
    benchWarmup: count('bench.warmup', 5, 0, 10000),
    benchThreads: count('bench.threads', 0, 0, 256),
    compareData: resolvePath(c.get<string>('compare.data'), resource),
    compareLabels: resolvePath(c.get<string>('compare.labels'), resource),
    compareRuns: count('compare.runs', 30, 1, 100000),
    timeoutMinutes: count('jobs.timeoutMinutes', 30, 1, 1440),
  };
}
