/**
 * Entry point: registrations only. Parsing, quantizing and running models happen in the worker
 * process (jobs/), model analysis for editors in the language server; the other parts are
 * wired in parts.ts.
 */
import * as vscode from 'vscode';
import type { JobRequest } from '../shared/protocol';
import { registerEvaluateCommands } from './commands/evaluate';
import { registerLayerCommands } from './commands/layers';
import { registerQuantizeCommands } from './commands/quantize';
import { registerWorkspaceCommands } from './commands/workspace';
import type { Services } from './commands/targets';
import { Exclusions } from './explorer/exclusions';
import { ModelIndex } from './explorer/modelIndex';
import { MODELS_VIEW, ModelsProvider, type TreeJson } from './explorer/modelsProvider';
import { JobRunner } from './jobs/jobRunner';
import { JobUi } from './jobs/jobUi';
import { wireParts } from './parts';
import { evaluationSettings } from './settings';

/** What activate() returns: hooks for the integration tests and other extensions. */
export interface OnnxQuantizerApi {
  /** The Models tree as JSON, every model expanded. */
  getTree(): Promise<TreeJson[]>;
  /** Run a worker job without UI (the integration tests' summarize, quantize...). */
  runJob(job: JobRequest, options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<unknown>;
  /** Live worker process ids. */
  workerPids(): number[];
  /** Labels of user jobs in progress. */
  runningJobs(): string[];
  /** Tick (false) or untick (true) a layer row, as a click on its checkbox does (edits the model's recipe). */
  setLayerExcluded(model: vscode.Uri, node: string, excluded: boolean): Promise<void>;
  /** Layers the model's recipe keeps float (what the Models view shows unticked). */
  excludedLayers(model: vscode.Uri): string[];
  /** How long activate() took, in ms (also logged as `activated in X ms`; read by bench/vscode.bench.ts). */
  readonly activationMs: number;
}

export function activate(context: vscode.ExtensionContext): OnnxQuantizerApi {
  const started = performance.now();
  const log = vscode.window.createOutputChannel('ONNX Quantizer', { log: true });
  context.subscriptions.push(log);

  const runner = new JobRunner({ script: context.asAbsolutePath('dist/worker.js'), log });
  const jobs = new JobUi(runner, log, () => evaluationSettings(undefined).timeoutMinutes * 60_000);
  const index = new ModelIndex();
  const exclusions = new Exclusions(context.asAbsolutePath('dist/recipeFiles.js'), context.workspaceState, index.onDidChangeFile, log);
  const models = new ModelsProvider(index, runner, log, exclusions);
  context.subscriptions.push({ dispose: () => runner.dispose() }, jobs, index, exclusions, models);
  const services: Services = { context, log, runner, jobs, index, models, exclusions };

  // Layer rows carry checkboxes: unticked layers stay float in the next quantization of that model.
  const view = vscode.window.createTreeView(MODELS_VIEW, { treeDataProvider: models, showCollapseAll: true, manageCheckboxStateManually: true });
  context.subscriptions.push(
    view,
    view.onDidChangeCheckboxState((e) => void models.onCheckboxes(e.items)),
    ...registerQuantizeCommands(services),
    ...registerLayerCommands(services),
    ...registerEvaluateCommands(services),
    ...registerWorkspaceCommands(services),
  );
  // A test hook (the integration tests read the tree through it): registered only under the test switch.
  if (process.env.ONNX_QUANTIZER_TEST_HOOKS === '1') context.subscriptions.push(vscode.commands.registerCommand('onnxQuantizer._test.getTree', () => models.toJson()));

  wireParts(context, services);

  const activationMs = performance.now() - started;
  log.info(`activated in ${activationMs.toFixed(1)} ms`);
  return {
    activationMs,
    getTree: () => models.toJson(),
    runJob: (job, options) => runner.run(job, options),
    workerPids: () => runner.workerPids,
    runningJobs: () => jobs.runningJobs,
    setLayerExcluded: async (model, node, excluded) => void (await exclusions.set(model, node, excluded)),
    excludedLayers: (model) => exclusions.get(model),
  };
}

export function deactivate(): void {
  // Disposables in context.subscriptions kill the workers.
}
