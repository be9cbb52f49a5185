/** The nodes a quantization left float, grouped by why, for one-line summaries (the result notification). */
import type { SkippedNode } from './types';

export interface SkipGroup {
  reason: string;
  nodes: string[];
}

/** Groups by reason, largest first (then by the order the nodes were skipped). */
export function skipGroups(skipped: readonly SkippedNode[]): SkipGroup[] {
  const byReason = new Map<string, string[]>();
  for (const s of skipped) {
    const nodes = byReason.get(s.reason);
    if (nodes) nodes.push(s.node);
    else byReason.set(s.reason, [s.node]);
  }
  return [...byReason].map(([reason, nodes]) => ({ reason, nodes })).sort((a, b) => b.nodes.length - a.nodes.length);
}

/**
 * `4 × Conv stays float in dynamic mode (…)` or `/fc/Gemm: excluded …`, the `max` largest groups
 * joined by `; `, with `; N more` for the rest. Empty when nothing was skipped.
 */
export function skippedText(skipped: readonly SkippedNode[], max = 2): string {
  const groups = skipGroups(skipped);
  const shown = groups.slice(0, max).map((g) => (g.nodes.length === 1 ? `${g.nodes[0]}: ${g.reason}` : `${g.nodes.length} × ${g.reason}`));
  const rest = groups.slice(max).reduce((n, g) => n + g.nodes.length, 0);
  return [...shown, ...(rest ? [`${rest} more`] : [])].join('; ');
}
