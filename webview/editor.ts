/**
 * Model editor webview (custom editor for *.onnx). Draws the model card, the bytes-per-op chart
 * and a virtualised, host-paged layer table. It never sees the model bytes: the host sends a
 * summary and the pages of rows we ask for. Every model-derived string goes in as text.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import {
  isHostToEditorMessage,
  LAYER_SORT_COLUMNS,
  TRUSTED_EDITOR_COMMANDS,
  type EditorCommand,
  type EditorToHostMessage,
  type HostToEditorMessage,
  type LayerQuery,
  type LayerRowDto,
  type LayerSortColumn,
  type ModelCardDto,
  type OpStatDto,
  type RowDiagnosticDto,
} from '../src/shared/webviewMessages';
import { connect } from './lib/vscodeApi';
import { t } from './lib/l10n';
import { h, clear } from './lib/dom';
import { barList } from './lib/charts';
import { formatBytes, formatCount, formatShape } from './lib/format';
import { VirtualRows } from './lib/virtualRows';

const ROW_HEIGHT = 24; // keep in sync with .layer-row in media/editor.css
const PAGE = 100;
const MAX_CHART_OPS = 40;

const host = connect<EditorToHostMessage, HostToEditorMessage>(isHostToEditorMessage);
const post = (m: EditorToHostMessage): void => host.post(m);

const isQuery = (x: unknown): x is LayerQuery => {
  const q = x as Partial<LayerQuery> | null;
  return typeof q === 'object' && q !== null && typeof q.filter === 'string' && LAYER_SORT_COLUMNS.includes(q.sort as LayerSortColumn) && typeof q.descending === 'boolean';
};
let query: LayerQuery = host.getState(isQuery) ?? { filter: '', sort: 'index', descending: false };

// ---------------------------------------------------------------------------------------------
// Skeleton

const COLUMNS: { key: LayerSortColumn; label: string; className: string }[] = [
  { key: 'index', label: t('#'), className: 'c-index' },
  { key: 'opType', label: t('Op'), className: 'c-op' },
  { key: 'node', label: t('Name'), className: 'c-name' },
  { key: 'weightBytes', label: t('Weights'), className: 'c-bytes' },
  { key: 'modes', label: t('Quantizable'), className: 'c-modes' },
  { key: 'notes', label: t('Risks'), className: 'c-notes' },
  { key: 'diagnostics', label: t('Diagnostics'), className: 'c-diags' },
];

const commandButtons = new Map<EditorCommand, HTMLElement>();
const commandButton = (command: EditorCommand, label: string, testId: string, secondary = true): HTMLElement => {
  const b = h('vscode-button', { 'data-testid': testId, secondary }, label);
  b.addEventListener('click', () => {
    if (!b.hasAttribute('disabled')) post({ v: 1, type: 'runCommand', command });
  });
  commandButtons.set(command, b);
  return b;
};

/** In Restricted Mode the host refuses to run models or write files: say so on the buttons. */
function applyTrust(trusted: boolean): void {
  for (const command of TRUSTED_EDITOR_COMMANDS) {
    const b = commandButtons.get(command);
    if (!b) continue;
    b.toggleAttribute('disabled', !trusted);
    if (trusted) b.removeAttribute('title');
    else b.setAttribute('title', t('Requires a trusted workspace'));
  }
}

const title = h('h1', { 'data-testid': 'model-title' }, t('Model'));
const toolbar = h(
  'div',
  { class: 'toolbar', role: 'toolbar' },
  commandButton('quantize', t('Quantize…'), 'btn-quantize', false),
  commandButton('benchmark', t('Benchmark'), 'btn-benchmark'),
  commandButton('compare', t('Compare…'), 'btn-compare'),
  commandButton('showAsText', t('Show as Text'), 'btn-show-as-text'),
  commandButton('openGraph', t('Graph'), 'btn-open-graph'),
);
const status = h('div', { class: 'status', 'data-testid': 'status' });
const cardSection = h('section', { class: 'card', 'data-testid': 'model-card', hidden: true });
const chartSection = h('section', { class: 'op-chart', 'data-testid': 'op-chart', hidden: true });

const filterInput = h('input', {
  type: 'search',
  class: 'filter',
  placeholder: t('Filter layers (name, op, mode, risk)'),
  'aria-label': t('Filter layers'),
  'data-testid': 'layer-filter',
  value: query.filter,
});
const rowCount = h('span', { class: 'row-count', 'data-testid': 'layer-count', 'aria-live': 'polite' });
const headerCells = COLUMNS.map((c) => {
  const button = h('button', { type: 'button', class: 'sort', 'data-testid': `sort-${c.key}` }, c.label);
  button.addEventListener('click', () => setQuery({ ...query, sort: c.key, descending: query.sort === c.key ? !query.descending : c.key === 'weightBytes' || c.key === 'diagnostics' }));
  return h('div', { role: 'columnheader', class: c.className, 'data-column': c.key }, button);
});
const header = h('div', { class: 'layer-row header', role: 'row' }, ...headerCells, h('div', { role: 'columnheader', class: 'c-actions' }));
const viewport = h('div', { class: 'viewport', role: 'rowgroup', tabindex: 0, 'data-testid': 'layer-viewport' });
const layerTable = h('div', { class: 'layer-table', role: 'table', 'aria-label': t('Layers'), 'data-testid': 'layer-table' }, header, viewport);
const tableSection = h(
  'section',
  { class: 'layers', hidden: true },
  h('div', { class: 'table-tools' }, filterInput, rowCount),
  layerTable,
);
document.getElementById('app')!.append(h('header', { class: 'top' }, title, toolbar), status, cardSection, chartSection, tableSection);

