/**
 * Comparison dashboard webview: size, latency and fidelity of the float model and each quantized
 * variant side by side, per-layer error worst first (with "Exclude and re-quantize"), the
 * environment, and export buttons. Draws only what the host sends; every string goes in as text.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import {
  isHostToDashboardMessage,
  type DashboardDto,
  type DashboardToHostMessage,
  type ExportFormat,
  type HostToDashboardMessage,
  type LayerErrorDto,
  type ModelColumnDto,
  type RunDeltaDto,
  type RunDimension,
} from '../src/shared/webviewMessages';
import { connect } from './lib/vscodeApi';
import { t } from './lib/l10n';
import { h, s } from './lib/dom';
import { barChart, groupedBars, stripPlot } from './lib/charts';
import { formatBytes, formatFixed, formatPercent } from './lib/format';

const host = connect<DashboardToHostMessage, HostToDashboardMessage>(isHostToDashboardMessage);
const post = (m: DashboardToHostMessage): void => host.post(m);
const LAYERS_SHOWN = 30;
/** Errors at or above this SQNR draw no bar: the layer is as good as float. */
const SQNR_CEILING_DB = 60;

const app = document.getElementById('app')!;
const title = h('h1', { 'data-testid': 'report-title' }, t('Quantization report'));
const exportButton = (format: ExportFormat, label: string): HTMLElement => {
  const b = h('vscode-button', { secondary: true, 'data-testid': `btn-export-${format}` }, label);
  b.addEventListener('click', () => post({ v: 1, type: 'export', format }));
  return b;
};
const toolbar = h('div', { class: 'toolbar', role: 'toolbar' }, exportButton('markdown', t('Export Markdown')), exportButton('html', t('Export HTML')), exportButton('json', t('Export JSON')));
const content = h('div', { class: 'content' }, h('div', { class: 'status loading', 'data-testid': 'loading' }, h('vscode-progress-ring', { 'aria-label': t('Loading report') })));
app.append(h('header', { class: 'top' }, title, toolbar), content);

// ---------------------------------------------------------------------------------------------

const sqnrText = (v: number | null, identical: boolean): string => (v === null ? (identical ? t('∞ (identical)') : t('n/a')) : `${v.toFixed(1)} dB`);

interface Metric {
  label: string;
  testId: string;
  value(m: ModelColumnDto): string;
  /** Only candidates have it (the reference shows "—"). */
  candidateOnly?: boolean;
  /** The change against the previous run (higher is better for every one of them). */
  delta?: { of: (d: RunDeltaDto) => number | null; text: (v: number) => string; dimension: RunDimension; epsilon: number };
}

const signed = (v: number, digits: number, suffix = ''): string => `${v > 0 ? '+' : v < 0 ? '−' : '±'}${Math.abs(v).toFixed(digits)}${suffix}`;

