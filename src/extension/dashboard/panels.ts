/**
 * The comparison dashboards, loaded on first need with dist/dashboard.js (dashboard.ts):
 * one panel per float model, opened beside it, showing every run of it (core/report/runs.ts) as
 * a column with its delta against the run before. The history is rebuilt from the report files
 * whenever the panel is shown, restored or a report beside the model changes, so it survives
 * reloads; reports without a file (a comparison run with `report: false`) are kept in the
 * panel's saved state.
 *
 * "Exclude and re-quantize" adds a run: the float model is quantized again with the run's
 * options and its float layers plus the chosen ones, into the next free output
 * (core/report/runOutput.ts), then compared; the run it started from stays. "Remove run"
 * deletes the run's report files, and its model when the user says so.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { isDashboardToHostMessage, type DashboardToHostMessage, type ExportFormat, type HostToDashboardMessage } from '../../shared/webviewMessages';
import { OPEN_GRAPH_COMMAND } from '../../shared/lsp/documents';
import { readRunSources, type RunSource } from '../../core/report/runs';
import { nextRunOutput } from '../../core/report/runOutput';
import { baseName, reportsOf } from './reportAdapter';
import { runsView, type RunsView } from './runColumns';
import { EXPORT_EXTENSIONS, exportText } from './exportReport';
import { DASHBOARD_VIEW_TYPE } from './dashboardGate';
import { watchReady, type ReadyWatch } from '../webviewReady';

export interface PanelDeps {
  log: vscode.LogOutputChannel;
  keepFloat?(model: vscode.Uri, nodes: readonly string[]): Promise<void>;
  /** The webview's HTML (strict CSP with a nonce: editor/modelEditor.ts renderShell). */
  shell(webview: vscode.Webview, title: string): string;
  roots: vscode.Uri[];
  icon: vscode.Uri;
}

export interface ShowOptions {
  viewColumn?: vscode.ViewColumn;
}

type Obj = Record<string, unknown>;
const str = (x: unknown): string => (typeof x === 'string' ? x : '');
const firstLine = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n')[0]?.slice(0, 500) ?? '';

/** What a panel saves with the webview's state, to be rebuilt after a reload. */
interface SavedState {
  floatModel: string;
  /** Report files shown that are not beside the float model. */
  pinned: string[];
  /** Reports that have no file. */
  memory: Obj[];
}

/** A report as given: its file when it has one. */
interface Given {
  file?: string;
  report: Obj;
}

async function readReportFile(file: string): Promise<Given[]> {
  const text = new TextDecoder().decode(await vscode.workspace.fs.readFile(vscode.Uri.file(file)));
  const reports = reportsOf(JSON.parse(text) as unknown);
  if (reports.length === 0) throw new Error(`${baseName(file)} is not a comparison report`);
  const dir = path.dirname(file);
  // A file holding several reports (an export) has no single run behind it: its reports are shown as they are.
  return reports.map((r) => {
    const resolved: Obj = { ...r };
    for (const key of ['reference', 'candidate'] as const) {
      const p = r[key];
      if (typeof p === 'string' && p && !path.isAbsolute(p)) resolved[key] = path.resolve(dir, p);
    }
    return reports.length === 1 ? { file, report: resolved } : { report: resolved };
  });
}

/** Whatever callers pass (a report, an array, a job result naming its files, a Uri or path) → reports. */
async function resolveGiven(report: unknown, log: vscode.LogOutputChannel): Promise<Given[]> {
  if (report instanceof vscode.Uri) return readReportFile(report.fsPath);
  if (typeof report === 'string') return readReportFile(report);
  const out: Given[] = [];
  for (const r of reportsOf(report)) {
    const json = Array.isArray(r.reportFiles) ? r.reportFiles.find((f): f is string => typeof f === 'string' && f.endsWith('.json')) : undefined;
    if (json) {
      try {
        out.push(...(await readReportFile(json)));
        continue;
      } catch (err) {
        log.warn(`dashboard: cannot read ${json}, showing the job result: ${firstLine(err)}`);
      }
    }
    out.push({ report: r });
  }
  return out;
}

/** The output name a run falls back on when its model is not a derived output (`NAME.int8.onnx`, `NAME.fp16.onnx`). */
function fallbackOutput(floatModel: string, mode: string): string {
  return floatModel.replace(/\.onnx$/i, mode === 'fp16' ? '.fp16.onnx' : mode === 'weight-only' ? '.int4.onnx' : '.int8.onnx');
}

