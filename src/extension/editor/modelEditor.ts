/**
 * Read-only custom editor for *.onnx (viewType `onnxQuantizer.modelEditor`).
 *
 * For the extension-host engineer:
 *
 *   registerModelEditor(context: vscode.ExtensionContext, deps: ModelEditorDeps): vscode.Disposable
 *
 *   deps.runSummary(uri, token?) → Promise<summary>: the model summary computed OFF the extension
 *     host thread (route it to the worker). Any of these shapes works: summarizeModel's result /
 *     `inspect --json` (opCounts, layers[{node, opType, modes, weightBytes, notes}]), the worker's
 *     ModelOverview (operators[]); an optional `nodes: [{name, opType}]` lists every graph node.
 *   deps.log: the extension's LogOutputChannel (malformed webview messages and failures go there).
 *
 * The returned disposable is also pushed to context.subscriptions. Buttons in the editor run
 * `onnxQuantizer.quantizeModel` / `benchmarkModel` / `compareModels` / `showAsText` / `openGraph` with the model
 * uri as the only argument (a row's "Graph" action runs `openGraph` with the row's node key too); in Restricted Mode the first three are disabled (the host sends
 * `{type: 'trust'}` when the webview is ready and when trust is granted). The webview gets the summary and pages of rows, never the bytes;
 * language-server diagnostics for the uri are shown on the rows of the nodes they name.
 */
import * as vscode from 'vscode';
import {
  isEditorToHostMessage,
  type EditorCommand,
  type EditorToHostMessage,
  type HostToEditorMessage,
  type RowDiagnosticDto,
} from '../../shared/webviewMessages';
import { toEditorModel, type EditorModel } from './summaryAdapter';
import { LayerTable } from './layerTable';
import { diagnosticsByNode, type DiagnosticLike } from './diagnosticMatch';
import { makeNonce, webviewHtml } from './webviewHtml';
import type { FileEvent } from '../languageServer';
import { OPEN_GRAPH_COMMAND } from '../../shared/lsp/documents';
import { textViewUri } from '../textView/textView';

export const MODEL_EDITOR_VIEW_TYPE = 'onnxQuantizer.modelEditor';

export interface ModelEditorDeps {
  runSummary(uri: vscode.Uri, token?: vscode.CancellationToken): Promise<unknown>;
  log: vscode.LogOutputChannel;
  /** File events (the model index's): a change of the model reloads the editor. */
  files: { onDidChangeFile: vscode.Event<FileEvent>; watchFile(uri: vscode.Uri): vscode.Disposable };
  /** Called when a model opens: its rows show the language server's diagnostics. */
  needsLanguageServer(uri: vscode.Uri): void;
}

const COMMAND_IDS: Record<EditorCommand, string> = {
  quantize: 'onnxQuantizer.quantizeModel',
  benchmark: 'onnxQuantizer.benchmarkModel',
  compare: 'onnxQuantizer.compareModels',
  showAsText: 'onnxQuantizer.showAsText',
  openGraph: OPEN_GRAPH_COMMAND,
};

const SEVERITY: Record<vscode.DiagnosticSeverity, RowDiagnosticDto['severity']> = {
  [vscode.DiagnosticSeverity.Error]: 'error',
  [vscode.DiagnosticSeverity.Warning]: 'warning',
  [vscode.DiagnosticSeverity.Information]: 'info',
  [vscode.DiagnosticSeverity.Hint]: 'hint',
};

const fileName = (uri: vscode.Uri): string => uri.path.split('/').pop() ?? uri.path;
const firstLine = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 500);

/** Webview resources: only these two folders may be loaded. */
export function webviewRoots(extensionUri: vscode.Uri): vscode.Uri[] {
  return [vscode.Uri.joinPath(extensionUri, 'dist', 'webview'), vscode.Uri.joinPath(extensionUri, 'media')];
}

export function renderShell(webview: vscode.Webview, extensionUri: vscode.Uri, entry: 'editor' | 'dashboard' | 'graph', title: string): string {
  const uri = (...p: string[]): string => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, ...p)).toString();
  return webviewHtml({
    cspSource: webview.cspSource,
    nonce: makeNonce(),
    scriptUri: uri('dist', 'webview', `${entry}.js`),
    styleUris: [uri('media', 'common.css'), uri('media', `${entry}.css`)],
    title,
    l10n: vscode.l10n.bundle,
  });
}

/** One open model: its summary (loaded once, shared by every panel showing it) and its rows. */
class ModelDocument implements vscode.CustomDocument {
  private loading: Promise<EditorModel> | undefined;
  private cancel = new vscode.CancellationTokenSource();
  table: LayerTable | undefined;
  private nodeNames = new Set<string>();
  private readonly changed = new vscode.EventEmitter<'summary' | 'rows'>();
  readonly onDidChange = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [this.changed];
  /** The language server publishes a model's findings once, on its text view. */
  private readonly diagnosticsUri: vscode.Uri;