const METRICS: Metric[] = [
  { label: t('Size'), testId: 'size', value: (m) => formatBytes(m.bytes) },
  { label: t('Size ratio'), testId: 'size-ratio', value: (m) => formatFixed(m.sizeRatio, 2, '×'), delta: { of: (d) => d.sizeRatio, text: (v) => signed(v, 2, '×'), dimension: 'size', epsilon: 0.005 } },
  { label: t('Latency p50'), testId: 'latency-p50', value: (m) => formatFixed(m.latency?.p50Ms ?? null, 3, ' ms') },
  { label: t('Latency p90'), testId: 'latency-p90', value: (m) => formatFixed(m.latency?.p90Ms ?? null, 3, ' ms') },
  { label: t('Latency p99'), testId: 'latency-p99', value: (m) => formatFixed(m.latency?.p99Ms ?? null, 3, ' ms') },
  { label: t('Speedup (p50)'), testId: 'speedup', value: (m) => formatFixed(m.speedup, 2, '×'), delta: { of: (d) => d.speedup, text: (v) => signed(v, 2, '×'), dimension: 'speed', epsilon: 0.005 } },
  { label: t('Agreement (arg-max)'), testId: 'agreement', value: (m) => formatPercent(m.fidelity?.agreement ?? null), candidateOnly: true },
  { label: t('Cosine'), testId: 'cosine', value: (m) => formatFixed(m.fidelity?.cosine ?? null, 5), candidateOnly: true, delta: { of: (d) => d.cosine, text: (v) => signed(v, 5), dimension: 'fidelity', epsilon: 0.000005 } },
  { label: t('SQNR'), testId: 'sqnr', value: (m) => (m.fidelity ? sqnrText(m.fidelity.sqnrDb, m.fidelity.identical) : '—'), candidateOnly: true, delta: { of: (d) => d.sqnrDb, text: (v) => signed(v, 1, ' dB'), dimension: 'fidelity', epsilon: 0.05 } },
  { label: t('Max abs error'), testId: 'max-abs-error', value: (m) => formatFixed(m.fidelity?.maxAbsError ?? null, 5), candidateOnly: true },
  { label: t('Labelled accuracy'), testId: 'accuracy', value: (m) => formatPercent(m.fidelity?.accuracy ?? null), delta: { of: (d) => d.accuracy, text: (v) => signed(v * 100, 2, ' pp'), dimension: 'fidelity', epsilon: 0.00005 } },
  { label: t('Evaluation data'), testId: 'data-source', value: (m) => m.fidelity?.dataSource ?? '—', candidateOnly: true },
  { label: t('Fidelity at quantize'), testId: 'quantize-fidelity', value: (m) => m.quantizeFidelity?.text ?? '—', candidateOnly: true },
];

/** "+0.12 dB" after a run's value: green when better, red when worse, muted within the noise or on other data. */
function deltaBadge(metric: Metric, m: ModelColumnDto): HTMLElement | null {
  const d = m.run?.delta;
  if (!metric.delta || !d) return null;
  const v = metric.delta.of(d);
  if (v === null) return null;
  const otherData = metric.delta.dimension === 'fidelity' && !d.sameData;
  const tone = otherData || Math.abs(v) < metric.delta.epsilon ? 'same' : v > 0 ? 'better' : 'worse';
  return h(
    'span',
    { class: `delta ${tone}`, 'data-testid': `delta-${metric.testId}`, title: otherData ? t('Against run {0}, measured on other data: not comparable', d.against) : t('Against run {0}', d.against) },
    metric.delta.text(v),
  );
}

const DIMENSION_TEXT: Record<RunDimension, string> = { size: t('larger'), fidelity: t('less accurate'), speed: t('slower') };

/** The run rows above the metrics: which layers it keeps float, what changed, and a warning when it got worse. */
function runRows(d: DashboardDto): HTMLElement[] {
  if (!d.models.some((m) => m.run)) return [];
  const cell = (m: ModelColumnDto, i: number, testId: string, make: (run: NonNullable<ModelColumnDto['run']>) => (Node | string)[], cls = ''): HTMLElement =>
    h('td', { 'data-testid': testId, 'data-model': i, ...(cls ? { class: cls } : {}) }, ...(m.run ? make(m.run) : ['—']));
  const kept = h(
    'tr',
    {},
    h('th', { scope: 'row' }, t('Kept float')),
    ...d.models.map((m, i) =>
      cell(m, i, 'run-excluded', (run) => [run.excluded.length ? h('span', { title: run.excluded.join('\n') }, run.excluded.length === 1 ? (run.excluded[0] ?? '') : t('{0} layers', run.excluded.length)) : t('none')]),
    ),
  );
  const change = h(
    'tr',
    {},
    h('th', { scope: 'row' }, t('Change')),
    ...d.models.map((m, i) =>
      cell(m, i, 'run-change', (run) => {
        const delta = run.delta;
        if (!delta) return [t('first run')];
        const parts: (Node | string)[] = [
          ...delta.newlyExcluded.map((n) => h('div', { class: 'added', title: t('Kept float from this run on') }, `+ ${n}`)),
          ...delta.noLongerExcluded.map((n) => h('div', { class: 'removed', title: t('Quantized again in this run') }, `− ${n}`)),
        ];
        if (!parts.length) parts.push(h('div', {}, t('same layers as run {0}', delta.against)));
        if (delta.worse.length) {
          const what = delta.worse.map((w) => DIMENSION_TEXT[w]).join(', ');
          parts.push(h('div', { class: 'run-warning', 'data-testid': 'run-warning', role: 'alert' }, `⚠ ${t('{0} than run {1}', what, delta.against)}`));
        }
        if (!delta.sameData) parts.push(h('div', { class: 'muted', 'data-testid': 'run-other-data' }, t('measured on other data than run {0}: fidelity not compared', delta.against)));
        return parts;
      }, m.run?.delta?.worse.length ? 'worse-run' : ''),
    ),
  );
  return [kept, change];
}

