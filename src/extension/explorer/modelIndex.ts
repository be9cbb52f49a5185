/**
 * The `.onnx` models and quantization reports in the workspace, kept current by file watchers.
 * Only file names are handled here; reading models is the worker's job.
 *
 * It owns the extension's file watching: every event on models, reports, recipes and `.npy` data
 * is forwarded through `onDidChangeFile` (the language server, the model editor and the text views
 * listen there instead of watching the same files again). A model outside the workspace folders
 * gets a watcher of its own through `watchFile`, forwarded the same way.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { FileEvent } from '../languageServer';

const MODEL_GLOB = '**/*.onnx';
const REPORT_GLOB = '**/*.quant-report.*';
/** Watched for the language server only: recipes and calibration data. */
const SERVER_GLOBS = ['**/*.quant.json', '**/*.npy'];
const EXCLUDE = '**/{node_modules,.git}/**';
const MAX_FILES = 2000;

export class ModelIndex implements vscode.Disposable {
  private models = new Map<string, vscode.Uri>();
  private reports = new Map<string, vscode.Uri>();
  private loaded: Promise<void> | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly changed = new vscode.EventEmitter<vscode.Uri | undefined>();
  /** Fires with the model whose file changed, or undefined when the set of files changed. */
  readonly onDidChange = this.changed.event;
  private readonly fileChanged = new vscode.EventEmitter<FileEvent>();
  /** Every file event on models, reports, recipes and `.npy` files (and files given to watchFile). */
  readonly onDidChangeFile = this.fileChanged.event;
  private readonly outside = new Map<string, { watcher: vscode.Disposable; users: number }>();

  constructor() {
    this.watch(MODEL_GLOB, true);
    this.watch(REPORT_GLOB, false);
    for (const glob of SERVER_GLOBS) this.forward(vscode.workspace.createFileSystemWatcher(glob));
    this.disposables.push(this.changed, this.fileChanged);
  }

  /** Make sure events on `uri` reach onDidChangeFile, also when it lies outside the workspace folders. */
  watchFile(uri: vscode.Uri): vscode.Disposable {
    if (uri.scheme !== 'file' || vscode.workspace.getWorkspaceFolder(uri)) return new vscode.Disposable(() => undefined);
    const key = uri.toString();
    const entry = this.outside.get(key);
    if (entry) entry.users++;
    else {
      const w = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(path.dirname(uri.fsPath)), path.basename(uri.fsPath)));
      this.outside.set(key, { watcher: vscode.Disposable.from(w, this.forward(w)), users: 1 });
    }
    return new vscode.Disposable(() => {
      const e = this.outside.get(key);
      if (e && --e.users === 0) {
        e.watcher.dispose();
        this.outside.delete(key);
      }
    });
  }

  /** All models, sorted by path. The first call searches the workspace. */
  async allModels(): Promise<vscode.Uri[]> {
    await this.ensureLoaded();
    return sortByPath([...this.models.values()]);
  }

  /** Quantized variants (`NAME.*.onnx`) and reports (`NAME*.quant-report.*`) next to `model`. */
  async derivedFiles(model: vscode.Uri): Promise<{ variants: vscode.Uri[]; reports: vscode.Uri[] }> {
    await this.ensureLoaded();
    const dir = path.dirname(model.fsPath);
    const stem = path.basename(model.fsPath).replace(/\.onnx$/i, '');
    const sameDir = (u: vscode.Uri): boolean => path.dirname(u.fsPath) === dir;
    const variants = [...this.models.values()].filter((u) => {
      const b = path.basename(u.fsPath);
      return sameDir(u) && u.toString() !== model.toString() && b.startsWith(`${stem}.`) && /\.onnx$/i.test(b);
    });
    const reports = [...this.reports.values()].filter((u) => sameDir(u) && path.basename(u.fsPath).startsWith(stem));
    return { variants: sortByPath(variants), reports: sortByPath(reports) };
  }

  /** Search again from scratch (the Refresh command). */
  refresh(): void {
    this.loaded = undefined;
    this.changed.fire(undefined);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
    for (const e of this.outside.values()) e.watcher.dispose();
    this.outside.clear();
  }

  /** Forward a watcher's events to onDidChangeFile; the returned disposable owns the watcher. */
  private forward(w: vscode.FileSystemWatcher): vscode.Disposable {
    const fire = (type: FileEvent['type']) => (uri: vscode.Uri) => this.fileChanged.fire({ uri, type });
    const d = vscode.Disposable.from(w, w.onDidCreate(fire('created')), w.onDidChange(fire('changed')), w.onDidDelete(fire('deleted')));
    this.disposables.push(d);
    return d;
  }

  private ensureLoaded(): Promise<void> {
    this.loaded ??= (async () => {
      const [models, reports] = await Promise.all([
        vscode.workspace.findFiles(MODEL_GLOB, EXCLUDE, MAX_FILES),
        vscode.workspace.findFiles(REPORT_GLOB, EXCLUDE, MAX_FILES),
      ]);
      this.models = new Map(models.map((u) => [u.toString(), u]));
      this.reports = new Map(reports.map((u) => [u.toString(), u]));
    })();
    return this.loaded;
  }

  private watch(glob: string, isModel: boolean): void {
    const target = (): Map<string, vscode.Uri> => (isModel ? this.models : this.reports);
    const w = vscode.workspace.createFileSystemWatcher(glob);
    this.forward(w);
    w.onDidCreate((u) => {
      if (/[\\/](node_modules|\.git)[\\/]/.test(u.fsPath)) return;
      target().set(u.toString(), u);
      this.changed.fire(undefined);
    });
    w.onDidDelete((u) => {
      target().delete(u.toString());
      this.changed.fire(undefined);
    });
    w.onDidChange((u) => this.changed.fire(isModel ? u : undefined));
  }
}

function sortByPath(uris: vscode.Uri[]): vscode.Uri[] {
  return uris.sort((a, b) => a.fsPath.localeCompare(b.fsPath));
}
