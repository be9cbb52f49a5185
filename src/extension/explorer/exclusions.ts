/**
 * Layers the user unticked in the Models view, per model, kept in workspace state. Quantize
 * commands pass them as `excludeNodes` unless the caller gives its own list.
 */
import * as vscode from 'vscode';

const KEY = 'onnxQuantizer.excludedNodes';

export class Exclusions {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  constructor(private readonly state: vscode.Memento) {}

  /** Node names excluded from quantization for this model (sorted). */
  get(model: vscode.Uri): string[] {
    return [...(this.all()[model.toString()] ?? [])].sort();
  }

  isExcluded(model: vscode.Uri, node: string): boolean {
    return this.all()[model.toString()]?.includes(node) ?? false;
  }

  async set(model: vscode.Uri, node: string, excluded: boolean): Promise<void> {
    const all = this.all();
    const key = model.toString();
    const nodes = new Set(all[key] ?? []);
    if (excluded) nodes.add(node);
    else nodes.delete(node);
    if (nodes.size) all[key] = [...nodes];
    else delete all[key];
    await this.state.update(KEY, all);
    this.changed.fire(model);
  }

  dispose(): void {
    this.changed.dispose();
  }

  private all(): Record<string, string[]> {
    const v = this.state.get<unknown>(KEY);
    if (typeof v !== 'object' || v === null) return {};
    const out: Record<string, string[]> = {};
    for (const [k, nodes] of Object.entries(v)) if (Array.isArray(nodes)) out[k] = nodes.filter((n): n is string => typeof n === 'string');
    return out;
  }
}
