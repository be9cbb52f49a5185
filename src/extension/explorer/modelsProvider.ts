/**
 * The "Models" tree: every `.onnx` in the workspace, each expandable into inputs, outputs,
 * operators by type (with the quantizable marker), largest initializers, quantization format
 * and the files derived from it. Model details come from the worker's `summarize` job.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { oneLine } from '../../core/errors';
import type { ModelOverview } from '../../shared/protocol';
import type { JobRunner } from '../jobs/jobRunner';
import type { Exclusions } from './exclusions';
import type { ModelIndex } from './modelIndex';
import { formatBytes } from '../../core/report/format';
import { overviewGroups, type GroupSpec, type Row } from './treeNodes';

export const MODELS_VIEW = 'onnxQuantizer.models';

export class ModelNode {
  readonly kind = 'model';
  constructor(readonly uri: vscode.Uri) {}
}
export class GroupNode {
  readonly kind = 'group';
  constructor(
    readonly parent: ModelNode,
    readonly spec: GroupSpec,
  ) {}
}
export class RowNode {
  readonly kind = 'row';
  constructor(
    readonly parent: GroupNode | ModelNode | RowNode,
    readonly row: Row,
    readonly index: number,
  ) {}

  /** The model this row belongs to. */
  get model(): vscode.Uri {
    return this.parent.kind === 'model' ? this.parent.uri : this.parent.kind === 'group' ? this.parent.parent.uri : this.parent.model;
  }

  get id(): string {
    const p = this.parent;
    const parentId = p.kind === 'model' ? p.uri.toString() : p.kind === 'group' ? `${p.parent.uri.toString()}#${p.spec.group}` : p.id;
    return `${parentId}#${this.index}`;
  }
}
/** A quantized variant or a report next to a model. */
export class FileNode {
  readonly kind = 'file';
  constructor(
    readonly parent: GroupNode,
    readonly uri: vscode.Uri,
    readonly role: 'variant' | 'report',
  ) {}
}
export type ExplorerNode = ModelNode | GroupNode | RowNode | FileNode;

/** Plain JSON form of the tree, for tests. */
export interface TreeJson {
  label: string;
  description?: string;
  contextValue?: string;
  /** Layer rows: false when the layer is excluded from quantization. */
  checked?: boolean;
  children?: TreeJson[];
}

interface CachedOverview {
  promise: Promise<ModelOverview>;
}

