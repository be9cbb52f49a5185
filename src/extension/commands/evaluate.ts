/**
 * "Benchmark" and "Compare With…": both run in the worker. A comparison writes its report next
 * to the candidate (`CANDIDATE.quant-report.json/.md`) and opens the dashboard when available.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { QuantizeResult } from '../../core/quantize/types';
import type { BenchResult } from '../../core/evaluate/types';
import type { BenchJob, CompareJob, CompareJobResult } from '../../shared/protocol';
import { CancelledError } from '../../core/errors';
import { reportError } from '../jobs/jobUi';
import { chooseEvaluationData } from './evaluationData';
import { dataRoots, evaluationSettings } from '../settings';
import { optionsOf, requireLocal, requireTrust, resolveModel, uriOf, type Services } from './targets';

export interface BenchCommandOptions {
  data?: string;
  batch?: number;
  runs?: number;
  warmup?: number;
  threads?: number;
}

export interface CompareCommandOptions {
  /** The other model (path or Uri); asked for when missing and not programmatic. */
  candidate?: string | vscode.Uri;
  data?: string;
  labels?: string;
  runs?: number;
  perLayer?: boolean;
  /** Write the report files (default true). */
  report?: boolean;
  /** Open the dashboard afterwards (default: true interactively, false from code). */
  show?: boolean;
}

export function registerEvaluateCommands(services: Services): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand('onnxQuantizer.benchmarkModel', (arg?: unknown, opts?: unknown) => benchCommand(services, arg, opts)),
    vscode.commands.registerCommand('onnxQuantizer.compareModels', (arg?: unknown, opts?: unknown) => compareCommand(services, arg, opts)),
  ];
}

async function benchCommand(services: Services, arg: unknown, rawOptions: unknown): Promise<BenchResult | undefined> {
  const given = optionsOf<BenchCommandOptions>(rawOptions);
  const programmatic = given !== undefined;
  try {
    if (!(await requireTrust(vscode.l10n.t('Benchmarking'), programmatic))) return undefined;
    const model = await resolveModel(arg, services, vscode.l10n.t('Benchmark Model'));
    if (!model) return undefined;
    requireLocal(model);
    const s = evaluationSettings(model);
    const job: BenchJob = { kind: 'bench', model: model.fsPath, runs: s.benchRuns, warmup: s.benchWarmup, ...given };
    const roots = dataRoots();
    if (roots) job.dataRoots = roots;
    if (s.benchThreads > 0 && job.threads === undefined) job.threads = s.benchThreads;
    if (s.compareData && job.data === undefined) job.data = s.compareData;
    const r = await services.jobs.run(job);
    const line = vscode.l10n.t(
      '{0}: p50 {1} ms, p90 {2} ms, p99 {3} ms ({4} runs, batch {5}, {6} threads).',
      path.basename(model.fsPath),
      r.p50Ms.toFixed(3),
      r.p90Ms.toFixed(3),
      r.p99Ms.toFixed(3),
      r.runs,
      r.batch,
      r.threads,
    );
    services.log.info(line);
    if (!programmatic) void vscode.window.showInformationMessage(line);
    return r;
  } catch (e) {
    if (programmatic) throw e;
    reportError(e, services.log);
    return undefined;
  }
}

async function compareCommand(services: Services, arg: unknown, rawOptions: unknown): Promise<CompareJobResult | undefined> {
  const given = optionsOf<CompareCommandOptions>(rawOptions);
  const programmatic = given !== undefined;
  try {
    if (!(await requireTrust(vscode.l10n.t('Comparing'), programmatic))) return undefined;
    const reference = await resolveModel(arg, services, vscode.l10n.t('Compare Models: reference'));
    if (!reference) return undefined;
    const candidate = given?.candidate !== undefined ? toUri(given.candidate) : (otherSelected(reference, rawOptions) ?? (await pickCandidate(services, reference)));
    if (!candidate) return undefined;
    return await compareAndShow(services, reference, candidate, { programmatic, ...given });
  } catch (e) {
    if (programmatic) throw e;
    reportError(e, services.log);
    return undefined;
  }
}

