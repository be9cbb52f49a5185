/**
 * Comparison dashboard: an editor-area WebviewPanel (viewType `onnxQuantizer.dashboard`) showing
 * the float model and each quantized variant side by side, restored after a restart by a
 * WebviewPanelSerializer.
 *
 * This file is its own bundle (dist/dashboard.js), loaded the first time a dashboard is shown or
 * restored; dashboardGate.ts is what activation registers.
 *
 *   createDashboard(context: vscode.ExtensionContext, deps: DashboardDeps): DashboardController & DashboardRestore
 *   controller.show(report: unknown, options?: ShowDashboardOptions): Promise<vscode.WebviewPanel>
 *     `report` is a QuantReport / CompareResult / CompareJobResult object (an array for several
 *     variants), a vscode.Uri or path string of a `*.quant-report.json`. A CompareJobResult whose
 *     `reportFiles` lists a JSON report is replaced by that file (it adds environment and options).
 *     A report with the same reference as the one shown is added as a column; another reference
 *     starts a new view. Wire `onnxQuantizer.openDashboard` and Services.showDashboard to it.
 *   controller.restore(panel, state): a panel the serializer restores after a restart.
 *
 * "Exclude and re-quantize" runs `onnxQuantizer.quantizeModel(referenceUri, {...report.options,
 * excludeNodes, output: candidate, force: true})` after a modal confirmation, then
 * `onnxQuantizer.compareModels(referenceUri, {candidate, perLayer: true, show: false})`, and shows
 * the new comparison in place of the old column. Exports are written after a save dialog.
 */
import * as vscode from 'vscode';
import * as path from 'node:path';
import {
  isDashboardToHostMessage,
  type DashboardToHostMessage,
  type ExportFormat,
  type HostToDashboardMessage,
} from '../../shared/webviewMessages';
import { baseName, mergeReports, reportForColumn, reportsOf, toDashboard } from './reportAdapter';
import { EXPORT_EXTENSIONS, exportText } from './exportReport';
import { renderShell, webviewRoots } from '../editor/modelEditor';
import { OPEN_GRAPH_COMMAND } from '../../shared/lsp/documents';
import { DASHBOARD_VIEW_TYPE } from './dashboardGate';


export interface DashboardDeps {
  log: vscode.LogOutputChannel;
}

export interface ShowDashboardOptions {
  /** Open a new panel instead of adding to the current one. */
  newPanel?: boolean;
  viewColumn?: vscode.ViewColumn;
}

export interface DashboardController {
  show(report: unknown, options?: ShowDashboardOptions): Promise<vscode.WebviewPanel>;
}

/** A panel VS Code restores after a restart, with the state its webview saved. */
export interface DashboardRestore {
  restore(panel: vscode.WebviewPanel, state: unknown): void;
}

type Obj = Record<string, unknown>;
const firstLine = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 500);

/** Reads a report file (JSON only: no model parsing on this thread) and resolves relative model paths. */
async function readReport(uri: vscode.Uri): Promise<Obj[]> {
  const text = new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
  const reports = reportsOf(JSON.parse(text) as unknown);
  if (reports.length === 0) throw new Error(`${baseName(uri.fsPath)} is not a comparison report`);
  const dir = path.dirname(uri.fsPath);
  return reports.map((r) => {
    const resolved: Obj = { ...r };
    for (const key of ['reference', 'candidate'] as const) {
      const p = r[key];
      if (typeof p === 'string' && p && !path.isAbsolute(p)) resolved[key] = path.resolve(dir, p);
    }
    return resolved;
  });
}

/** Whatever callers pass → report objects. */
async function resolveReports(report: unknown, log: vscode.LogOutputChannel): Promise<Obj[]> {
  if (report instanceof vscode.Uri) return readReport(report);
  if (typeof report === 'string') return readReport(vscode.Uri.file(report));
  const direct = reportsOf(report);
  // A job result names the full report it wrote (with environment and options): prefer it.
  return Promise.all(
    direct.map(async (r) => {
      const json = Array.isArray(r.reportFiles) ? r.reportFiles.find((f): f is string => typeof f === 'string' && f.endsWith('.json')) : undefined;
      if (!json) return r;
      try {
        return (await readReport(vscode.Uri.file(json)))[0] ?? r;
      } catch (err) {
        log.warn(`dashboard: cannot read ${json}, showing the job result: ${firstLine(err)}`);
        return r;
      }
    }),
  );
}