function columnHeader(m: ModelColumnDto, i: number): HTMLElement {
  const th = h('th', { scope: 'col', title: m.path, 'data-testid': m.run ? 'run-header' : undefined, 'data-model': i }, m.label);
  if (m.run) {
    const remove = h('button', { type: 'button', class: 'icon-button', 'data-testid': 'btn-remove-run', title: t('Remove run {0}', m.run.number), 'aria-label': t('Remove run {0}', m.run.number) }, '×');
    remove.addEventListener('click', () => post({ v: 1, type: 'removeRun', model: i }));
    th.append(' ', remove);
  }
  return th;
}

function summaryTable(d: DashboardDto): HTMLElement {
  const head = h('tr', {}, h('th', { scope: 'col' }, t('Metric')), ...d.models.map((m, i) => columnHeader(m, i)));
  const rows = METRICS.map((metric) =>
    h(
      'tr',
      {},
      h('th', { scope: 'row' }, metric.label),
      ...d.models.map((m, i) =>
        h(
          'td',
          {
            'data-testid': m.role === 'candidate' ? metric.testId : `reference-${metric.testId}`,
            'data-model': i,
            // A result below the fidelity floor is shown in bold: it runs, but may be useless.
            ...(metric.testId === 'quantize-fidelity' && m.quantizeFidelity?.belowFloor ? { class: 'below-floor' } : {}),
          },
          metric.candidateOnly && m.role === 'reference' ? '—' : metric.value(m),
          deltaBadge(metric, m),
        ),
      ),
    ),
  );
  return h('table', { class: 'summary', 'data-testid': 'summary-table' }, h('thead', {}, head), h('tbody', {}, ...runRows(d), ...rows));
}

function charts(d: DashboardDto): HTMLElement {
  const section = h('section', { class: 'charts' });
  const sized = d.models.filter((m) => m.bytes !== null);
  if (sized.length) {
    section.append(
      h('div', { class: 'chart-box', 'data-testid': 'size-chart' }, h('h2', {}, t('Size')),
        barChart(sized.map((m, i) => ({ label: m.label, value: m.bytes ?? 0, valueText: `${formatBytes(m.bytes)}${m.role === 'candidate' ? ` (${t('{0} smaller', formatFixed(m.sizeRatio, 2, '×'))})` : ''}`, className: `series-${Math.min(i, 5)}` })), t('Model size'))),
    );
  }
  const timed = d.models.filter((m) => m.latency);
  if (timed.length) {
    section.append(
      h('div', { class: 'chart-box', 'data-testid': 'latency-chart' }, h('h2', {}, t('Latency')),
        groupedBars(
          timed.map((m) => ({
            label: m.label,
            values: [m.latency!.p50Ms, m.latency!.p90Ms, m.latency!.p99Ms].map((v, series) => ({ series, value: v, text: `${v.toFixed(3)} ms` })),
          })),
          ['p50', 'p90', 'p99'],
          t('Latency percentiles per model'),
          'ms',
        )),
    );
  }
  const sampled = d.models.filter((m) => m.samplesMs.length > 0);
  if (sampled.length) {
    section.append(
      h('div', { class: 'chart-box', 'data-testid': 'latency-distribution' }, h('h2', {}, t('Run timings')),
        stripPlot(sampled.map((m) => ({ label: m.label, samples: m.samplesMs, series: d.models.indexOf(m) % 6 })), t('Distribution of run timings'), 'ms')),
    );
  }
  return section;
}