/** Run a comparison (report written next to the candidate) and show it. Throws on failure. */
export async function compareAndShow(
  services: Services,
  reference: vscode.Uri,
  candidate: vscode.Uri,
  options: Omit<CompareCommandOptions, 'candidate'> & { programmatic: boolean; quantize?: QuantizeResult },
): Promise<CompareJobResult> {
  requireLocal(reference);
  requireLocal(candidate);
  const s = evaluationSettings(reference);
  const job: CompareJob = { kind: 'compare', reference: reference.fsPath, candidate: candidate.fsPath, runs: options.runs ?? s.compareRuns };
  let data = options.data ?? s.compareData;
  let labels = options.labels ?? s.compareLabels;
  if (!data && !options.programmatic) {
    // Asked for: the labelled test set beside the float model, else a pick (random inputs only when chosen).
    const chosen = await chooseEvaluationData(reference.fsPath);
    if (!chosen) throw new CancelledError('no evaluation data chosen');
    services.log.info(`compare: ${chosen.source === 'random' ? 'random inputs, as chosen' : `${chosen.source === 'beside' ? 'the test data beside the model' : 'chosen data'}: ${chosen.data}${chosen.labels ? ` with labels ${chosen.labels}` : ''}`}`);
    data = chosen.data;
    labels ??= chosen.labels;
  }
  // From code without data given or set, the worker uses the labelled test set beside the float model (NAME_test_x/_y.npy).
  if (!data && options.programmatic) job.testDataBeside = true;
  if (data) job.data = data;
  if (labels) job.labels = labels;
  if (options.perLayer ?? !options.programmatic) job.perLayer = true;
  if (options.report !== false) job.reportStem = candidate.fsPath.replace(/\.onnx$/i, '');
  if (options.quantize) job.quantize = options.quantize;
  const roots = dataRoots();
  if (roots) job.dataRoots = roots;
  const result = await services.jobs.run(job);
  const { size, latency, accuracy } = result;
  if (result.dataBeside) services.log.info(`compare: used the test data beside the model: ${path.basename(result.dataBeside.data)}${result.dataBeside.labels ? ` with labels ${path.basename(result.dataBeside.labels)}` : ''}`);
  services.log.info(
    `compare ${path.basename(reference.fsPath)} vs ${path.basename(candidate.fsPath)}: ${size.ratio.toFixed(2)}× smaller, ` +
      `${latency.speedup.toFixed(2)}× speed, agreement ${(accuracy.agreement * 100).toFixed(2)} %`,
  );
  if (options.show ?? !options.programmatic) await showComparison(services, result);
  return result;
}

/** The dashboard when the webview part is there, else the Markdown report, else a summary. */
async function showComparison(services: Services, result: CompareJobResult): Promise<void> {
  if (services.showDashboard) {
    try {
      await services.showDashboard(result);
      return;
    } catch (e) {
      services.log.warn(`dashboard failed, showing the report instead: ${(e as Error).message}`);
    }
  }
  const md = result.reportFiles?.find((f) => f.endsWith('.md'));
  if (md) {
    await vscode.commands.executeCommand('markdown.showPreview', vscode.Uri.file(md));
    return;
  }
  void vscode.window.showInformationMessage(
    vscode.l10n.t('{0}× smaller, {1}× speed, {2} % agreement.', result.size.ratio.toFixed(2), result.latency.speedup.toFixed(2), (result.accuracy.agreement * 100).toFixed(2)),
  );
}

function toUri(p: string | vscode.Uri): vscode.Uri {
  return typeof p === 'string' ? vscode.Uri.file(p) : p;
}

/** Explorer multi-select passes (clicked, [a, b]): with two models selected, compare them directly. */
function otherSelected(reference: vscode.Uri, selection: unknown): vscode.Uri | undefined {
  if (!Array.isArray(selection) || selection.length !== 2) return undefined;
  const uris = selection.map(uriOf);
  const other = uris.find((u) => u && u.toString() !== reference.toString());
  return other && /\.onnx$/i.test(other.path) ? other : undefined;
}

/** Other models, with the reference's own quantized variants first. */
async function pickCandidate(services: Services, reference: vscode.Uri): Promise<vscode.Uri | undefined> {
  const { variants } = await services.index.derivedFiles(reference);
  const others = (await services.index.allModels()).filter((u) => u.toString() !== reference.toString() && !variants.some((v) => v.toString() === u.toString()));
  type Item = vscode.QuickPickItem & { uri?: vscode.Uri };
  const items: Item[] = [
    ...variants.map((uri) => ({ label: path.basename(uri.fsPath), description: vscode.l10n.t('quantized from this model'), uri })),
    ...others.map((uri) => ({ label: path.basename(uri.fsPath), description: vscode.workspace.asRelativePath(uri, true), uri })),
    { label: `$(folder-opened) ${vscode.l10n.t('Browse…')}` },
  ];
  const pick = await vscode.window.showQuickPick(items, { title: vscode.l10n.t('Compare {0} with…', path.basename(reference.fsPath)), placeHolder: vscode.l10n.t('Choose the candidate model') });
  if (!pick) return undefined;
  if (pick.uri) return pick.uri;
  const chosen = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { ONNX: ['onnx'] }, defaultUri: vscode.Uri.file(path.dirname(reference.fsPath)) });
  return chosen?.[0];
}

