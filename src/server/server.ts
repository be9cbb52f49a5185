/**
 * The ONNX Quantizer language server (bundled to dist/server.js; started by
 * src/extension/languageClient.ts over IPC, or with `--stdio` by tests and other editors).
 *
 * - Text views (`onnx-text:/path/model.onnx.txt`): renders the model on request
 *   (RenderTextRequest), then serves hovers, definitions, references, symbols and code lenses
 *   from the rendering's line map, and code actions that edit the model's recipe.
 * - Diagnostics per model (layer rules, risks, per-layer report), published for the text view
 *   and for the `.onnx` file itself; a model that cannot be read gets exactly one Error.
 * - Recipes (`*.quant.json`, language json): semantic checks and completion. The paths a recipe
 *   names are read only when the client said the workspace is trusted (initializationOptions
 *   `trusted`, then WorkspaceTrustedNotification), and only regular files inside the workspace
 *   folders (core/text/recipePaths): others get an Error on that path and are never opened.
 * Every handler catches its own failures: a bad file never takes the server down.
 */
import * as path from 'node:path';
import {
  CodeActionKind,
  CodeLensRefreshRequest,
  DidChangeConfigurationNotification,
  FileChangeType,
  ProposedFeatures,
  TextDocuments,
  TextDocumentSyncKind,
  createConnection,
  type CodeAction,
  type Diagnostic,
  type InitializeResult,
  type WorkspaceFolder,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { oneLine } from '../core/errors';
import { modelDiagnostics } from './diagnostics';
import { ModelStore } from './models';
import { isReportFile } from '../core/report/locate';
import { codeLenses, definition, documentSymbols, hover, references } from './navigation';
import { DEFAULT_DIAGNOSTICS_SETTINGS, OPEN_GRAPH_COMMAND, type DiagnosticsSettings, type NodeDiagnosticData } from '../shared/lsp/documents';
import {
  ModelChangedNotification,
  RenderTextRequest,
  TrackModelNotification,
  UntrackModelNotification,
  WorkspaceTrustedNotification,
  type RenderTextResult,
  type ServerInitOptions,
} from '../shared/lsp/messages';
import { isRecipeUri, modelRecipe, recipeCompletions, recipeDiagnostics, recipeModelPath, type RecipeAccess } from './recipes';
import { layerActions, layerLenses } from './layerFixes';
import { QUANT_MODES, type QuantMode } from '../core/quantize/types';
import { fileUri, filePathOf, modelPathOf, textViewUri } from './uris';
import { recipePathFor } from '../core/text/recipe';

const connection = createConnection(ProposedFeatures.all);
const documents = new TextDocuments(TextDocument);
const store = new ModelStore();
let settings: DiagnosticsSettings = { ...DEFAULT_DIAGNOSTICS_SETTINGS };
/** `onnxQuantizer.quantize.mode`: the mode of a model without a recipe (diagnostics fit it). */
let settingsMode: QuantMode = 'dynamic';
let canReadConfiguration = false;
let hearsFolderChanges = false;
/** Paths named in recipes are read only once the client says the workspace is trusted, and only inside its folders. */
const access: RecipeAccess = { trusted: false, roots: [] };

function folderPaths(folders: readonly WorkspaceFolder[] | null | undefined): string[] {
  return (folders ?? []).map((f) => filePathOf(f.uri)).filter((p): p is string => p !== undefined);
}

/** Why each model is of interest: open text views, custom editors (tracked), open recipes naming it. */
const interest = new Map<string, Set<string>>();

function log(msg: string): void {
  connection.console.log(msg);
}

/** Run a handler; log and return the fallback on any failure (never let one file kill the server). */
function guard<T>(what: string, fallback: T, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    connection.console.error(`${what}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return fallback;
  }
}

connection.onInitialize((params): InitializeResult => {
  canReadConfiguration = !!params.capabilities.workspace?.configuration;
  hearsFolderChanges = !!params.capabilities.workspace?.workspaceFolders;
  access.trusted = (params.initializationOptions as ServerInitOptions | undefined)?.trusted === true;
  access.roots = params.workspaceFolders ? folderPaths(params.workspaceFolders) : params.rootUri ? folderPaths([{ uri: params.rootUri, name: '' }]) : [];
  return {
    capabilities: {
      workspace: { workspaceFolders: { supported: true, changeNotifications: true } },
      textDocumentSync: TextDocumentSyncKind.Incremental,
      hoverProvider: true,
      definitionProvider: true,
      referencesProvider: true,
      documentSymbolProvider: true,
      codeLensProvider: { resolveProvider: false },
      completionProvider: { triggerCharacters: ['"'] },
      codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] },
    },
    serverInfo: { name: 'onnx-quantizer-server' },
  };
});

connection.onInitialized(() => {
  if (hearsFolderChanges) {
    connection.workspace.onDidChangeWorkspaceFolders((event) => {
      const removed = new Set(folderPaths(event.removed));
      access.roots = [...access.roots.filter((r) => !removed.has(r)), ...folderPaths(event.added)];
      publishRecipes();
    });
  }
  if (canReadConfiguration) {
    void connection.client.register(DidChangeConfigurationNotification.type, { section: 'onnxQuantizer' }).catch(() => undefined);
    void refreshSettings();
  }
});

async function refreshSettings(): Promise<void> {
  if (!canReadConfiguration) return;
  try {
    const value = (await connection.workspace.getConfiguration('onnxQuantizer.diagnostics')) as Partial<DiagnosticsSettings> | null;
    settings = { ...DEFAULT_DIAGNOSTICS_SETTINGS, ...(value ?? {}) };
  } catch {
    settings = { ...DEFAULT_DIAGNOSTICS_SETTINGS };
  }
  try {
    const mode = ((await connection.workspace.getConfiguration('onnxQuantizer.quantize')) as { mode?: unknown } | null)?.mode;
    settingsMode = QUANT_MODES.find((m) => m === mode) ?? 'dynamic';
  } catch {
    settingsMode = 'dynamic';
  }
  for (const p of interest.keys()) publishModel(p);
  publishRecipes();
}

connection.onDidChangeConfiguration(() => void refreshSettings());

function publishRecipes(): void {
  for (const doc of documents.all()) if (isRecipeUri(doc.uri)) publishRecipe(doc);
}

connection.onNotification(WorkspaceTrustedNotification, () => {
  access.trusted = true;
  publishRecipes();
});

function addInterest(modelPath: string, reason: string): void {
  let set = interest.get(modelPath);
  if (!set) interest.set(modelPath, (set = new Set()));
  set.add(reason);
}

function dropInterest(modelPath: string, reason: string): void {
  const set = interest.get(modelPath);
  if (!set) return;
  set.delete(reason);
  if (set.size === 0) {
    interest.delete(modelPath);
    clearModel(modelPath);
    store.forget(modelPath);
  }
}

/** URIs of the open text views of a model, as the client spelled them. */
function openViews(modelPath: string): string[] {
  return [...(interest.get(modelPath) ?? [])].filter((r) => r.startsWith('text:')).map((r) => r.slice('text:'.length));
}

/** The URIs each model's diagnostics went to last (cleared when they move or the model goes). */
const published = new Map<string, Set<string>>();

/**
 * Publish a model's diagnostics once: on its open text view, else on the text view it would open
 * (a Problems entry then opens the view at its line). Never on the binary `.onnx` as well, which
 * listed every finding twice, at lines a binary has not. The model editor reads them from there too.
 */
function publishModel(modelPath: string): void {
  guard(`diagnostics for ${modelPath}`, undefined, () => {
    const state = store.get(modelPath);
    const diagnostics: Diagnostic[] = modelDiagnostics(state, settings, recipeOfModel(modelPath)?.mode ?? settingsMode);
    const views = openViews(modelPath);
    const targets = new Set(views.length ? views : [textViewUri(modelPath)]);
    // Stale places first: a view's spelling may name the same document as the computed URI.
    for (const uri of published.get(modelPath) ?? []) if (!targets.has(uri)) void connection.sendDiagnostics({ uri, diagnostics: [] });
    for (const uri of targets) void connection.sendDiagnostics({ uri, diagnostics });
    published.set(modelPath, targets);
  });
}

function clearModel(modelPath: string): void {
  for (const uri of published.get(modelPath) ?? []) void connection.sendDiagnostics({ uri, diagnostics: [] });
  published.delete(modelPath);
}

function publishRecipe(doc: TextDocument): void {
  const recipePath = filePathOf(doc.uri);
  if (!recipePath) return;
  const diagnostics = guard(`recipe ${doc.uri}`, [] as Diagnostic[], () => recipeDiagnostics(doc, recipePath, store, access));
  void connection.sendDiagnostics({ uri: doc.uri, diagnostics });
}

/** Recipes open in editors that name this model (they re-check when it changes). */
function recipesFor(modelPath: string): TextDocument[] {
  return documents.all().filter((d) => {
    const p = isRecipeUri(d.uri) ? filePathOf(d.uri) : undefined;
    return p !== undefined && recipeModelPath(d.getText(), p) === modelPath;
  });
}

documents.onDidOpen(({ document }) => {
  const modelPath = modelPathOf(document.uri);
  if (modelPath && !document.uri.startsWith('file:')) {
    addInterest(modelPath, `text:${document.uri}`);
    publishModel(modelPath);
  } else if (isRecipeUri(document.uri)) {
    publishRecipe(document);
  }
});

/** A recipe changed: its model's diagnostics follow the recipe's mode. */
function publishModelOfRecipe(recipeUri: string): void {
  const recipePath = filePathOf(recipeUri);
  const modelPath = recipePath?.replace(/\.quant\.json$/i, '.onnx');
  if (modelPath && modelPath !== recipePath && interest.has(modelPath)) publishModel(modelPath);
}

documents.onDidChangeContent(({ document }) => {
  if (isRecipeUri(document.uri)) {
    publishModelOfRecipe(document.uri);
    return publishRecipe(document);
  }
  // A text view whose content the client refreshed: its model changed on disk (maybe outside the workspace watchers).
  const modelPath = modelPathOf(document.uri);
  if (modelPath && !document.uri.startsWith('file:') && document.version > 1) publishModel(modelPath);
});

documents.onDidClose(({ document }) => {
  const modelPath = modelPathOf(document.uri);
  if (modelPath && !document.uri.startsWith('file:')) {
    dropInterest(modelPath, `text:${document.uri}`);
    // Still of interest (a model editor): the findings stay, on the text view it would reopen.
    if (interest.has(modelPath)) publishModel(modelPath);
  } else if (isRecipeUri(document.uri)) {
    void connection.sendDiagnostics({ uri: document.uri, diagnostics: [] });
  }
});

connection.onNotification(TrackModelNotification, (p) => {
  const modelPath = modelPathOf(p.uri);
  if (!modelPath) return;
  addInterest(modelPath, 'tracked');
  publishModel(modelPath);
});

connection.onNotification(UntrackModelNotification, (p) => {
  const modelPath = modelPathOf(p.uri);
  if (modelPath) dropInterest(modelPath, 'tracked');
});

connection.onRequest(RenderTextRequest, (p): RenderTextResult => {
  const modelPath = modelPathOf(p.uri);
  if (!modelPath) return { text: `# not an ONNX model: ${p.uri}\n`, error: 'not an ONNX model' };
  return guard('render', { text: '# internal error, see the ONNX Quant log\n', error: 'internal error' }, () => {
    const state = store.get(modelPath);
    if (state.error || !state.rendered) {
      const error = state.error ?? 'model could not be read';
      return { text: `# ${path.basename(modelPath)}: ${error}\n`, error };
    }
    return { text: state.rendered.text };
  });
});

connection.onDidChangeWatchedFiles(({ changes }) => {
  for (const change of changes) {
    guard('file change', undefined, () => {
      const file = filePathOf(change.uri);
      if (!file) return;
      if (isReportFile(file)) {
        // A report is about its reference, which may be any model of its folder (core/report/locate).
        for (const modelPath of interest.keys()) {
          if (path.dirname(modelPath) !== path.dirname(file)) continue;
          publishModel(modelPath);
          void connection.sendNotification(ModelChangedNotification, { uri: fileUri(modelPath) });
        }
        log(`comparison report ${change.type === FileChangeType.Deleted ? 'removed' : 'changed'}: ${file}`);
        return;
      }
      const modelPath = modelPathOf(change.uri);
      if (modelPath) {
        const interested = interest.has(modelPath);
        if (change.type === FileChangeType.Deleted && modelPath === file) {
          store.forget(modelPath);
          clearModel(modelPath);
        } else if (interested) {
          publishModel(modelPath);
        }
        if (interested) void connection.sendNotification(ModelChangedNotification, { uri: fileUri(modelPath) });
        for (const doc of recipesFor(modelPath)) publishRecipe(doc);
      } else if (/\.npy$/i.test(file) || isRecipeUri(change.uri)) {
        publishRecipes();
        // Text views' "Keep float" lenses follow the recipe.
        if (isRecipeUri(change.uri)) {
          void connection.sendRequest(CodeLensRefreshRequest.type).catch(() => undefined);
          publishModelOfRecipe(change.uri);
        }
      }
    });
  }
});

/** The model behind a text view, when it rendered. */
function viewState(uri: string) {
  const modelPath = modelPathOf(uri);
  if (!modelPath || uri.startsWith('file:')) return undefined;
  const state = store.get(modelPath);
  return state.rendered ? { modelPath, state, rendered: state.rendered } : undefined;
}

connection.onHover((p) => guard('hover', null, () => {
  const v = viewState(p.textDocument.uri);
  return v ? (hover(store, v.state, p.position) ?? null) : null;
}));

connection.onDefinition((p) => guard('definition', [], () => {
  const v = viewState(p.textDocument.uri);
  return v ? definition(v.rendered, p.textDocument.uri, p.position) : [];
}));

connection.onReferences((p) => guard('references', [], () => {
  const v = viewState(p.textDocument.uri);
  return v ? references(v.rendered, p.textDocument.uri, p.position, p.context.includeDeclaration) : [];
}));

connection.onDocumentSymbol((p) => guard('symbols', [], () => {
  const v = viewState(p.textDocument.uri);
  return v ? documentSymbols(v.rendered) : [];
}));

connection.onCodeLens((p) => guard('code lens', [], () => {
  const v = viewState(p.textDocument.uri);
  return v ? [...codeLenses(v.state), ...layerLenses(v.state, recipeOfModel(v.modelPath))] : [];
}));

connection.onCompletion((p) => guard('completion', [], () => {
  const doc = documents.get(p.textDocument.uri);
  const recipePath = doc && isRecipeUri(doc.uri) ? filePathOf(doc.uri) : undefined;
  return doc && recipePath ? recipeCompletions(doc, recipePath, doc.offsetAt(p.position), store, access) : [];
}));

connection.onCodeAction((p) => guard('code action', [] as CodeAction[], () => {
  const v = viewState(p.textDocument.uri);
  if (!v) return [];
  const actions = layerActions(v.state, recipeOfModel(v.modelPath), p.context.diagnostics);
  const seen = new Set<string>();
  for (const d of p.context.diagnostics) {
    const node = (d.data as NodeDiagnosticData | undefined)?.node;
    if (!node || seen.has(node)) continue;
    seen.add(node);
    actions.push({
      title: `Show ${node} in Graph`,
      kind: CodeActionKind.QuickFix,
      diagnostics: [d],
      command: { title: 'Show in Graph', command: OPEN_GRAPH_COMMAND, arguments: [fileUri(v.modelPath), node] },
    });
  }
  return actions;
}));

/** The model's recipe as the editor has it (an open, unsaved recipe counts). */
function recipeOfModel(modelPath: string) {
  return modelRecipe(modelPath, documents.get(fileUri(recipePathFor(modelPath)))?.getText());
}

process.on('uncaughtException', (e) => connection.console.error(`uncaught: ${oneLine(e)}`));
process.on('unhandledRejection', (e) => connection.console.error(`unhandled rejection: ${oneLine(e)}`));

documents.listen(connection);
connection.listen();