/** A model the dashboard may delete: a derived output of the float model (`NAME.*.onnx` beside it). */
function isDerivedOutput(floatModel: string, model: string): boolean {
  const stem = path.basename(floatModel).replace(/\.onnx$/i, '');
  return path.dirname(model) === path.dirname(floatModel) && path.resolve(model) !== path.resolve(floatModel) && path.basename(model).startsWith(`${stem}.`) && /\.onnx$/i.test(model);
}

class RunsPanel {
  private pinned = new Set<string>();
  private memory: Obj[] = [];
  private view: RunsView | undefined;
  private busy = false;
  private readonly disposables: vscode.Disposable[] = [];
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private posted = '';
  private readonly started: ReadyWatch;

  constructor(
    readonly panel: vscode.WebviewPanel,
    readonly floatModel: string,
    private readonly deps: PanelDeps,
    onDispose: () => void,
  ) {
    const webview = panel.webview;
    webview.options = { enableScripts: true, localResourceRoots: deps.roots };
    // A fresh nonce each time, so setting it again builds a fresh frame.
    const load = (): void => {
      webview.html = deps.shell(webview, 'Quantization runs');
    };
    load();
    panel.iconPath = deps.icon;
    this.started = watchReady({
      reload: load,
      giveUp: (attempts) => {
        deps.log.error(`dashboard of ${floatModel || 'a report'}: the webview did not start after ${attempts} reloads (run "Developer: Reload Window")`);
        void vscode.window.showWarningMessage(vscode.l10n.t('The runs dashboard did not load. Run "Developer: Reload Window" to show it again.'));
      },
      log: (m) => deps.log.info(`dashboard: ${m}`),
    });
    if (panel.visible) this.started.expect();
    this.disposables.push(
      webview.onDidReceiveMessage((raw: unknown) => {
        if (isDashboardToHostMessage(raw)) void this.onMessage(raw);
        else deps.log.warn(`dashboard: ignored malformed webview message ${JSON.stringify(raw)?.slice(0, 200)}`);
      }),
      panel.onDidChangeViewState((e) => {
        if (!e.webviewPanel.visible) return this.started.stop();
        this.started.expect();
        this.refresh();
      }),
      { dispose: () => this.started.stop() },
    );
    if (floatModel) {
      // Reports written beside the model by anything (the CLI too) show up as runs.
      const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(path.dirname(floatModel)), '*.quant-report.json'));
      const later = (): void => this.refreshSoon();
      this.disposables.push(watcher, watcher.onDidCreate(later), watcher.onDidChange(later), watcher.onDidDelete(later));
    }
    panel.onDidDispose(() => {
      if (this.refreshTimer) clearTimeout(this.refreshTimer);
      for (const d of this.disposables) d.dispose();
      onDispose();
    });
  }

  add(given: Given[]): void {
    for (const g of given) {
      if (g.file) this.pinned.add(path.resolve(g.file));
      else this.memory = [...this.memory.filter((m) => str(m.candidate) !== str(g.report.candidate)), { createdAt: new Date().toISOString(), ...g.report }];
    }
    this.refresh();
  }

  restore(state: SavedState): void {
    for (const f of state.pinned) this.pinned.add(f);
    this.memory = state.memory;
    this.refresh();
  }

  /** The history again from the report files (and the reports without one); posted when it changed, or when `force`d (a reloaded webview). */
  refresh(force = false): void {
    const memory: RunSource[] = this.memory.map((report) => ({ reportFile: '', report, createdMs: Date.parse(str(report.createdAt)) || 0 }));
    const sources = [...readRunSources(this.floatModel, [...this.pinned]), ...memory];
    this.view = runsView(this.floatModel, sources);
    this.panel.title = this.view.dto.title;
    const persist: SavedState = { floatModel: this.floatModel, pinned: [...this.pinned], memory: this.memory };
    const message: HostToDashboardMessage = { v: 1, type: 'report', report: this.view.dto, persist };
    // Unchanged history (a refocus, a report rewritten as it was): nothing to draw again.
    const text = JSON.stringify(message);
    if (text === this.posted && !force) return;
    this.posted = text;
    void this.panel.webview.postMessage(message);
  }

  private refreshSoon(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => this.refresh(), 300);
  }

  private async onMessage(m: DashboardToHostMessage): Promise<void> {
    switch (m.type) {
      case 'ready':
        this.started.ready();
        this.refresh(true);
        return;
      case 'export':
        await this.exportAs(m.format);
        return;
      case 'excludeNodes':
        await this.requantize(m.model, m.nodes);
        return;
      case 'showInGraph':
        await this.showInGraph(m.model, m.node);
        return;
      case 'removeRun':
        await this.removeRun(m.model);
        return;
    }
  }

  private column(model: number): { run: RunsView['runs'][number]; report: Obj } | undefined {
    const run = this.view?.runs[model - 1];
    const report = this.view?.reports[model - 1];
    return run && report ? { run, report } : undefined;
  }

  private async exportAs(format: ExportFormat): Promise<void> {
    if (!this.view) return;
    const { ext, name } = EXPORT_EXTENSIONS[format];
    const last = this.view.runs.at(-1);
    const stem = last?.model ? last.model.replace(/\.onnx$/i, '') : this.floatModel.replace(/\.onnx$/i, '') || 'quant-report';
    const target = await vscode.window.showSaveDialog({
      defaultUri: vscode.Uri.file(`${stem}.quant-report.${ext}`),
      filters: { [name]: [ext] },
      saveLabel: vscode.l10n.t('Export'),
    });
    if (!target) return;
    try {
      await vscode.workspace.fs.writeFile(target, new TextEncoder().encode(exportText(format, this.view.dto, this.view.reports)));
      this.deps.log.info(`dashboard: exported ${format} to ${target.fsPath}`);
    } catch (err) {
      this.deps.log.error(`dashboard: export failed: ${firstLine(err)}`);
      void vscode.window.showErrorMessage(vscode.l10n.t('Could not write {0}: {1}', baseName(target.fsPath), firstLine(err)));
    }
  }

  /** The run's graph (the model the per-layer row measured), on the row's node. */
  private async showInGraph(model: number, node: string): Promise<void> {
    const run = this.column(model)?.run;
    if (!run?.modelExists) {
      void vscode.window.showErrorMessage(vscode.l10n.t('The quantized model of this run is not on disk, so its graph cannot open.'));
      return;
    }
    await vscode.commands.executeCommand(OPEN_GRAPH_COMMAND, vscode.Uri.file(run.model), node);
  }

  private async requantize(model: number, nodes: string[]): Promise<void> {
    const column = this.column(model);
    if (!column || !this.floatModel) {
      void vscode.window.showErrorMessage(vscode.l10n.t('This report does not name the models it compared, so it cannot re-quantize.'));
      return;
    }
    if (this.busy) {
      void vscode.window.showInformationMessage(vscode.l10n.t('A re-quantization of {0} is already running.', baseName(this.floatModel)));
      return;
    }
    const { run, report } = column;
    const recorded = typeof report.options === 'object' && report.options !== null ? (report.options as Obj) : {};
    // The run's own options, without what belonged to writing that run's file.
    const { output: _output, force: _force, excludeNodes: _excluded, ...options } = recorded;
    const excludeNodes = [...new Set([...run.excluded, ...nodes])];
    const output = nextRunOutput(this.floatModel, run.model, fallbackOutput(this.floatModel, run.mode ?? str(options.mode)));
    const next = (this.view?.runs.length ?? 0) + 1;
    const go = vscode.l10n.t('Re-quantize');
    const kept = nodes.length === 1 ? (nodes[0] ?? '') : vscode.l10n.t('{0} layers', nodes.length);
    const pick = await vscode.window.showInformationMessage(
      vscode.l10n.t('Quantize {0} again as run {1} ({2}), keeping {3} float ({4} float layers in all)? Run {5} stays.', baseName(this.floatModel), next, baseName(output), kept, excludeNodes.length, run.number),
      { modal: true },
      go,
    );
    if (pick !== go) return;
    this.busy = true;
    try {
      const floatUri = vscode.Uri.file(this.floatModel);
      this.deps.log.info(`dashboard: run ${next} of ${this.floatModel} → ${output}, keeping float: ${excludeNodes.join(', ')}`);
      const quantized = await vscode.commands.executeCommand<Obj | undefined>('onnxQuantizer.quantizeModel', floatUri, { ...options, excludeNodes, output });
      if (!quantized) return; // cancelled
      // The recipe follows, so the Models view, the text view and the next Quantize… keep these layers float too.
      await this.deps.keepFloat?.(floatUri, nodes).catch((e: unknown) => this.deps.log.warn(`dashboard: recipe not updated: ${firstLine(e)}`));
      const compared = await vscode.commands.executeCommand<unknown>('onnxQuantizer.compareModels', floatUri, { candidate: output, perLayer: true, show: false, quantize: quantized });
      if (!compared) return;
      this.add(await resolveGiven(compared, this.deps.log));
    } catch (err) {
      this.deps.log.error(`dashboard: re-quantize failed: ${firstLine(err)}`);
      void vscode.window.showErrorMessage(vscode.l10n.t('Re-quantize failed: {0}', firstLine(err)));
    } finally {
      this.busy = false;
    }
  }

  private async removeRun(model: number): Promise<void> {
    const column = this.column(model);
    if (!column) return;
    const { run } = column;
    const removeRun = vscode.l10n.t('Remove Run');
    const removeBoth = vscode.l10n.t('Remove Run and Model');
    const deletable = run.modelExists && isDerivedOutput(this.floatModel, run.model);
    const pick = await vscode.window.showWarningMessage(
      vscode.l10n.t('Remove run {0} ({1}) from the history? Its report files are deleted.', run.number, baseName(run.model)),
      { modal: true },
      removeRun,
      ...(deletable ? [removeBoth] : []),
    );
    if (pick !== removeRun && pick !== removeBoth) return;
    const files: string[] = [];
    if (run.reportFile) {
      const stem = run.reportFile.replace(/\.quant-report\.json$/i, '');
      files.push(run.reportFile, `${stem}.quant-report.md`, `${stem}.quant-report.html`);
      this.pinned.delete(run.reportFile);
    } else {
      this.memory = this.memory.filter((m) => path.resolve(str(m.candidate)) !== run.model);
    }
    if (pick === removeBoth) files.push(run.model);
    for (const file of files) {
      try {
        await vscode.workspace.fs.delete(vscode.Uri.file(file), { useTrash: false });
      } catch (err) {
        if (!(err instanceof vscode.FileSystemError && err.code === 'FileNotFound')) this.deps.log.warn(`dashboard: could not delete ${file}: ${firstLine(err)}`);
      }
    }
    this.deps.log.info(`dashboard: removed run ${run.number} of ${this.floatModel} (${files.map(baseName).join(', ') || 'no files'})`);
    this.refresh();
  }
}