/** How much error a layer adds itself, 0..1 on a dB scale: the figure the list is ranked by (none when not measured). */
function badness(l: LayerErrorDto): number | null {
  if (l.localSqnrDb === null) return null;
  return Math.max(0, Math.min(1, (SQNR_CEILING_DB - l.localSqnrDb) / SQNR_CEILING_DB));
}

/** A row can be kept float when its run quantized it and still can (unknown: offered). */
const canExclude = (l: LayerErrorDto): boolean => !!l.node && l.excludable !== false && l.excluded !== true;

function layerRow(l: LayerErrorDto, model: number, selected: Set<string>, onSelect: () => void): HTMLElement {
  const width = 160;
  const amount = badness(l);
  const bar = s('svg', { class: 'mini', width, height: 12, viewBox: `0 0 ${width} 12`, 'aria-hidden': 'true' }, amount === null ? null : s('rect', { class: 'bar', x: 0, y: 1, height: 10, width: (amount * width).toFixed(1) }));
  const actions: HTMLElement[] = [];
  let pick: HTMLElement | null = null;
  if (l.node) {
    const graph = h('vscode-button', { secondary: true, 'data-testid': 'btn-show-in-graph', title: t('Show this node in the graph of the quantized model') }, t('Graph'));
    graph.addEventListener('click', () => post({ v: 1, type: 'showInGraph', model, node: l.node }));
    actions.push(graph);
  }
  if (canExclude(l)) {
    const exclude = h('vscode-button', { secondary: true, 'data-testid': 'btn-exclude', title: t('Keep this node in float and quantize again as a new run') }, t('Exclude and re-quantize'));
    exclude.addEventListener('click', () => post({ v: 1, type: 'excludeNodes', model, nodes: [l.node] }));
    actions.push(exclude);
    const box = h('input', { type: 'checkbox', class: 'pick', 'data-testid': 'layer-select', 'aria-label': t('Select {0} to keep float', l.node) });
    box.checked = selected.has(l.node);
    box.addEventListener('change', () => {
      if (box.checked) selected.add(l.node);
      else selected.delete(l.node);
      onSelect();
    });
    pick = box;
  } else if (l.excluded) {
    actions.push(h('span', { class: 'tag', 'data-testid': 'layer-kept-float', title: t('This run keeps the node in float') }, t('kept float')));
  }
  return h(
    'div',
    { class: 'layer-error-row series-bad', 'data-testid': 'layer-error-row', 'data-node': l.node, role: 'row' },
    h('span', { class: 'pick-cell', role: 'cell' }, pick),
    h('span', { class: 'name', role: 'cell', title: `${l.node}\n${l.tensor}` }, l.node || l.tensor),
    h('span', { class: 'op', role: 'cell' }, l.opType),
    h('span', { class: 'bar-cell', role: 'cell', title: t('Error this node adds itself') }, bar),
    h('span', { class: 'num', role: 'cell', 'data-testid': 'layer-local-sqnr', title: t('Error this node adds itself') }, l.localSqnrDb === null ? '—' : `${l.localSqnrDb.toFixed(1)} dB`),
    h('span', { class: 'num', role: 'cell', 'data-testid': 'layer-sqnr', title: t('SQNR of its output') }, sqnrText(l.sqnrDb, l.identical)),
    h('span', { class: 'num', role: 'cell', title: t('Cosine similarity') }, formatFixed(l.cosine, 4)),
    h('span', { role: 'cell', class: 'actions' }, ...actions),
  );
}

