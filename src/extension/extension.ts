/**
 * Entry point: registrations only. Parsing, quantizing and running models happen in the worker
 * process (jobs/), model analysis for editors in the language server. Each part is wired in
 * its own try/catch so one failing part does not take the others down.
 */
import * as vscode from 'vscode';
import type { JobRequest } from '../shared/protocol';
import { registerEvaluateCommands } from './commands/evaluate';
import { registerDashboard } from './dashboard/dashboard';
import { registerModelEditor } from './editor/modelEditor';
import { startLanguageClient } from './languageClient';
import { registerTextView } from './textView/textView';
import { registerQuantizeCommands } from './commands/quantize';
import { registerWorkspaceCommands } from './commands/workspace';
import type { Services } from './commands/targets';
import { Exclusions } from './explorer/exclusions';
import { ModelIndex } from './explorer/modelIndex';
import { MODELS_VIEW, ModelsProvider, type TreeJson } from './explorer/modelsProvider';
import { JobRunner } from './jobs/jobRunner';
import { JobUi } from './jobs/jobUi';
import { evaluationSettings } from './settings';

/** What activate() returns: hooks for the integration tests and other extensions. */
export interface OnnxQuantizerApi {
  /** The Models tree as JSON, every model expanded. */
  getTree(): Promise<TreeJson[]>;
  /** Run a worker job without UI (tests: summarize, crash, stall...). */
  runJob(job: JobRequest, options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<unknown>;
  /** Live worker process ids. */
  workerPids(): number[];
  /** Labels of user jobs in progress. */
  runningJobs(): string[];
  /** Tick (false) or untick (true) a layer row, as a click on its checkbox does. */
  setLayerExcluded(model: vscode.Uri, node: string, excluded: boolean): Promise<void>;
  /** Layers excluded in the Models view for a model. */
  excludedLayers(model: vscode.Uri): string[];
}

export function activate(context: vscode.ExtensionContext): OnnxQuantizerApi {
  const log = vscode.window.createOutputChannel('ONNX Quantizer', { log: true });
  context.subscriptions.push(log);

  const runner = new JobRunner({ script: context.asAbsolutePath('dist/worker.js'), log });
  const jobs = new JobUi(runner, log, () => evaluationSettings(undefined).timeoutMinutes * 60_000);
  const index = new ModelIndex();
  const exclusions = new Exclusions(context.workspaceState);
  const models = new ModelsProvider(index, runner, log, exclusions);
  context.subscriptions.push({ dispose: () => runner.dispose() }, jobs, index, exclusions, models);
  const services: Services = { context, log, runner, jobs, index, models, exclusions };

  // Layer rows carry checkboxes: unticked layers stay float in the next quantization of that model.
  const view = vscode.window.createTreeView(MODELS_VIEW, { treeDataProvider: models, showCollapseAll: true, manageCheckboxStateManually: true });
  context.subscriptions.push(
    view,
    view.onDidChangeCheckboxState((e) => void models.onCheckboxes(e.items)),
    ...registerQuantizeCommands(services),
    ...registerEvaluateCommands(services),
    ...registerWorkspaceCommands(services),
    vscode.commands.registerCommand('onnxQuantizer._test.getTree', () => models.toJson()),
  );

  wireParts(context, services);

  return {
    getTree: () => models.toJson(),
    runJob: (job, options) => runner.run(job, options),
    workerPids: () => runner.workerPids,
    runningJobs: () => jobs.runningJobs,
    setLayerExcluded: (model, node, excluded) => exclusions.set(model, node, excluded),
    excludedLayers: (model) => exclusions.get(model),
  };
}

/** The other engineers' parts: editor, dashboard, language client, text view. */
function wireParts(context: vscode.ExtensionContext, services: Services): void {
  const { log } = services;
  const part = (name: string, wire: () => void): void => {
    try {
      wire();
    } catch (e) {
      log.error(`${name} could not start: ${(e as Error).message}`);
    }
  };
  part('language server', () => {
    // Not awaited: activation never waits for the server; the text view waits for the client.
    const client = startLanguageClient(context, log);
    client.catch((e: unknown) => log.error(`language server could not start: ${(e as Error).message}`));
    registerTextView(context, client, log);
  });
  // The editor shares the explorer's cached summaries: one worker job per model version.
  part('model editor', () => registerModelEditor(context, { runSummary: (uri) => services.models.overview(uri), log }));
  part('dashboard', () => {
    const dashboard = registerDashboard(context, { log });
    services.showDashboard = (report) => dashboard.show(report);
    context.subscriptions.push(
      vscode.commands.registerCommand('onnxQuantizer.openDashboard', async (arg?: unknown) => {
        const report = arg ?? (await pickReport(services));
        if (report) return dashboard.show(report);
        return undefined;
      }),
    );
  });
}

/** A `*.quant-report.json` from the workspace, for "Open Comparison Dashboard" from the palette. */
async function pickReport(services: Services): Promise<vscode.Uri | undefined> {
  const reports = (await vscode.workspace.findFiles('**/*.quant-report.json', '**/node_modules/**', 500)).sort((a, b) => a.fsPath.localeCompare(b.fsPath));
  if (reports.length === 0) {
    void vscode.window.showInformationMessage(vscode.l10n.t('No comparison reports yet: quantize a model and choose Compare, or run "Compare With…".'));
    return undefined;
  }
  const pick = await vscode.window.showQuickPick(
    reports.map((uri) => ({ label: vscode.workspace.asRelativePath(uri, true), uri })),
    { title: vscode.l10n.t('Open Comparison Dashboard'), placeHolder: vscode.l10n.t('Choose a report') },
  );
  services.log.debug(`dashboard: ${pick ? pick.uri.fsPath : 'no report chosen'}`);
  return pick?.uri;
}

export function deactivate(): void {
  // Disposables in context.subscriptions kill the workers.
}
