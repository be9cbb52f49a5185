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
}

const METRICS: Metric[] = [
  { label: t('Size'), testId: 'size', value: (m) => formatBytes(m.bytes) },
  { label: t('Size ratio'), testId: 'size-ratio', value: (m) => formatFixed(m.sizeRatio, 2, '×') },
  { label: t('Latency p50'), testId: 'latency-p50', value: (m) => formatFixed(m.latency?.p50Ms ?? null, 3, ' ms') },
  { label: t('Latency p90'), testId: 'latency-p90', value: (m) => formatFixed(m.latency?.p90Ms ?? null, 3, ' ms') },
  { label: t('Latency p99'), testId: 'latency-p99', value: (m) => formatFixed(m.latency?.p99Ms ?? null, 3, ' ms') },
  { label: t('Speedup (p50)'), testId: 'speedup', value: (m) => formatFixed(m.speedup, 2, '×') },
  { label: t('Agreement (arg-max)'), testId: 'agreement', value: (m) => formatPercent(m.fidelity?.agreement ?? null), candidateOnly: true },
  { label: t('Cosine'), testId: 'cosine', value: (m) => formatFixed(m.fidelity?.cosine ?? null, 5), candidateOnly: true },
  { label: t('SQNR'), testId: 'sqnr', value: (m) => (m.fidelity ? sqnrText(m.fidelity.sqnrDb, m.fidelity.identical) : '—'), candidateOnly: true },
  { label: t('Max abs error'), testId: 'max-abs-error', value: (m) => formatFixed(m.fidelity?.maxAbsError ?? null, 5), candidateOnly: true },
  { label: t('Labelled accuracy'), testId: 'accuracy', value: (m) => formatPercent(m.fidelity?.accuracy ?? null) },
  { label: t('Evaluation data'), testId: 'data-source', value: (m) => m.fidelity?.dataSource ?? '—', candidateOnly: true },
  { label: t('Fidelity at quantize'), testId: 'quantize-fidelity', value: (m) => m.quantizeFidelity?.text ?? '—', candidateOnly: true },
];

function summaryTable(d: DashboardDto): HTMLElement {
  const head = h('tr', {}, h('th', { scope: 'col' }, t('Metric')), ...d.models.map((m) => h('th', { scope: 'col', title: m.path }, m.label)));
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
        ),
      ),
    ),
  );
  return h('table', { class: 'summary', 'data-testid': 'summary-table' }, h('thead', {}, head), h('tbody', {}, ...rows));
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

/** How bad a layer is, 0..1: the error it adds itself (else its tensor's), on a dB scale. */
function badness(l: LayerErrorDto): number {
  const v = l.localSqnrDb ?? l.sqnrDb;
  if (v === null) return l.identical ? 0 : 1;
  return Math.max(0, Math.min(1, (SQNR_CEILING_DB - v) / SQNR_CEILING_DB));
}

function layerRow(l: LayerErrorDto, model: number): HTMLElement {
  const width = 160;
  const bar = s('svg', { class: 'mini', width, height: 12, viewBox: `0 0 ${width} 12`, 'aria-hidden': 'true' }, s('rect', { class: 'bar', x: 0, y: 1, height: 10, width: (badness(l) * width).toFixed(1) }));
  const exclude = h('vscode-button', { secondary: true, 'data-testid': 'btn-exclude', title: t('Keep this node in float and quantize again') }, t('Exclude and re-quantize'));
  exclude.addEventListener('click', () => post({ v: 1, type: 'excludeNodes', model, nodes: [l.node] }));
  const graph = h('vscode-button', { secondary: true, 'data-testid': 'btn-show-in-graph', title: t('Show this node in the graph of the quantized model') }, t('Graph'));
  graph.addEventListener('click', () => post({ v: 1, type: 'showInGraph', model, node: l.node }));
  return h(
    'div',
    { class: 'layer-error-row series-bad', 'data-testid': 'layer-error-row', 'data-node': l.node, role: 'row' },
    h('span', { class: 'name', role: 'cell', title: `${l.node}\n${l.tensor}` }, l.node || l.tensor),
    h('span', { class: 'op', role: 'cell' }, l.opType),
    h('span', { class: 'bar-cell', role: 'cell' }, bar),
    h('span', { class: 'num', role: 'cell', 'data-testid': 'layer-local-sqnr', title: t('Error this node adds itself') }, l.localSqnrDb === null ? '—' : `${l.localSqnrDb.toFixed(1)} dB`),
    h('span', { class: 'num', role: 'cell', 'data-testid': 'layer-sqnr', title: t('SQNR of its output') }, sqnrText(l.sqnrDb, l.identical)),
    h('span', { class: 'num', role: 'cell', title: t('Cosine similarity') }, formatFixed(l.cosine, 4)),
    h('span', { role: 'cell', class: 'actions' }, ...(l.node ? [graph, exclude] : [])),
  );
}

function layerSection(m: ModelColumnDto, model: number): HTMLElement {
  const list = h('div', { class: 'layer-errors', role: 'table', 'aria-label': t('Per-layer error of {0}', m.label) });
  const header = h('div', { class: 'layer-error-row header', role: 'row' }, ...[t('Node'), t('Op'), t('Error'), t('Added'), t('SQNR'), t('Cosine'), ''].map((label) => h('span', { role: 'columnheader' }, label)));
  const fill = (n: number): void => {
    list.replaceChildren(header, ...m.layers.slice(0, n).map((l) => layerRow(l, model)));
    if (m.layers.length > n) {
      const more = h('button', { type: 'button', class: 'link', 'data-testid': 'btn-more-layers' }, t('Show all {0} layers', m.layers.length));
      more.addEventListener('click', () => fill(m.layers.length));
      list.append(more);
    }
  };
  fill(LAYERS_SHOWN);
  return h('section', { class: 'per-layer', 'data-testid': 'per-layer' }, h('h2', {}, t('Per-layer error: {0} (worst first)', m.label)), list);
}

function labelled(items: { label: string; value: string }[], testId: string, heading: string): HTMLElement | null {
  if (!items.length) return null;
  return h('section', { 'data-testid': testId }, h('h2', {}, heading), h('dl', {}, ...items.flatMap((e) => [h('dt', {}, e.label), h('dd', { 'data-label': e.label }, e.value)])));
}

function render(d: DashboardDto): void {
  title.textContent = d.title;
  const parts: (HTMLElement | null)[] = [summaryTable(d), charts(d)];
  d.models.forEach((m, i) => {
    if (m.role === 'candidate' && m.layers.length) parts.push(layerSection(m, i));
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