// ---------------------------------------------------------------------------------------------
// Rows: page cache keyed by the current query generation

let generation = 0;
let total = 0;
let nextRequestId = 1;
const pages = new Map<number, LayerRowDto[]>();
const pending = new Map<number, { generation: number; page: number }>();
const pendingPages = new Set<number>();

const severityMark: Record<RowDiagnosticDto['severity'], string> = { error: '✖', warning: '⚠', info: 'ℹ', hint: '…' };

function createRow(): HTMLElement {
  const row = h('div', { class: 'layer-row', role: 'row', 'data-testid': 'layer-row' });
  for (const c of COLUMNS) row.append(h('div', { role: 'cell', class: c.className }));
  row.append(h('div', { role: 'cell', class: 'c-actions' },
    h('button', { type: 'button', class: 'row-action', 'data-testid': 'row-show-in-graph', title: t('Show in Graph') }, t('Graph'))));
  return row;
}

function renderRow(el: HTMLElement, index: number): void {
  const r = pages.get(Math.floor(index / PAGE))?.[index % PAGE];
  const cells = el.children;
  const set = (i: number, text: string, tip?: string): void => {
    const cell = cells[i] as HTMLElement;
    if (cell.textContent !== text) cell.textContent = text;
    if (tip !== undefined) cell.title = tip;
    else cell.removeAttribute('title');
  };
  el.classList.toggle('placeholder', !r);
  ((el.lastElementChild as HTMLElement).firstElementChild as HTMLElement).hidden = !r;
  el.classList.toggle('odd', index % 2 === 1);
  if (!r) {
    el.removeAttribute('data-node');
    COLUMNS.forEach((_, i) => set(i, i === 2 ? '…' : ''));
    return;
  }
  el.setAttribute('data-node', r.node);
  el.setAttribute('aria-rowindex', String(index + 1));
  set(0, String(r.index));
  set(1, r.opType);
  set(2, r.label, r.node);
  set(3, r.weightBytes > 0 ? formatBytes(r.weightBytes) : '');
  set(4, r.modes.join(', '));
  set(5, r.notes.length ? r.notes.join('; ') : '', r.notes.length ? r.notes.join('\n') : undefined);
  const worst = (['error', 'warning', 'info', 'hint'] as const).find((sv) => r.diagnostics.some((d) => d.severity === sv));
  const diag = cells[6] as HTMLElement;
  diag.className = `c-diags${worst ? ` sev-${worst}` : ''}`;
  diag.setAttribute('data-testid', 'row-diagnostics');
  set(6, worst ? `${severityMark[worst]} ${r.diagnostics.length}` : '', r.diagnostics.length ? r.diagnostics.map((d) => `${d.severity}: ${d.message}`).join('\n') : undefined);
}

// A row's "Graph" button (or a double click on the row) opens the model's graph on its node.
const showInGraph = (e: Event): void => {
  const row = (e.target as Element | null)?.closest('[data-testid=layer-row][data-node]');
  const node = row?.getAttribute('data-node');
  if (!node) return;
  if (e.type === 'click' && !(e.target as Element).closest('.row-action')) return;
  post({ v: 1, type: 'showInGraph', node });
};
viewport.addEventListener('click', showInGraph);
viewport.addEventListener('dblclick', showInGraph);

function requestPage(page: number): void {
  if (pages.has(page) || pendingPages.has(page)) return;
  const requestId = nextRequestId++;
  pending.set(requestId, { generation, page });
  pendingPages.add(page);
  post({ v: 1, type: 'requestRows', requestId, offset: page * PAGE, limit: PAGE, query });
}

const rows = new VirtualRows({
  viewport,
  rowHeight: ROW_HEIGHT,
  overscan: 8,
  createRow,
  renderRow,
  onRange(first, last) {
    for (let p = Math.floor(first / PAGE); p <= Math.floor(last / PAGE); p++) requestPage(p);
  },
});

function resetRows(): void {
  generation++;
  pages.clear();
  pendingPages.clear();
  pending.clear();
  requestPage(0);
  rows.schedule();
}

function setQuery(next: LayerQuery): void {
  query = next;
  host.setState(query);
  for (const cell of headerCells) {
    const key = cell.getAttribute('data-column');
    if (key === query.sort) cell.setAttribute('aria-sort', query.descending ? 'descending' : 'ascending');
    else cell.removeAttribute('aria-sort');
  }
  rows.scrollTop = 0;
  resetRows();
}

