/**
 * The graph view: command `onnxQuantizer.openGraph` (arg: model Uri or explorer node; default:
 * the active model; a URI string too; optional second arg: a node key to select, for jumps from other views) opens
 * one webview panel per model. The worker builds and lays out the graph
 * (`graph` job); the host only passes the result on, with the model's exclusions, and runs the
 * webview's actions: copy a name, show the model as text, exclude a node from quantization
 * (the one exclusion state the Models view and Quantize… use). A quantized model's float model (or a
 * float model's quantized variant), found by the worker, opens beside it; selecting a node in one
 * selects its pair in the other.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { oneLine } from '../../core/errors';
import { processAlive } from '../../core/util/outputLock';
import { isGraphToHostMessage, type GraphAction, type GraphToHostMessage, type HostToGraphMessage } from '../../shared/graphMessages';
import { activeModel, uriOf, type Services } from '../commands/targets';
import { renderShell, webviewRoots } from '../editor/modelEditor';
import { OPEN_GRAPH_COMMAND } from '../../shared/lsp/documents';

const VIEW_TYPE = 'onnxQuantizer.graph';

const fileName = (uri: vscode.Uri): string => uri.path.split('/').pop() ?? uri.path;

export function registerGraphView(services: Services): vscode.Disposable {
  const panels = new Map<string, vscode.WebviewPanel>();
  const open = (arg?: unknown, node?: unknown, column = vscode.ViewColumn.Active): vscode.WebviewPanel | undefined => {
    // A string is a URI (command links from diagnostics carry their arguments as JSON).
    const model = (typeof arg === 'string' && arg ? vscode.Uri.parse(arg) : uriOf(arg)) ?? activeModel();
    if (!model) {
      void vscode.window.showInformationMessage(vscode.l10n.t('Open or select an .onnx model to see its graph.'));
      return undefined;
    }
    const reveal = typeof node === 'string' && node ? node : undefined;
    const existing = panels.get(model.toString());
    if (existing) {
      // Beside: moved next to the active one (both stay visible), keeping the focus where it is.
      if (column === vscode.ViewColumn.Beside) existing.reveal(column, true);
      else existing.reveal();
      if (reveal) void existing.webview.postMessage({ v: 1, type: 'reveal', node: reveal } satisfies HostToGraphMessage);
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(VIEW_TYPE, vscode.l10n.t('Graph: {0}', fileName(model)), column, {
      enableScripts: true,
      retainContextWhenHidden: true,
      localResourceRoots: [...webviewRoots(services.context.extensionUri), graphFilesDir(services)],
    });
    panels.set(model.toString(), panel);
    // The model beside: opened next to this one; a selection here selects the same node there.
    const peer = {
      open: (file: string) => open(vscode.Uri.file(file), undefined, vscode.ViewColumn.Beside),
      select: (file: string, key: string) => void panels.get(vscode.Uri.file(file).toString())?.webview.postMessage({ v: 1, type: 'reveal', node: key } satisfies HostToGraphMessage),
    };
    attach(panel, model, services, reveal, peer);
    panel.onDidDispose(() => panels.delete(model.toString()));
    return panel;
  };
  const disposable = vscode.commands.registerCommand(OPEN_GRAPH_COMMAND, (arg?: unknown, node?: unknown) => {
    open(arg, node);
  });
  services.context.subscriptions.push(disposable);
  return disposable;
}

interface PeerPanels {
  open(file: string): void;
  select(file: string, key: string): void;
}

function attach(panel: vscode.WebviewPanel, model: vscode.Uri, services: Services, reveal: string | undefined, peers: PeerPanels): void {
  const { log, runner, exclusions } = services;
  const webview = panel.webview;
  webview.html = renderShell(webview, services.context.extensionUri, 'graph', fileName(model));
  const post = (m: HostToGraphMessage): void => void webview.postMessage(m);
  let layout: { expanded: string[]; collapsed: boolean; units: string[] } = { expanded: [], collapsed: false, units: [] };
  let cancel: AbortController | undefined;
  /** The model beside, as the worker found it (never a path from the webview). */
  let peer = '';

  // One graph file per panel at a time: the one before is deleted when the next is written.
  const files: string[] = [];
  const nextGraphFile = (): string => {
    const dir = graphFilesDir(services).fsPath;
    fs.mkdirSync(dir, { recursive: true });
    sweepDeadGraphFiles(dir);
    for (const f of files.splice(0)) fs.rmSync(f, { force: true });
    const file = path.join(dir, `graph-${process.pid}-${++graphFileCount}.json`);
    files.push(file);
    return file;
  };

  const send = async (): Promise<void> => {
    cancel?.abort();
    const controller = (cancel = new AbortController());
    post({ v: 1, type: 'loading', fileName: fileName(model) });
    const started = Date.now();
    try {
      // The worker writes the graph to a file the webview fetches: the host never parses or re-sends it.
      const writeTo = nextGraphFile();
      const result = await runner.run({ kind: 'graph', model: model.fsPath, ...layout, writeTo }, { signal: controller.signal, timeoutMs: 300_000 });
      if (controller.signal.aborted || !('file' in result)) return;
      log.info(`graph: ${fileName(model)} ${result.nodes} nodes laid out by ${result.layoutEngine} in ${result.layoutMs.toFixed(0)} ms (${Date.now() - started} ms with loading)`);
      peer = result.peerFile;
      post({ v: 1, type: 'graphFile', uri: webview.asWebviewUri(vscode.Uri.file(result.file)).toString(), excluded: exclusions.get(model) });
      if (reveal) post({ v: 1, type: 'reveal', node: reveal });
      reveal = undefined;
    } catch (err) {
      if (controller.signal.aborted) return;
      log.error(`graph: cannot lay out ${model.fsPath}: ${oneLine(err)}`);
      post({ v: 1, type: 'error', message: vscode.l10n.t('Cannot show the graph of this model: {0}', oneLine(err)) });
    }
  };

  const act = async (action: GraphAction, target: string): Promise<void> => {
    switch (action) {
      case 'copyName':
        await vscode.env.clipboard.writeText(target);
        return;
      case 'showInText':
        await vscode.commands.executeCommand('onnxQuantizer.showAsText', model);
        return;
      case 'exclude':
        await exclusions.set(model, target, true);
        void vscode.window.showInformationMessage(vscode.l10n.t('{0} will stay float in the next quantization of {1}.', target, fileName(model)));
        return;
    }
  };

  const onMessage = (m: GraphToHostMessage): void => {
    switch (m.type) {
      case 'ready':
        void send();
        return;
      case 'relayout':
        layout = { expanded: m.expanded, collapsed: m.collapsed, units: m.units };
        void send();
        return;
      case 'action':
        act(m.action, m.target).then(undefined, (err: unknown) => log.error(`graph: ${m.action} failed: ${oneLine(err)}`));
        return;
      case 'selected':
        if (peer && m.pair) peers.select(peer, m.pair);
        return;
      case 'openPeer':
        if (peer) peers.open(peer);
        return;
    }
  };
  const subscriptions = [
    webview.onDidReceiveMessage((raw: unknown) => {
      if (isGraphToHostMessage(raw)) onMessage(raw);
      else log.warn(`graph: ignored malformed webview message ${JSON.stringify(raw)?.slice(0, 200)}`);
    }),
  ];
  panel.onDidDispose(() => {
    cancel?.abort();
    for (const f of files.splice(0)) fs.rmSync(f, { force: true });
    subscriptions.forEach((s) => s.dispose());
  });
}

let graphFileCount = 0;
let swept = false;

/** Once a session: graph files left by extension hosts that died before closing their panels. */
function sweepDeadGraphFiles(dir: string): void {
  if (swept) return;
  swept = true;
  for (const name of fs.readdirSync(dir)) {
    const pid = Number(/^graph-(\d+)-\d+\.json$/.exec(name)?.[1]);
    if (pid && pid !== process.pid && !processAlive(pid)) fs.rmSync(path.join(dir, name), { force: true });
  }
}

/** Where the worker writes graphs for the webviews to fetch (a local resource root of every graph panel). */
function graphFilesDir(services: Services): vscode.Uri {
  return vscode.Uri.joinPath(services.context.globalStorageUri, 'graphs');
}