class DashboardPanel {
  private reports: Obj[] = [];
  private busy = false;

  constructor(
    readonly panel: vscode.WebviewPanel,
    private readonly context: vscode.ExtensionContext,
    private readonly deps: DashboardDeps,
    private readonly onDispose: (p: DashboardPanel) => void,
  ) {
    const webview = panel.webview;
    webview.options = { enableScripts: true, localResourceRoots: webviewRoots(context.extensionUri) };
    webview.html = renderShell(webview, context.extensionUri, 'dashboard', 'Quantization report');
    panel.iconPath = vscode.Uri.joinPath(context.extensionUri, 'media', 'dashboard.svg');
    const sub = webview.onDidReceiveMessage((raw: unknown) => {
      if (isDashboardToHostMessage(raw)) void this.onMessage(raw);
      else deps.log.warn(`dashboard: ignored malformed webview message ${JSON.stringify(raw)?.slice(0, 200)}`);
    });
    panel.onDidDispose(() => {
      sub.dispose();
      onDispose(this);
    });
  }

  setReports(reports: Obj[]): void {
    this.reports = reports;
    const dto = toDashboard(reports);
    this.panel.title = dto.title.replace(/^Quantization report: /, 'Report: ');
    this.post();
  }

  addReports(reports: Obj[]): void {
    this.setReports(mergeReports(this.reports, reports));
  }

  private post(): void {
    const message: HostToDashboardMessage = { v: 1, type: 'report', report: toDashboard(this.reports), persist: { reports: this.reports } };
    void this.panel.webview.postMessage(message);
  }

  private async onMessage(m: DashboardToHostMessage): Promise<void> {
    switch (m.type) {
      case 'ready':
        this.post();
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
    }
  }

  private async exportAs(format: ExportFormat): Promise<void> {
    const { ext, name } = EXPORT_EXTENSIONS[format];
    const candidate = reportForColumn(this.reports, 1);
    const stem = typeof candidate?.candidate === 'string' && candidate.candidate ? candidate.candidate.replace(/\.onnx$/i, '') : 'quant-report';
    const target = await vscode.window.showSaveDialog({
      defaultUri: vscode.Uri.file(`${stem}.quant-report.${ext}`),
      filters: { [name]: [ext] },
      saveLabel: vscode.l10n.t('Export'),
    });
    if (!target) return;
    try {
      await vscode.workspace.fs.writeFile(target, new TextEncoder().encode(exportText(format, toDashboard(this.reports), this.reports)));
      this.deps.log.info(`dashboard: exported ${format} to ${target.fsPath}`);
    } catch (err) {
      this.deps.log.error(`dashboard: export failed: ${firstLine(err)}`);
      void vscode.window.showErrorMessage(vscode.l10n.t('Could not write {0}: {1}', baseName(target.fsPath), firstLine(err)));
    }
  }

  /** The candidate's graph (the model the per-layer row measured), on the row's node. */
  private async showInGraph(model: number, node: string): Promise<void> {
    const report = reportForColumn(this.reports, model);
    const candidate = typeof report?.candidate === 'string' ? report.candidate : '';
    if (!candidate) {
      void vscode.window.showErrorMessage(vscode.l10n.t('This report does not name the model it measured, so its graph cannot open.'));
      return;
    }
    await vscode.commands.executeCommand(OPEN_GRAPH_COMMAND, vscode.Uri.file(candidate), node);
  }

