/**
 * The `.onnx` models and quantization reports in the workspace, kept current by file watchers.
 * Only file names are handled here; reading models is the worker's job.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';

const MODEL_GLOB = '**/*.onnx';
const REPORT_GLOB = '**/*.quant-report.*';
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

  constructor() {
    this.watch(MODEL_GLOB, true);
    this.watch(REPORT_GLOB, false);
    this.disposables.push(this.changed);
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
    this.disposables.push(w);
  }
}

function sortByPath(uris: vscode.Uri[]): vscode.Uri[] {
  return uris.sort((a, b) => a.fsPath.localeCompare(b.fsPath));
}
