/**
 * The comparison dashboard bundle (dist/dashboard.js), loaded the first time a dashboard is shown
 * or restored; dashboardGate.ts is what activation registers. The dashboards themselves are in
 * panels.ts: one WebviewPanel (viewType `onnxQuantizer.dashboard`) per float model, opened beside
 * the active editor, showing every run of the model side by side.
 *
 *   createDashboard(context, deps): DashboardController & DashboardRestore
 *   controller.show(report, options?): Promise<vscode.WebviewPanel>
 *     `report` is a QuantReport / CompareResult / CompareJobResult object (an array for several
 *     variants), a vscode.Uri or path string of a `*.quant-report.json`. The panel of the report's
 *     float model opens beside the active editor (or is revealed) and shows its run history,
 *     rebuilt from the report files beside the model. Wire `onnxQuantizer.openDashboard` and
 *     Services.showDashboard to it.
 *   controller.restore(panel, state): a panel the serializer restores after a restart.
 */
import * as vscode from 'vscode';
import { renderShell, webviewRoots } from '../editor/modelEditor';
import { Dashboards } from './panels';

export interface DashboardDeps {
  log: vscode.LogOutputChannel;
  /** Records layers kept float in the model's recipe, the one exclusion state the other views read. */
  keepFloat?(model: vscode.Uri, nodes: readonly string[]): Promise<void>;
}

export interface ShowDashboardOptions {
  viewColumn?: vscode.ViewColumn;
}

export interface DashboardController {
  show(report: unknown, options?: ShowDashboardOptions): Promise<vscode.WebviewPanel>;
}

/** A panel VS Code restores after a restart, with the state its webview saved. */
export interface DashboardRestore {
  restore(panel: vscode.WebviewPanel, state: unknown): void;
}

/** The controller and the restore of a saved panel; dashboardGate.ts registers them at activation. */
export function createDashboard(context: vscode.ExtensionContext, deps: DashboardDeps): DashboardController & DashboardRestore {
  const dashboards = new Dashboards({
    log: deps.log,
    ...(deps.keepFloat ? { keepFloat: deps.keepFloat } : {}),
    shell: (webview, title) => renderShell(webview, context.extensionUri, 'dashboard', title),
    roots: webviewRoots(context.extensionUri),
    icon: vscode.Uri.joinPath(context.extensionUri, 'media', 'dashboard.svg'),
  });
  return { show: (report, options) => dashboards.show(report, options), restore: (panel, state) => dashboards.restore(panel, state) };
}
