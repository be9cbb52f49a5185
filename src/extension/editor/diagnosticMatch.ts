/**
 * Attaches the language server's diagnostics for a model to the layer rows they talk about.
 *
 * A diagnostic names its node in `data.node` (or `data.nodes`) when the server says so;
 * otherwise we look for a quoted token in the message ('name', "name" or `name`) that is a node
 * of this model. Diagnostics naming no node are left out of the table (the Problems panel shows
 * them anyway). No `vscode` import: the caller maps vscode.Diagnostic onto `DiagnosticLike`.
 */
import type { RowDiagnosticDto } from '../../shared/webviewMessages';

export interface DiagnosticLike {
  message: string;
  severity: RowDiagnosticDto['severity'];
  data?: unknown;
}

const QUOTED = /'([^'\n]{1,4096})'|"([^"\n]{1,4096})"|`([^`\n]{1,4096})`/g;

function namedNodes(d: DiagnosticLike, isNode: (name: string) => boolean): string[] {
  const data = typeof d.data === 'object' && d.data !== null ? (d.data as Record<string, unknown>) : {};
  const fromData = [data.node, ...(Array.isArray(data.nodes) ? data.nodes : [])].filter(
    (n): n is string => typeof n === 'string' && isNode(n),
  );
  if (fromData.length > 0) return fromData;
  const found: string[] = [];
  for (const m of d.message.matchAll(QUOTED)) {
    const token = m[1] ?? m[2] ?? m[3];
    if (token !== undefined && isNode(token) && !found.includes(token)) found.push(token);
  }
  return found;
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
