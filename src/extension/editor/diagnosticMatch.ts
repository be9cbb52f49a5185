/**
 * Attaches the language server's diagnostics for a model to the layer rows they talk about.
 *
 * A diagnostic names its node by key in `data.node` (or `data.nodes`); the rows carry the same
 * keys (core/onnx/graph-index.ts). Diagnostics naming no node are left out of the table (the
 * Problems panel shows them anyway). No `vscode` import: the caller maps vscode.Diagnostic onto
 * `DiagnosticLike`.
 */
import type { RowDiagnosticDto } from '../../shared/webviewMessages';

export interface DiagnosticLike {
  message: string;
  severity: RowDiagnosticDto['severity'];
  data?: unknown;
}

function namedNodes(d: DiagnosticLike, isNode: (name: string) => boolean): string[] {
  const data = typeof d.data === 'object' && d.data !== null ? (d.data as Record<string, unknown>) : {};
  return [data.node, ...(Array.isArray(data.nodes) ? data.nodes : [])].filter((n): n is string => typeof n === 'string' && isNode(n));
}

export function diagnosticsByNode(diagnostics: readonly DiagnosticLike[], nodeNames: ReadonlySet<string>): Map<string, RowDiagnosticDto[]> {
  const byNode = new Map<string, RowDiagnosticDto[]>();
  for (const d of diagnostics) {
    for (const node of namedNodes(d, (n) => nodeNames.has(n))) {
      let list = byNode.get(node);
      if (!list) byNode.set(node, (list = []));
      list.push({ severity: d.severity, message: d.message });
    }
  }
  return byNode;
}
