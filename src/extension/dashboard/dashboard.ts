/**
 * Comparison dashboard: editor-area WebviewPanels (viewType `onnxQuantizer.dashboard`), one per
 * float model, each showing every run of the model side by side; restored after a restart by a
 * WebviewPanelSerializer. The panels themselves (panels.ts) load on first need from
 * dist/dashboard.js, keeping them out of the activation bundle.
 *
 *   registerDashboard(context, deps): DashboardController
 *     Call once in activate(): registers the serializer (package.json lists the
 *     `onWebviewPanel:onnxQuantizer.dashboard` activation event) and pushes its disposables.
 *   controller.show(report, options?): Promise<vscode.WebviewPanel>
 *     `report` is a QuantReport / CompareResult / CompareJobResult object (an array for several
 *     variants), a vscode.Uri or path string of a `*.quant-report.json`. The panel of the report's
 *     float model opens beside the active editor (or is revealed) and shows its run history.
 *   showDashboard(context, report, deps, options?): the same for callers without the controller.
 */
import * as vscode from 'vscode';
import { renderShell, webviewRoots } from '../editor/modelEditor';
import type * as Panels from './panels';

export const DASHBOARD_VIEW_TYPE = 'onnxQuantizer.dashboard';

export interface DashboardDeps {
  log: vscode.LogOutputChannel;
}

export interface ShowDashboardOptions {
  viewColumn?: vscode.ViewColumn;
}

export interface DashboardController {
  show(report: unknown, options?: ShowDashboardOptions): Promise<vscode.WebviewPanel>;
}

let firstController: DashboardController | undefined;

export function registerDashboard(context: vscode.ExtensionContext, deps: DashboardDeps): DashboardController {
  let dashboards: Panels.Dashboards | undefined;
  const load = (): Panels.Dashboards => {
    if (!dashboards) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const panels = require(context.asAbsolutePath('dist/dashboard.js')) as typeof Panels;
      dashboards = new panels.Dashboards({
        log: deps.log,
        shell: (webview, title) => renderShell(webview, context.extensionUri, 'dashboard', title),
        roots: webviewRoots(context.extensionUri),
        icon: vscode.Uri.joinPath(context.extensionUri, 'media', 'dashboard.svg'),
      });
    }
    return dashboards;
  };
  context.subscriptions.push(
    vscode.window.registerWebviewPanelSerializer(DASHBOARD_VIEW_TYPE, {
      deserializeWebviewPanel(panel, state) {
        load().restore(panel, state);
        return Promise.resolve();
      },
    }),
  );
  const controller: DashboardController = { show: (report, options) => load().show(report, options) };
  firstController ??= controller;
  return controller;
}

export async function showDashboard(
  context: vscode.ExtensionContext,
  report: unknown,
  deps: DashboardDeps,
  options?: ShowDashboardOptions,
): Promise<vscode.WebviewPanel> {
  const controller = firstController ?? registerDashboard(context, deps);
  return controller.show(report, options);
}