  constructor(
    readonly uri: vscode.Uri,
    private readonly deps: ModelEditorDeps,
  ) {
    this.diagnosticsUri = textViewUri(uri);
    this.disposables.push(
      vscode.languages.onDidChangeDiagnostics((e) => {
        if (this.table && e.uris.some((u) => u.toString() === this.diagnosticsUri.toString())) this.applyDiagnostics();
      }),
    );
    if (uri.scheme === 'file') {
      // Debounced: a rewrite fires several events, and the summary cache (the explorer's) must
      // see the change before we ask it again.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const changed = (): void => {
        clearTimeout(timer);
        timer = setTimeout(() => this.reload(), 300);
      };
      this.disposables.push(
        deps.files.watchFile(uri),
        deps.files.onDidChangeFile((e) => {
          if (e.type !== 'deleted' && e.uri.toString() === uri.toString()) changed();
        }),
        { dispose: () => clearTimeout(timer) },
      );
    }
  }

  load(): Promise<EditorModel> {
    if (!this.loading) {
      const started = Date.now();
      const token = this.cancel.token;
      this.loading = this.deps.runSummary(this.uri, token).then((summary) => {
        const model = toEditorModel(summary, fileName(this.uri));
        this.table = new LayerTable(model.rows);
        this.nodeNames = new Set(model.rows.map((r) => r.node));
        this.applyDiagnostics();
        this.deps.log.info(`model editor: ${fileName(this.uri)} summarised in ${Date.now() - started} ms (${model.rows.length} rows)`);
        return model;
      });
      this.loading.catch((err: unknown) => this.deps.log.error(`model editor: cannot summarise ${this.uri.fsPath}: ${firstLine(err)}`));
    }
    return this.loading;
  }

  reload(): void {
    this.cancel.cancel();
    this.cancel.dispose();
    this.cancel = new vscode.CancellationTokenSource();
    this.loading = undefined;
    this.table = undefined;
    this.changed.fire('summary');
  }

  private applyDiagnostics(): void {
    const diagnostics: DiagnosticLike[] = vscode.languages.getDiagnostics(this.diagnosticsUri).map((d) => ({
      message: d.message,
      severity: SEVERITY[d.severity] ?? 'info',
      data: (d as { data?: unknown }).data,
    }));
    if (this.table?.setDiagnostics(diagnosticsByNode(diagnostics, this.nodeNames))) this.changed.fire('rows');
  }

  dispose(): void {
    this.cancel.cancel();
    this.cancel.dispose();
    for (const d of this.disposables) d.dispose();
  }
}

/** Wires one webview panel to its document. */
function attachPanel(document: ModelDocument, panel: vscode.WebviewPanel, context: vscode.ExtensionContext, deps: ModelEditorDeps): void {
  const webview = panel.webview;
  webview.options = { enableScripts: true, localResourceRoots: webviewRoots(context.extensionUri) };
  webview.html = renderShell(webview, context.extensionUri, 'editor', fileName(document.uri));
  const post = (m: HostToEditorMessage): void => void webview.postMessage(m);

  const sendSummary = async (): Promise<void> => {
    post({ v: 1, type: 'loading', fileName: fileName(document.uri) });
    try {
      const model = await document.load();
      post({ v: 1, type: 'summary', card: model.card, ops: model.ops, rowCount: model.rows.length });
    } catch (err) {
      post({ v: 1, type: 'summaryError', message: vscode.l10n.t('Cannot read this model: {0}', firstLine(err)) });
    }
  };

  const onMessage = (m: EditorToHostMessage): void => {
    switch (m.type) {
      case 'ready':
        post({ v: 1, type: 'trust', trusted: vscode.workspace.isTrusted });
        void sendSummary();
        return;
      case 'retry':
        document.reload();
        return;
      case 'requestRows': {
        const table = document.table;
        if (!table) return;
        const page = table.page(m.offset, m.limit, m.query);
        post({ v: 1, type: 'rows', requestId: m.requestId, ...page });
        return;
      }
      case 'runCommand':
        // Disabled buttons cannot post this; the commands check trust again themselves.
        void vscode.commands.executeCommand(COMMAND_IDS[m.command], document.uri).then(undefined, (err: unknown) => {
          deps.log.error(`model editor: ${COMMAND_IDS[m.command]} failed: ${firstLine(err)}`);
        });
        return;
      case 'showInGraph':
        void vscode.commands.executeCommand(COMMAND_IDS.openGraph, document.uri, m.node).then(undefined, (err: unknown) => {
          deps.log.error(`model editor: Show in Graph failed: ${firstLine(err)}`);
        });
        return;
    }
  };

  const subscriptions = [
    webview.onDidReceiveMessage((raw: unknown) => {
      if (isEditorToHostMessage(raw)) onMessage(raw);
      else deps.log.warn(`model editor: ignored malformed webview message ${JSON.stringify(raw)?.slice(0, 200)}`);
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => post({ v: 1, type: 'trust', trusted: true })),
    document.onDidChange((what) => {
      if (what === 'summary') void sendSummary();
      else post({ v: 1, type: 'rowsChanged' });
    }),
  ];
  panel.onDidDispose(() => subscriptions.forEach((s) => s.dispose()));
}

class ModelEditorProvider implements vscode.CustomReadonlyEditorProvider<ModelDocument> {
  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly deps: ModelEditorDeps,
  ) {}

  openCustomDocument(uri: vscode.Uri): ModelDocument {
    const document = new ModelDocument(uri, this.deps);
    this.deps.needsLanguageServer(uri);
    void document.load().catch(() => undefined); // start the worker while the webview loads
    return document;
  }

  resolveCustomEditor(document: ModelDocument, panel: vscode.WebviewPanel): void {
    attachPanel(document, panel, this.context, this.deps);
  }
}

export function registerModelEditor(context: vscode.ExtensionContext, deps: ModelEditorDeps): vscode.Disposable {
  const registration = vscode.window.registerCustomEditorProvider(MODEL_EDITOR_VIEW_TYPE, new ModelEditorProvider(context, deps), {
    supportsMultipleEditorsPerDocument: true,
  });
  context.subscriptions.push(registration);
  return registration;
}
