/**
 * The language client, bundled on its own (dist/languageClient.js) and loaded by languageServer.ts
 * the first time a text view, a recipe or a model editor needs the server: a session that only
 * browses the Models view never loads this bundle nor forks the server.
 *
 *   startLanguageClient(context, log, fileEvents): Promise<LanguageServerApi>
 *
 * - Documents served: text views (`onnx-text:` scheme) and recipes (`*.quant.json`, language json).
 * - File events reach the server through `fileEvents` (the host's one set of watchers, forwarded),
 *   not watchers of its own.
 * - Models open in the custom editor (or any tab showing a `.onnx`) are tracked, so their
 *   diagnostics stay in the Problems panel and reach the model editor's rows; closing the last
 *   tab untracks them.
 * - The server is told whether the workspace is trusted (initializationOptions, then
 *   WorkspaceTrustedNotification when the user grants it): until then it reads no recipe paths.
 * - Traces go to `log` per `onnxQuantizer.trace.server` (off | messages | verbose); the channel is
 *   never revealed automatically. The client stops with the extension (context.subscriptions).
 */
import * as vscode from 'vscode';
import { LanguageClient, RevealOutputChannelOn, TransportKind, type LanguageClientOptions, type ServerOptions } from 'vscode-languageclient/node';
import { DidChangeWatchedFilesNotification, FileChangeType } from 'vscode-languageserver-protocol';
import { TEXT_SCHEME } from '../shared/lsp/documents';
import { ModelChangedNotification, RenderTextRequest, TrackModelNotification, UntrackModelNotification, WorkspaceTrustedNotification, type ServerInitOptions } from '../shared/lsp/messages';
import type { FileEvent, LanguageServerApi } from './languageServer';

export const CLIENT_ID = 'onnxQuantizer';

const CHANGE_TYPE: Record<FileEvent['type'], FileChangeType> = {
  created: FileChangeType.Created,
  changed: FileChangeType.Changed,
  deleted: FileChangeType.Deleted,
};

export async function startLanguageClient(
  context: vscode.ExtensionContext,
  log: vscode.LogOutputChannel,
  fileEvents: vscode.Event<FileEvent>,
): Promise<LanguageServerApi> {
  const module = context.asAbsolutePath('dist/server.js');
  const serverOptions: ServerOptions = {
    run: { module, transport: TransportKind.ipc },
    debug: { module, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6019'] } },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: TEXT_SCHEME }, { scheme: 'file', language: 'json', pattern: '**/*.quant.json' }],
    outputChannel: log,
    traceOutputChannel: log,
    revealOutputChannelOn: RevealOutputChannelOn.Never,
    // The server reads no path a recipe names until the workspace is trusted.
    initializationOptions: { trusted: vscode.workspace.isTrusted } satisfies ServerInitOptions,
  };
  const client = new LanguageClient(CLIENT_ID, 'ONNX Quantizer Language Server', serverOptions, clientOptions);
  context.subscriptions.push({ dispose: () => void client.stop().catch(() => undefined) });
  await client.start();
  context.subscriptions.push(
    vscode.workspace.onDidGrantWorkspaceTrust(() => client.sendNotification(WorkspaceTrustedNotification, {}).catch((e: Error) => log.warn(`workspace trust: ${e.message}`))),
    trackOpenModels(client, log),
    fileEvents((e) => {
      const changes = [{ uri: e.uri.toString(), type: CHANGE_TYPE[e.type] }];
      client.sendNotification(DidChangeWatchedFilesNotification.type, { changes }).catch((err: Error) => log.warn(`file event ${e.uri.fsPath}: ${err.message}`));
    }),
  );
  return {
    renderText: (model, token) => client.sendRequest(RenderTextRequest, { uri: model.toString() }, token),
    onModelChanged: (listener) => client.onNotification(ModelChangedNotification, (p) => listener(vscode.Uri.parse(p.uri))),
  };
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
      if (!tracked.has(key)) client.sendNotification(TrackModelNotification, { uri: uri.toString() }).catch((e: Error) => log.warn(`track ${key}: ${e.message}`));
    }
    for (const [key, uri] of tracked) {
      if (!now.has(key)) client.sendNotification(UntrackModelNotification, { uri: uri.toString() }).catch((e: Error) => log.warn(`untrack ${key}: ${e.message}`));
    }
    tracked = now;
  };
  sync();
  return vscode.window.tabGroups.onDidChangeTabs(sync);
}
