/**
 * The parts other engineers build, wired into activate(): model editor, dashboard, language
 * server (started on first need) and text view. Each starts in its own try/catch so one failing part leaves the rest.
 */
import * as vscode from 'vscode';
import type { Services } from './commands/targets';
import { registerDashboard } from './dashboard/dashboardGate';
import { registerModelEditor } from './editor/modelEditor';
import { registerGraphView } from './graph/graphPanel';
import { LanguageServer } from './languageServer';
import { registerTextView } from './textView/textView';

/** The other engineers' parts: editor, dashboard, language client, text view. */
export function wireParts(context: vscode.ExtensionContext, services: Services): void {
  const { log } = services;
  const part = (name: string, wire: () => void): void => {
    try {
      wire();
    } catch (e) {
      log.error(`${name} could not start: ${(e as Error).message}`);
    }
  };
  // Started on first need (a text view, a recipe, a model editor), not at activation.
  const server = new LanguageServer(context, log, services.index.onDidChangeFile);
  context.subscriptions.push(server);
  part('text view', () => registerTextView(context, { server, index: services.index, log, exclusions: services.exclusions }));
  // The editor shares the explorer's cached summaries: one worker job per model version.
  part('model editor', () =>
    registerModelEditor(context, {
      runSummary: (uri) => services.models.overview(uri),
      log,
      files: services.index,
      needsLanguageServer: (uri) => server.startQuietly(`model editor of ${uri.path.split('/').pop() ?? uri.path}`),
    }),
  );
  part('graph view', () => registerGraphView(services));
  part('dashboard', () => {
    const dashboard = registerDashboard(context, {
      log,
      keepFloat: async (model, nodes) => {
        for (const node of nodes) await services.exclusions.set(model, node, true);
      },
    });
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
