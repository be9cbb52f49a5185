/**
 * What activation registers for the comparison dashboards: the panel serializer (package.json's
 * `onWebviewPanel:onnxQuantizer.dashboard`) and a controller. The dashboard itself (panel,
 * run history, exports) is the bundle dist/dashboard.js, loaded on the first show or restore.
 */
import * as vscode from 'vscode';
import type * as DashboardBundle from './dashboard';
import type { DashboardController, DashboardDeps, DashboardRestore } from './dashboard';

export const DASHBOARD_VIEW_TYPE = 'onnxQuantizer.dashboard';

export function registerDashboard(context: vscode.ExtensionContext, deps: DashboardDeps): DashboardController {
  let dashboard: (DashboardController & DashboardRestore) | undefined;
  const load = (): DashboardController & DashboardRestore => {
    if (!dashboard) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const bundle = require(context.asAbsolutePath('dist/dashboard.js')) as typeof DashboardBundle;
      dashboard = bundle.createDashboard(context, deps);
    }
    return dashboard;
  };
  const serializer: vscode.WebviewPanelSerializer<unknown> = {
    deserializeWebviewPanel: async (panel, state) => load().restore(panel, state),
  };
  context.subscriptions.push(vscode.window.registerWebviewPanelSerializer(DASHBOARD_VIEW_TYPE, serializer));
  return { show: (report, options) => load().show(report, options) };
}
