/**
 * Starts the language server (dist/server.js, IPC) and keeps it informed about which models are
 * on screen.
 *
 *   startLanguageClient(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): Promise<LanguageClient>
 *
 * - Documents served: text views (`onnx-text:` scheme) and recipes (`*.quant.json`, language json).
 * - File events sent to the server: `*.onnx`, `*.quant-report.json`, `*.quant.json`, `*.npy`.
 * - Models open in the custom editor (or any tab showing a `.onnx`) are tracked, so their
 *   diagnostics stay in the Problems panel and reach the model editor's rows; closing the last
 *   tab untracks them.
 * - Traces go to `log` per `onnxQuantizer.trace.server` (off | messages | verbose); the channel is
 *   never revealed automatically. The client stops with the extension (context.subscriptions).
 */
import * as vscode from 'vscode';
import { LanguageClient, RevealOutputChannelOn, TransportKind, type LanguageClientOptions, type ServerOptions } from 'vscode-languageclient/node';
import { TEXT_SCHEME, TrackModelNotification, UntrackModelNotification } from '../server/protocol';

export const CLIENT_ID = 'onnxQuantizer';

export async function startLanguageClient(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): Promise<LanguageClient> {
  const module = context.asAbsolutePath('dist/server.js');
  const serverOptions: ServerOptions = {
    run: { module, transport: TransportKind.ipc },
    debug: { module, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6019'] } },
  };
  const watchers = ['**/*.onnx', '**/*.quant-report.json', '**/*.quant.json', '**/*.npy'].map((glob) => vscode.workspace.createFileSystemWatcher(glob));
  context.subscriptions.push(...watchers);
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: TEXT_SCHEME }, { scheme: 'file', language: 'json', pattern: '**/*.quant.json' }],
    synchronize: { fileEvents: watchers },
    outputChannel: log,
    traceOutputChannel: log,
    revealOutputChannelOn: RevealOutputChannelOn.Never,
  };
  const client = new LanguageClient(CLIENT_ID, 'ONNX Quantizer Language Server', serverOptions, clientOptions);
  context.subscriptions.push({ dispose: () => void client.stop().catch(() => undefined) });
  await client.start();
  context.subscriptions.push(trackOpenModels(client, log));
  return client;
}

/** `.onnx` files shown in any tab (custom editor included). */
function modelsInTabs(): Map<string, vscode.Uri> {
  const out = new Map<string, vscode.Uri>();
  for (const group of vscode.window.tabGroups.all) {
    for (const tab of group.tabs) {
      const input = tab.input;
      const uri = input instanceof vscode.TabInputCustom || input instanceof vscode.TabInputText ? input.uri : undefined;
      if (uri && uri.scheme === 'file' && /\.onnx$/i.test(uri.path)) out.set(uri.toString(), uri);
    }
  }
  return out;
}

/** Tell the server which models are open so it publishes (and later clears) their diagnostics. */
function trackOpenModels(client: LanguageClient, log: vscode.LogOutputChannel): vscode.Disposable {
  let tracked = new Map<string, vscode.Uri>();
  const sync = (): void => {
    const now = modelsInTabs();
    for (const [key, uri] of now) {
      if (!tracked.has(key)) void client.sendNotification(TrackModelNotification, { uri: uri.toString() }).catch((e: Error) => log.warn(`track ${key}: ${e.message}`));
    }
    for (const [key, uri] of tracked) {
      if (!now.has(key)) void client.sendNotification(UntrackModelNotification, { uri: uri.toString() }).catch((e: Error) => log.warn(`untrack ${key}: ${e.message}`));
    }
    tracked = now;
  };
  sync();
  return vscode.window.tabGroups.onDidChangeTabs(sync);
}
