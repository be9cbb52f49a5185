/**
 * The language server, started on first need. Activation registers this gate only; the client
 * (its own bundle, dist/languageClient.js, with vscode-languageclient) is loaded and the server
 * process forked the first time something needs them:
 *   - a text view (`onnx-text:`) is opened or its content is asked for,
 *   - a recipe (`*.quant.json`) is opened in a text editor,
 *   - a model is shown in the model editor (its rows show the server's diagnostics).
 * Until then the host bundle carries no LSP code.
 */
import * as vscode from 'vscode';
import { TEXT_SCHEME } from '../shared/lsp/documents';
import type { RenderTextResult } from '../shared/lsp/messages';
import type * as ClientBundle from './languageClient';

/** A workspace file event, as the model index forwards it. */
export interface FileEvent {
  uri: vscode.Uri;
  type: 'created' | 'changed' | 'deleted';
}

/** What the host asks of the language server. */
export interface LanguageServerApi {
  renderText(model: vscode.Uri, token?: vscode.CancellationToken): Promise<RenderTextResult>;
  /** The server saw a model's file change (its rendering is stale). */
  onModelChanged(listener: (model: vscode.Uri) => void): vscode.Disposable;
}

/** Documents the server serves or needs to be running for. */
export function needsLanguageServer(uri: vscode.Uri): boolean {
  return uri.scheme === TEXT_SCHEME || (uri.scheme === 'file' && /\.quant\.json$/i.test(uri.path));
}

export class LanguageServer implements vscode.Disposable {
  private client: Promise<LanguageServerApi> | undefined;
  private readonly modelChanged = new vscode.EventEmitter<vscode.Uri>();
  /** Fires once the server runs, for models whose rendering changed. */
  readonly onModelChanged = this.modelChanged.event;
  private readonly disposables: vscode.Disposable[] = [this.modelChanged];

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
    private readonly fileEvents: vscode.Event<FileEvent>,
  ) {
    const onDocument = (d: vscode.TextDocument): void => {
      if (needsLanguageServer(d.uri)) this.startQuietly(`opened ${d.uri.toString(true)}`);
    };
    this.disposables.push(vscode.workspace.onDidOpenTextDocument(onDocument));
    vscode.workspace.textDocuments.forEach(onDocument);
  }

  /** Whether the client was asked to start (for logs and tests). */
  get started(): boolean {
    return this.client !== undefined;
  }

  /** The running client; the first call loads the client bundle and forks the server. */
  start(reason: string): Promise<LanguageServerApi> {
    if (this.client) return this.client;
    const client = this.load(reason);
    this.client = client;
    // A later need tries again.
    client.catch(() => {
      if (this.client === client) this.client = undefined;
    });
    return client;
  }

  /** start() for callers that do not wait: failures are logged. */
  startQuietly(reason: string): void {
    this.start(reason).catch(() => undefined);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }

  private async load(reason: string): Promise<LanguageServerApi> {
    const started = performance.now();
    this.log.info(`language server: starting (${reason})`);
    try {
      // Its own bundle, loaded at run time: keeps the LSP client out of the activation bundle.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const bundle = require(this.context.asAbsolutePath('dist/languageClient.js')) as typeof ClientBundle;
      const api = await bundle.startLanguageClient(this.context, this.log, this.fileEvents);
      this.disposables.push(api.onModelChanged((uri) => this.modelChanged.fire(uri)));
      this.log.info(`language server: running after ${(performance.now() - started).toFixed(0)} ms`);
      return api;
    } catch (e) {
      this.log.error(`language server could not start: ${(e as Error).message}`);
      throw e;
    }
  }
}
