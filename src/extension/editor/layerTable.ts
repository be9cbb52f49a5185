/**
 * The editor's layer rows on the host side: filter, sort and cut pages for the webview.
 *
 * The webview only ever holds the pages it shows, so a 10,000-node model costs it a few hundred
 * DOM rows. The last filtered+sorted order is cached because scrolling asks for many pages of the
 * same query. No `vscode` import.
 */
import type { LayerQuery, LayerRowDto, LayerSortColumn, RowDiagnosticDto } from '../../shared/webviewMessages';

export interface RowPage {
  offset: number;
  total: number;
  rows: LayerRowDto[];
}

const SEVERITY_RANK: Record<RowDiagnosticDto['severity'], number> = { error: 4, warning: 3, info: 2, hint: 1 };

function compareBy(column: LayerSortColumn): (a: LayerRowDto, b: LayerRowDto) => number {
  switch (column) {
    case 'index':
      return (a, b) => a.index - b.index;
    case 'node':
      return (a, b) => a.node.localeCompare(b.node) || a.index - b.index;
    case 'opType':
      return (a, b) => a.opType.localeCompare(b.opType) || a.index - b.index;
    case 'weightBytes':
      return (a, b) => a.weightBytes - b.weightBytes || a.index - b.index;
    case 'modes':
      return (a, b) => a.modes.length - b.modes.length || a.modes.join().localeCompare(b.modes.join()) || a.index - b.index;
    case 'notes':
      return (a, b) => a.notes.length - b.notes.length || a.index - b.index;
    case 'diagnostics': {
      const worst = (r: LayerRowDto): number => r.diagnostics.reduce((m, d) => Math.max(m, SEVERITY_RANK[d.severity]), 0);
      return (a, b) => worst(a) - worst(b) || a.diagnostics.length - b.diagnostics.length || a.index - b.index;
    }
  }
}

function haystack(r: LayerRowDto): string {
  return [r.node, r.label, r.opType, ...r.modes, ...r.notes, ...r.diagnostics.map((d) => d.message)].join('\n').toLowerCase();
}

export class LayerTable {
  private rows: LayerRowDto[];
  private cacheKey = '';
  private cached: LayerRowDto[] | undefined;
  private searchText: string[] | undefined;

  constructor(rows: LayerRowDto[]) {
    this.rows = rows;
  }

  get size(): number {
    return this.rows.length;
  }

  /** Attach diagnostics by node name (replaces earlier ones); returns whether any row changed. */
  setDiagnostics(byNode: ReadonlyMap<string, RowDiagnosticDto[]>): boolean {
    let changed = false;
    this.rows = this.rows.map((r) => {
      const next = byNode.get(r.node) ?? [];
      if (next.length === 0 && r.diagnostics.length === 0) return r;
      changed = true;
      return { ...r, diagnostics: next };
    });
    if (changed) this.invalidate();
    return changed;
  }

  page(offset: number, limit: number, query: LayerQuery): RowPage {
    const ordered = this.ordered(query);
    return { offset, total: ordered.length, rows: ordered.slice(offset, offset + limit) };
  }

  private invalidate(): void {
    this.cacheKey = '';
    this.cached = undefined;
    this.searchText = undefined;
  }

  private ordered(query: LayerQuery): LayerRowDto[] {
    const filter = query.filter.trim().toLowerCase();
    const key = JSON.stringify([filter, query.sort, query.descending]);
    if (this.cached && key === this.cacheKey) return this.cached;
    let result: LayerRowDto[];
    if (filter) {
      this.searchText ??= this.rows.map(haystack);
      const text = this.searchText;
      result = this.rows.filter((_, i) => text[i]!.includes(filter));
    } else {
      result = this.rows.slice();
    }
    const cmp = compareBy(query.sort);
    result.sort(query.descending ? (a, b) => cmp(b, a) : cmp);
    this.cacheKey = key;
    this.cached = result;
    return result;
  }
}