/** Layers ticked per run (by its model path): kept when the host sends the history again. */
const selections = new Map<string, Set<string>>();

function layerSection(m: ModelColumnDto, model: number, open: boolean): HTMLElement {
  const selected = selections.get(m.path) ?? new Set<string>();
  selections.set(m.path, selected);
  for (const node of selected) if (!m.layers.some((l) => l.node === node && canExclude(l))) selected.delete(node);
  const list = h('div', { class: 'layer-errors', role: 'table', 'aria-label': t('Per-layer error of {0}', m.label) });
  const header = h('div', { class: 'layer-error-row header', role: 'row' }, ...['', t('Node'), t('Op'), t('Added error'), t('Added'), t('SQNR'), t('Cosine'), ''].map((label) => h('span', { role: 'columnheader' }, label)));
  const excludeSelected = h('vscode-button', { 'data-testid': 'btn-exclude-selected', disabled: true, title: t('Keep the selected nodes in float and quantize again as a new run') }, t('Exclude selected and re-quantize'));
  const updateSelection = (): void => {
    excludeSelected.textContent = selected.size ? t('Exclude {0} selected and re-quantize', selected.size) : t('Exclude selected and re-quantize');
    excludeSelected.toggleAttribute('disabled', selected.size === 0);
  };
  excludeSelected.addEventListener('click', () => {
    if (!selected.size) return;
    post({ v: 1, type: 'excludeNodes', model, nodes: [...selected] });
    selected.clear();
    updateSelection();
  });
  const fill = (n: number): void => {
    list.replaceChildren(header, ...m.layers.slice(0, n).map((l) => layerRow(l, model, selected, updateSelection)));
    if (m.layers.length > n) {
      const more = h('button', { type: 'button', class: 'link', 'data-testid': 'btn-more-layers' }, t('Show all {0} layers', m.layers.length));
      more.addEventListener('click', () => fill(m.layers.length));
      list.append(more);
    }
  };
  fill(LAYERS_SHOWN);
  updateSelection();
  const anyExcludable = m.layers.some(canExclude);
  return h(
    'details',
    { class: 'per-layer', 'data-testid': 'per-layer', 'data-model': model, open },
    h('summary', {}, h('h2', {}, t('Per-layer error: {0} (worst first)', m.label))),
    anyExcludable ? h('div', { class: 'toolbar' }, excludeSelected) : null,
    list,
  );
}

function labelled(items: { label: string; value: string }[], testId: string, heading: string): HTMLElement | null {
  if (!items.length) return null;
  return h('section', { 'data-testid': testId }, h('h2', {}, heading), h('dl', {}, ...items.flatMap((e) => [h('dt', {}, e.label), h('dd', { 'data-label': e.label }, e.value)])));
}

function render(d: DashboardDto): void {
  title.textContent = d.title;
  const parts: (HTMLElement | null)[] = [summaryTable(d), charts(d)];
  // The newest run's layers open, the others folded.
  const lastWithLayers = d.models.map((m, i) => (m.role === 'candidate' && m.layers.length ? i : -1)).reduce((a, b) => Math.max(a, b), -1);
  d.models.forEach((m, i) => {
    if (m.role === 'candidate' && m.layers.length) parts.push(layerSection(m, i, i === lastWithLayers));
  });
  if (!d.models.some((m) => m.layers.length)) parts.push(h('p', { class: 'muted' }, t('No per-layer comparison in this report (run Compare with per-layer error to rank the layers).')));
  parts.push(labelled(d.environment, 'environment', t('Environment')), labelled(d.options, 'options', t('Quantization options')));
  content.replaceChildren(...parts.filter((p): p is HTMLElement => p !== null));
}

host.onMessage((m) => {
  host.setState(m.persist);
  render(m.report);
});
post({ v: 1, type: 'ready' });