export class ModelsProvider implements vscode.TreeDataProvider<ExplorerNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<ExplorerNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly overviews = new Map<string, CachedOverview>();
  private readonly disposables: vscode.Disposable[] = [this.changed];

  constructor(
    private readonly index: ModelIndex,
    private readonly runner: JobRunner,
    private readonly log: vscode.LogOutputChannel,
    private readonly exclusions: Exclusions,
  ) {
    this.disposables.push(
      index.onDidChange((uri) => {
        if (uri) this.overviews.delete(uri.toString());
        this.changed.fire(undefined);
      }),
      exclusions.onDidChange(() => this.changed.fire(undefined)),
    );
  }

  /** Ticking or unticking a layer row (TreeView.onDidChangeCheckboxState). */
  async onCheckboxes(items: ReadonlyArray<readonly [ExplorerNode, vscode.TreeItemCheckboxState]>): Promise<void> {
    for (const [node, state] of items) {
      if (node.kind !== 'row' || !node.row.layer) continue;
      try {
        await this.exclusions.set(node.model, node.row.layer, state === vscode.TreeItemCheckboxState.Unchecked);
      } catch (e) {
        // A recipe that cannot be read is never rewritten: the row goes back to what the recipe says.
        this.log.error(oneLine(e));
        void vscode.window.showErrorMessage(oneLine(e));
        this.changed.fire(undefined);
      }
    }
  }

  refresh(): void {
    this.overviews.clear();
    this.index.refresh();
  }

  /** The worker's overview of a model, cached until the file changes. */
  overview(uri: vscode.Uri): Promise<ModelOverview> {
    const key = uri.toString();
    let cached = this.overviews.get(key);
    if (!cached) {
      if (uri.scheme !== 'file') return Promise.reject(new Error(vscode.l10n.t('Models can be inspected in local folders only.')));
      const promise = this.runner.run({ kind: 'summarize', model: uri.fsPath }, { timeoutMs: 120_000 });
      cached = { promise };
      this.overviews.set(key, cached);
      // A failure is not cached forever: the next expand tries again.
      promise.catch(() => {
        if (this.overviews.get(key) === cached) this.overviews.delete(key);
      });
    }
    return cached.promise;
  }

  getTreeItem(node: ExplorerNode): vscode.TreeItem {
    switch (node.kind) {
      case 'model': {
        const item = new vscode.TreeItem(node.uri, vscode.TreeItemCollapsibleState.Collapsed);
        item.id = node.uri.toString();
        // The folder, relative to the workspace (named only in multi-root workspaces); nothing at the root.
        const dir = path.dirname(node.uri.fsPath);
        const relative = vscode.workspace.asRelativePath(dir, (vscode.workspace.workspaceFolders?.length ?? 0) > 1);
        item.description = relative === dir ? undefined : relative;
        item.tooltip = node.uri.fsPath;
        item.contextValue = 'model';
        item.command = { command: 'vscode.open', title: vscode.l10n.t('Open'), arguments: [node.uri] };
        return item;
      }
      case 'group': {
        const expand = node.spec.group === 'operators' || node.spec.group === 'derived';
        const item = new vscode.TreeItem(node.spec.label, expand ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed);
        item.id = `${node.parent.uri.toString()}#${node.spec.group}`;
        item.description = node.spec.description;
        item.contextValue = `group.${node.spec.group}`;
        item.iconPath = new vscode.ThemeIcon(GROUP_ICONS[node.spec.group]);
        return item;
      }
      case 'row': {
        const item = new vscode.TreeItem(node.row.label, node.row.children?.length ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
        item.id = node.id;
        item.description = node.row.description;
        item.tooltip = node.row.tooltip ?? [node.row.label, node.row.description].filter(Boolean).join(' — ');
        if (node.row.layer) {
          const excluded = this.exclusions.isExcluded(node.model, node.row.layer);
          const mode = this.exclusions.chosenMode(node.model);
          if (excluded || !node.row.layerModes || node.row.layerModes.includes(mode)) {
            item.checkboxState = {
              state: excluded ? vscode.TreeItemCheckboxState.Unchecked : vscode.TreeItemCheckboxState.Checked,
              tooltip: excluded ? vscode.l10n.t('Kept in float when quantizing; tick to quantize it') : vscode.l10n.t('Quantized; untick to keep it in float'),
            };
          } else {
            // Nothing to untick: the chosen mode leaves this layer float anyway.
            const why = vscode.l10n.t('{0} mode does not quantize it', mode);
            item.description = [node.row.description, why].filter(Boolean).join(' · ');
            item.tooltip = `${node.row.label}\n${vscode.l10n.t('{0} mode (the recipe\'s, else the last Quantize…) leaves this layer float, so it has no checkbox. Modes that quantize it: {1}.', mode, node.row.layerModes.join(', ') || '—')}`;
          }
        }
        item.contextValue = node.row.contextValue;
        if (node.row.icon) item.iconPath = new vscode.ThemeIcon(node.row.icon);
        return item;
      }
      case 'file': {
        const item = new vscode.TreeItem(node.uri, vscode.TreeItemCollapsibleState.None);
        item.id = `${node.parent.parent.uri.toString()}#derived#${node.uri.toString()}`;
        item.contextValue = node.role === 'variant' ? 'model.derived' : 'report';
        item.tooltip = node.uri.fsPath;
        const isJsonReport = node.role === 'report' && /\.quant-report\.json$/i.test(node.uri.fsPath);
        item.command = isJsonReport
          ? { command: 'onnxQuantizer.openDashboard', title: vscode.l10n.t('Open Comparison Dashboard'), arguments: [node.uri] }
          : { command: 'vscode.open', title: vscode.l10n.t('Open'), arguments: [node.uri] };
        return item;
      }
    }
  }

  async getChildren(node?: ExplorerNode): Promise<ExplorerNode[]> {
    if (!node) return (await this.index.allModels()).map((u) => new ModelNode(u));
    if (node.kind === 'model') return this.modelChildren(node);
    if (node.kind === 'group') {
      if (node.spec.group === 'derived') {
        const { variants, reports } = await this.index.derivedFiles(node.parent.uri);
        return [...variants.map((u) => new FileNode(node, u, 'variant')), ...reports.map((u) => new FileNode(node, u, 'report'))];
      }
      return node.spec.rows.map((r, i) => new RowNode(node, r, i));
    }
    if (node.kind === 'row') return (node.row.children ?? []).map((r, i) => new RowNode(node, r, i));
    return [];
  }

  getParent(node: ExplorerNode): ExplorerNode | undefined {
    return node.kind === 'model' ? undefined : node.parent;
  }

  /** The whole tree as JSON, every model expanded (test hook; summarizes every model). */
  async toJson(): Promise<TreeJson[]> {
    const walk = async (nodes: ExplorerNode[]): Promise<TreeJson[]> =>
      Promise.all(
        nodes.map(async (n) => {
          const item = this.getTreeItem(n);
          const label = typeof item.label === 'string' ? item.label : item.label?.label ?? (item.resourceUri ? path.basename(item.resourceUri.fsPath) : '');
          const json: TreeJson = { label };
          if (typeof item.description === 'string') json.description = item.description;
          if (item.contextValue) json.contextValue = item.contextValue;
          if (item.checkboxState !== undefined) {
            const state = typeof item.checkboxState === 'object' ? item.checkboxState.state : item.checkboxState;
            json.checked = state === vscode.TreeItemCheckboxState.Checked;
          }
          if (item.collapsibleState !== vscode.TreeItemCollapsibleState.None) json.children = await walk(await this.getChildren(n));
          return json;
        }),
      );
    return walk(await this.getChildren());
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }

  private async modelChildren(node: ModelNode): Promise<ExplorerNode[]> {
    const derived = await this.index.derivedFiles(node.uri);
    const derivedCount = derived.variants.length + derived.reports.length;
    const derivedGroup: ExplorerNode[] = derivedCount
      ? [new GroupNode(node, { group: 'derived', label: vscode.l10n.t('Derived files'), description: String(derivedCount), rows: [] })]
      : [];
    let overview: ModelOverview;
    try {
      overview = await vscode.window.withProgress({ location: { viewId: MODELS_VIEW } }, () => this.overview(node.uri));
    } catch (e) {
      this.log.warn(`cannot summarize ${node.uri.fsPath}: ${oneLine(e)}`);
      return [new RowNode(node, { label: vscode.l10n.t('Cannot read this model'), description: oneLine(e), icon: 'error', contextValue: 'error' }, 0), ...derivedGroup];
    }
    const size = new RowNode(node, { label: vscode.l10n.t('Size'), description: formatBytes(overview.fileBytes), icon: 'database', contextValue: 'size' }, 0);
    return [size, ...overviewGroups(overview).map((g) => new GroupNode(node, g)), ...derivedGroup];
  }
}

const GROUP_ICONS: Record<GroupSpec['group'], string> = {
  inputs: 'sign-in',
  outputs: 'sign-out',
  operators: 'symbol-operator',
  initializers: 'symbol-constant',
  quantization: 'symbol-ruler',
  derived: 'files',
};