  private async requantize(model: number, nodes: string[]): Promise<void> {
    const report = reportForColumn(this.reports, model);
    const reference = typeof report?.reference === 'string' ? report.reference : '';
    const candidate = typeof report?.candidate === 'string' ? report.candidate : '';
    if (!report || !reference || !candidate) {
      void vscode.window.showErrorMessage(vscode.l10n.t('This report does not name the models it compared, so it cannot re-quantize.'));
      return;
    }
    if (this.busy) return;
    const options = typeof report.options === 'object' && report.options !== null ? (report.options as Obj) : {};
    const previous = Array.isArray(options.excludeNodes) ? options.excludeNodes.filter((n): n is string => typeof n === 'string') : [];
    const excludeNodes = [...new Set([...previous, ...nodes])];
    const go = vscode.l10n.t('Re-quantize');
    const pick = await vscode.window.showWarningMessage(
      vscode.l10n.t('Re-quantize {0} keeping {1} in float? This replaces {2}.', baseName(reference), nodes.length === 1 ? nodes[0]! : vscode.l10n.t('{0} nodes', nodes.length), baseName(candidate)),
      { modal: true },
      go,
    );
    if (pick !== go) return;
    this.busy = true;
    try {
      const referenceUri = vscode.Uri.file(reference);
      this.deps.log.info(`dashboard: re-quantizing ${reference} excluding ${excludeNodes.join(', ')}`);
      const quantized = await vscode.commands.executeCommand<Obj | undefined>('onnxQuantizer.quantizeModel', referenceUri, { ...options, excludeNodes, output: candidate, force: true });
      if (!quantized) return; // cancelled
      const compared = await vscode.commands.executeCommand<unknown>('onnxQuantizer.compareModels', referenceUri, { candidate, perLayer: true, show: false });
      if (!compared) return;
      // A comparison does not know how the candidate was made: carry the options over, so the
      // next exclusion adds to this one.
      const used = typeof quantized.effectiveOptions === 'object' && quantized.effectiveOptions !== null ? (quantized.effectiveOptions as Obj) : { ...options, excludeNodes };
      const made = { mode: quantized.mode, quantizedNodes: quantized.quantizedNodes, skippedNodes: quantized.skippedNodes, seconds: quantized.seconds, warnings: quantized.warnings };
      const reports = await resolveReports(compared, this.deps.log);
      this.addReports(reports.map((r) => ({ ...r, options: r.options ?? used, quantize: r.quantize ?? made })));
    } catch (err) {
      this.deps.log.error(`dashboard: re-quantize failed: ${firstLine(err)}`);
      void vscode.window.showErrorMessage(vscode.l10n.t('Re-quantize failed: {0}', firstLine(err)));
    } finally {
      this.busy = false;
    }
  }
}

/** The controller and the restore of a saved panel; dashboardGate.ts registers them at activation. */
export function createDashboard(context: vscode.ExtensionContext, deps: DashboardDeps): DashboardController & DashboardRestore {
  let current: DashboardPanel | undefined;
  const adopt = (panel: vscode.WebviewPanel): DashboardPanel => {
    const p = new DashboardPanel(panel, context, deps, (gone) => {
      if (current === gone) current = undefined;
    });
    current = p;
    return p;
  };

  const controller: DashboardController & DashboardRestore = {
    restore(panel, state) {
      const p = adopt(panel);
      const saved = typeof state === 'object' && state !== null ? (state as Obj).reports : undefined;
      p.setReports(reportsOf(saved ?? []));
    },
    async show(report, options = {}) {
      const reports = await resolveReports(report, deps.log);
      if (reports.length === 0) throw new Error('nothing to show: not a comparison report');
      if (current && !options.newPanel) {
        current.addReports(reports);
        current.panel.reveal(options.viewColumn);
        return current.panel;
      }
      const panel = vscode.window.createWebviewPanel(DASHBOARD_VIEW_TYPE, 'Quantization report', options.viewColumn ?? vscode.ViewColumn.Active, {
        enableScripts: true,
        localResourceRoots: webviewRoots(context.extensionUri),
      });
      adopt(panel).setReports(reports);
      return panel;
    },
  };
  return controller;
}