/** Every open dashboard, one per float model. */
export class Dashboards {
  private readonly panels = new Map<string, RunsPanel>();

  constructor(private readonly deps: PanelDeps) {}

  async show(report: unknown, options: ShowOptions = {}): Promise<vscode.WebviewPanel> {
    const given = await resolveGiven(report, this.deps.log);
    if (given.length === 0) throw new Error('nothing to show: not a comparison report');
    let shown: vscode.WebviewPanel | undefined;
    for (const [floatModel, group] of groupByReference(given)) {
      let panel = this.panels.get(keyOf(floatModel));
      if (panel) panel.panel.reveal(options.viewColumn ?? panel.panel.viewColumn, false);
      else panel = this.adopt(vscode.window.createWebviewPanel(DASHBOARD_VIEW_TYPE, `Runs: ${baseName(floatModel)}`, { viewColumn: options.viewColumn ?? vscode.ViewColumn.Beside, preserveFocus: false }, { enableScripts: true, localResourceRoots: this.deps.roots }), floatModel);
      panel.add(group);
      shown = panel.panel;
    }
    if (!shown) throw new Error('nothing to show: not a comparison report');
    return shown;
  }

  /** A panel VS Code restored after a reload, with the state its webview saved (also the older `{reports}` form). */
  restore(webviewPanel: vscode.WebviewPanel, state: unknown): void {
    const saved = typeof state === 'object' && state !== null ? (state as Obj) : {};
    const old = reportsOf(saved.reports ?? []);
    const floatModel = typeof saved.floatModel === 'string' ? saved.floatModel : str(old[0]?.reference);
    const panel = this.adopt(webviewPanel, floatModel);
    panel.restore({
      floatModel,
      pinned: Array.isArray(saved.pinned) ? saved.pinned.filter((f): f is string => typeof f === 'string') : [],
      memory: Array.isArray(saved.memory) ? reportsOf(saved.memory) : old,
    });
  }

  private adopt(webviewPanel: vscode.WebviewPanel, floatModel: string): RunsPanel {
    const key = keyOf(floatModel);
    const existing = this.panels.get(key);
    const panel = new RunsPanel(webviewPanel, floatModel, this.deps, () => {
      if (this.panels.get(key) === panel) this.panels.delete(key);
    });
    if (!existing) this.panels.set(key, panel);
    return panel;
  }
}

const keyOf = (floatModel: string): string => (floatModel ? path.resolve(floatModel) : '');

/** Reports by the float model they are about (resolved path; '' for reports that name none). */
function groupByReference(given: Given[]): Map<string, Given[]> {
  const groups = new Map<string, Given[]>();
  for (const g of given) {
    const key = keyOf(str(g.report.reference));
    groups.set(key, [...(groups.get(key) ?? []), g]);
  }
  return groups;
}