let filterTimer: ReturnType<typeof setTimeout> | undefined;
filterInput.addEventListener('input', () => {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(() => setQuery({ ...query, filter: filterInput.value.slice(0, 500) }), 120);
});

function onRows(m: Extract<HostToEditorMessage, { type: 'rows' }>): void {
  const req = pending.get(m.requestId);
  pending.delete(m.requestId);
  if (!req || req.generation !== generation) return;
  pendingPages.delete(req.page);
  pages.set(req.page, m.rows);
  if (m.total !== total) {
    total = m.total;
    rows.setTotal(total);
    layerTable.setAttribute('aria-rowcount', String(total));
  }
  rowCount.textContent = t('{0} of {1} layers', formatCount(total), formatCount(summaryRows));
  rows.schedule();
}

// ---------------------------------------------------------------------------------------------
// Card and chart

let summaryRows = 0;

function field(label: string, value: Node | string, testId: string): HTMLElement[] {
  return [h('dt', {}, label), h('dd', { 'data-testid': testId }, value)];
}

function tensorList(tensors: ModelCardDto['inputs']): HTMLElement {
  return h('ul', { class: 'tensors' }, ...tensors.map((t) => h('li', {}, h('code', {}, t.name), ` ${t.dtype} ${formatShape(t.shape)}`)));
}

function renderCard(card: ModelCardDto): void {
  title.textContent = card.fileName;
  const opsets = card.opsets.map((o) => `${o.domain || 'ai.onnx'} ${o.version}`).join(', ') || '—';
  clear(cardSection);
  cardSection.append(
    h('h2', {}, t('Model')),
    h(
      'dl',
      {},
      ...field(t('Producer'), card.producer || '—', 'card-producer'),
      ...field(t('IR version'), card.irVersion === null ? '—' : String(card.irVersion), 'card-ir'),
      ...field(t('Opsets'), opsets, 'card-opsets'),
      ...field(t('Size'), formatBytes(card.fileBytes), 'card-size'),
      ...field(t('Parameters'), formatCount(card.parameterCount), 'card-params'),
      ...field(t('Nodes'), formatCount(card.nodeCount), 'card-nodes'),
      ...field(t('Quantization'), card.quantization.format === 'none' ? t('none (float model)') : t('{0}, {1} quantized nodes', card.quantization.format, formatCount(card.quantization.quantizedNodeCount)), 'card-quantization'),
      ...field(t('Inputs'), tensorList(card.inputs), 'card-inputs'),
      ...field(t('Outputs'), tensorList(card.outputs), 'card-outputs'),
    ),
  );
  cardSection.hidden = false;
}

function renderChart(ops: OpStatDto[]): void {
  clear(chartSection);
  const byBytes = ops.some((o) => o.weightBytes > 0);
  const shown = ops.slice(0, MAX_CHART_OPS);
  chartSection.append(
    h('h2', {}, byBytes ? t('Weight bytes per op type') : t('Nodes per op type')),
    barList(
      shown.map((o) => ({
        label: o.opType,
        value: byBytes ? o.weightBytes : o.count,
        valueText: byBytes ? formatBytes(o.weightBytes) : t('{0} nodes', formatCount(o.count)),
        className: o.quantizable > 0 ? 'series-0' : 'series-muted',
        testId: `op-bar-${o.opType}`,
        extra: { text: `${formatCount(o.count)}×`, testId: `op-count-${o.opType}` },
      })),
      t('Bytes per op type'),
    ),
  );
  if (ops.length > shown.length) chartSection.append(h('p', { class: 'muted' }, t('+ {0} more op types', ops.length - shown.length)));
  chartSection.hidden = false;
}

// ---------------------------------------------------------------------------------------------
// Host messages

function showStatus(kind: 'loading' | 'error' | 'none', text = ''): void {
  clear(status);
  status.className = `status ${kind}`;
  if (kind === 'loading') {
    status.append(h('vscode-progress-ring', { 'data-testid': 'loading', 'aria-label': t('Reading model') }), h('span', {}, text));
  } else if (kind === 'error') {
    const retry = h('vscode-button', { 'data-testid': 'btn-retry', secondary: true }, t('Retry'));
    retry.addEventListener('click', () => post({ v: 1, type: 'retry' }));
    status.append(h('span', { class: 'error-text', 'data-testid': 'summary-error', role: 'alert' }, text), retry);
  }
}

host.onMessage((m) => {
  switch (m.type) {
    case 'loading':
      title.textContent = m.fileName;
      showStatus('loading', t('Reading {0}…', m.fileName));
      return;
    case 'summaryError':
      showStatus('error', m.message);
      return;
    case 'summary':
      showStatus('none');
      renderCard(m.card);
      renderChart(m.ops);
      summaryRows = m.rowCount;
      tableSection.hidden = false;
      setQuery(query);
      return;
    case 'rows':
      onRows(m);
      return;
    case 'rowsChanged':
      resetRows();
      return;
    case 'trust':
      applyTrust(m.trusted);
      return;
  }
});

showStatus('loading', t('Reading model…'));
post({ v: 1, type: 'ready' });
