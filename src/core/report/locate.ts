/**
 * Which report speaks about which model. A comparison's report is written next to its candidate
 * (`CANDIDATE.quant-report.json`, see reportPaths) and names its reference: its findings
 * (per-layer error, accuracy) are about the reference, the float model the user would change.
 * Readers that want a float model's findings (the language server, the dashboard's run history)
 * look for the reports in its folder whose `reference` is that model, newest first.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { sameFile } from '../onnx/paths';
import { readRegularText } from '../util/files';

const REPORT_SUFFIX = /\.quant-report\.json$/i;

export const isReportFile = (file: string): boolean => REPORT_SUFFIX.test(file);

export interface ReportAbout {
  /** The report file. */
  file: string;
  /** Its `createdAt` (ms since the epoch), else the file's modification time. */
  createdMs: number;
}

interface Known {
  stamp: string;
  subject: string | undefined;
  createdMs: number;
}

/** Parsed once per file version: the server asks on every request. */
const known = new Map<string, Known>();
const MAX_KNOWN = 2000;

function stampOf(s: fs.Stats): string {
  return `${s.size}:${s.mtimeMs}`;
}

/**
 * The model a report is about: its `reference`, resolved against the report's folder (a relative
 * path written by a command run elsewhere falls back to the file of that name beside the report).
 * A report without `reference` (written by hand) is about the model it is named after. Undefined
 * when the file is not a readable report.
 */
export function reportSubject(reportFile: string): string | undefined {
  return describe(reportFile)?.subject;
}

function describe(reportFile: string): Known | undefined {
  let stats: fs.Stats;
  try {
    stats = fs.statSync(reportFile);
  } catch {
    known.delete(reportFile);
    return undefined;
  }
  if (!stats.isFile()) return undefined;
  const stamp = stampOf(stats);
  const cached = known.get(reportFile);
  if (cached?.stamp === stamp) return cached;
  let json: unknown;
  try {
    json = JSON.parse(readRegularText(reportFile, 'report'));
  } catch {
    json = undefined;
  }
  const report = typeof json === 'object' && json !== null ? (json as { reference?: unknown; createdAt?: unknown }) : undefined;
  const dir = path.dirname(reportFile);
  let subject: string | undefined;
  if (report && typeof report.reference === 'string' && report.reference) {
    const ref = report.reference;
    const resolved = path.resolve(dir, ref);
    subject = path.isAbsolute(ref) || fs.existsSync(resolved) ? resolved : path.join(dir, path.basename(ref));
  } else if (report) {
    subject = reportFile.replace(REPORT_SUFFIX, '.onnx');
  }
  const created = report && typeof report.createdAt === 'string' ? Date.parse(report.createdAt) : NaN;
  const entry: Known = { stamp, subject, createdMs: Number.isFinite(created) ? created : stats.mtimeMs };
  if (known.size >= MAX_KNOWN) known.clear();
  known.set(reportFile, entry);
  return entry;
}

/** The reports in `modelPath`'s folder that are about it, newest first. */
export function reportsAbout(modelPath: string): ReportAbout[] {
  const dir = path.dirname(path.resolve(modelPath));
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const out: ReportAbout[] = [];
  for (const name of names) {
    if (!isReportFile(name)) continue;
    const file = path.join(dir, name);
    const d = describe(file);
    if (d?.subject && sameFile(d.subject, modelPath)) out.push({ file, createdMs: d.createdMs });
  }
  return out.sort((a, b) => b.createdMs - a.createdMs || a.file.localeCompare(b.file));
}

/** The newest report about `modelPath`, or undefined. */
export function latestReportAbout(modelPath: string): string | undefined {
  return reportsAbout(modelPath)[0]?.file;
}

/**
 * The float model a quantized variant was made from: the `reference` of the report beside it,
 * else `NAME.onnx` for a variant `NAME.<anything>.onnx` in the same folder (the longest NAME).
 */
export function floatModelOf(variantPath: string): string | undefined {
  const variant = path.resolve(variantPath);
  const subject = reportSubject(variant.replace(/\.onnx$/i, '') + '.quant-report.json');
  if (subject && !sameFile(subject, variant) && fs.existsSync(subject)) return subject;
  const dir = path.dirname(variant);
  const base = path.basename(variant);
  let best: string | undefined;
  for (const name of safeReaddir(dir)) {
    if (!/\.onnx$/i.test(name) || name === base) continue;
    const stem = name.slice(0, -'.onnx'.length);
    if (base.startsWith(`${stem}.`) && (!best || stem.length > best.length - '.onnx'.length)) best = name;
  }
  return best ? path.join(dir, best) : undefined;
}

/**
 * The quantized variants of a float model, newest first: the candidates of the reports about it,
 * then the other `NAME.<anything>.onnx` files beside it (by modification time). The caller checks
 * that a variant is quantized.
 */
export function variantsOf(modelPath: string): string[] {
  const model = path.resolve(modelPath);
  const out: string[] = [];
  const add = (file: string): void => {
    if (!sameFile(file, model) && fs.existsSync(file) && !out.some((f) => sameFile(f, file))) out.push(file);
  };
  for (const r of reportsAbout(model)) {
    let candidate: unknown;
    try {
      candidate = (JSON.parse(readRegularText(r.file, 'report')) as { candidate?: unknown }).candidate;
    } catch {
      candidate = undefined;
    }
    if (typeof candidate === 'string' && candidate) add(path.resolve(path.dirname(r.file), candidate));
    else add(r.file.replace(REPORT_SUFFIX, '.onnx'));
  }
  const dir = path.dirname(model);
  const stem = path.basename(model).replace(/\.onnx$/i, '');
  const beside = safeReaddir(dir)
    .filter((name) => /\.onnx$/i.test(name) && name.startsWith(`${stem}.`))
    .map((name) => path.join(dir, name))
    .map((file) => ({ file, mtime: mtimeOf(file) }))
    .sort((a, b) => b.mtime - a.mtime);
  for (const v of beside) add(v.file);
  return out;
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

function mtimeOf(file: string): number {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}
