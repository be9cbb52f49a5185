/**
 * Plain SVG charts coloured by CSS classes that map to VS Code theme variables (media/*.css), so
 * light, dark and high-contrast themes work without code. Labels are SVG text nodes (textContent).
 */
import { h, s } from './dom';
import { t } from './l10n';

export interface Bar {
  label: string;
  value: number;
  /** Text shown after the bar. */
  valueText: string;
  /** CSS class choosing the theme colour (e.g. "series-0"). */
  className?: string;
  testId?: string;
  /** Extra text element with its own test id (e.g. the op count). */
  extra?: { text: string; testId: string };
}

const ROW = 22;
const LABEL_W = 180;
const BAR_W = 300;
const VALUE_W = 170;

/** Horizontal bars, one per row, scaled to the largest value. */
export function barChart(bars: Bar[], title: string): SVGElement {
  const max = Math.max(0, ...bars.map((b) => b.value)) || 1;
  const width = LABEL_W + BAR_W + VALUE_W;
  const height = bars.length * ROW + 4;
  const svg = s('svg', { class: 'chart', role: 'img', 'aria-label': title, viewBox: `0 0 ${width} ${height}`, width, height });
  svg.append(s('title', {}, title));
  bars.forEach((b, i) => {
    const y = i * ROW + 2;
    const g = s('g', { class: `bar-row ${b.className ?? 'series-0'}`, 'data-testid': b.testId });
    const w = Math.max(b.value > 0 ? 2 : 0, (b.value / max) * BAR_W);
    g.append(
      s('text', { class: 'label', x: LABEL_W - 6, y: y + ROW / 2, 'text-anchor': 'end', 'dominant-baseline': 'middle' }, truncate(b.label, 26)),
      s('rect', { class: 'bar', x: LABEL_W, y: y + 3, width: w.toFixed(1), height: ROW - 6, rx: 2 }),
      s('text', { class: 'value', x: LABEL_W + w + 6, y: y + ROW / 2, 'dominant-baseline': 'middle' }, b.valueText),
    );
    if (b.extra) g.append(s('text', { class: 'extra', 'data-testid': b.extra.testId, x: width - 4, y: y + ROW / 2, 'text-anchor': 'end', 'dominant-baseline': 'middle' }, b.extra.text));
    g.append(s('title', {}, `${b.label}: ${b.valueText}`));
    svg.append(g);
  });
  return svg;
}

/**
 * Horizontal bars as an HTML list (one row per item: label, SVG bar, value, extra), so labels wrap
 * and every figure is a real text element tests and screen readers can read.
 */
export function barList(bars: Bar[], title: string): HTMLElement {
  const max = Math.max(0, ...bars.map((b) => b.value)) || 1;
  return h(
    'div',
    { class: 'bar-list', role: 'list', 'aria-label': title },
    ...bars.map((b) => {
      const pct = b.value > 0 ? Math.max(0.5, (b.value / max) * 100) : 0;
      const bar = s('svg', { class: 'bar-svg', viewBox: '0 0 100 10', preserveAspectRatio: 'none', 'aria-hidden': 'true' }, s('rect', { class: 'bar', x: 0, y: 0, width: pct.toFixed(2), height: 10 }));
      return h(
        'div',
        { class: `bar-item ${b.className ?? 'series-0'}`, role: 'listitem', 'data-testid': b.testId, title: `${b.label}: ${b.valueText}` },
        h('span', { class: 'bar-label' }, b.label),
        bar,
        h('span', { class: 'bar-value' }, b.valueText),
        b.extra ? h('span', { class: 'bar-extra', 'data-testid': b.extra.testId }, b.extra.text) : null,
      );
    }),
  );
}

export interface Group {
  label: string;
  values: { series: number; value: number; text: string }[];
}

/** Vertical grouped bars (e.g. p50/p90/p99 per model). */
export function groupedBars(groups: Group[], seriesNames: string[], title: string, unit: string): SVGElement {
  const max = Math.max(0, ...groups.flatMap((g) => g.values.map((v) => v.value))) || 1;
  const barW = 22;
  const gap = 18;
  const plotH = 160;
  const top = 18;
  const left = 64;
  const groupW = Math.max(seriesNames.length * barW + gap, 150);
  const width = Math.max(260, groups.length * groupW + left + 10);
  const height = plotH + top + 46;
  const svg = s('svg', { class: 'chart', role: 'img', 'aria-label': title, viewBox: `0 0 ${width} ${height}`, width, height });
  svg.append(s('title', {}, title));
  svg.append(s('line', { class: 'axis', x1: left - 4, x2: width, y1: top + plotH, y2: top + plotH }));
  svg.append(s('text', { class: 'axis-label', x: left - 8, y: top + 4, 'text-anchor': 'end' }, `${trimNumber(max)} ${unit}`));
  groups.forEach((g, gi) => {
    const x0 = left + gi * groupW;
    for (const v of g.values) {
      const h = (v.value / max) * plotH;
      const x = x0 + v.series * barW;
      const rect = s('rect', { class: `bar series-${v.series}`, x, y: (top + plotH - h).toFixed(1), width: barW - 3, height: h.toFixed(1) });
      rect.append(s('title', {}, `${g.label} ${seriesNames[v.series] ?? ''}: ${v.text}`));
      svg.append(rect);
    }
    svg.append(s('text', { class: 'label', x: x0 + (seriesNames.length * barW) / 2, y: top + plotH + 16, 'text-anchor': 'middle' }, truncate(g.label, Math.floor(groupW / 7))));
  });
  seriesNames.forEach((name, i) => {
    const x = left + i * 70;
    svg.append(s('rect', { class: `bar series-${i}`, x, y: height - 14, width: 10, height: 10 }), s('text', { class: 'label', x: x + 14, y: height - 5 }, name));
  });
  return svg;
}

/** One row of ticks per model: where the individual run timings fall on a shared axis. */
export function stripPlot(rows: { label: string; samples: number[]; series: number }[], title: string, unit: string): SVGElement {
  const all = rows.flatMap((r) => r.samples);
  const lo = Math.min(...all);
  const hi = Math.max(...all);
  // A few stalls can be 100× the typical run: past 10× spread a log axis keeps the bulk readable.
  const log = lo > 0 && hi / lo >= 10;
  const f = log ? Math.log : (v: number): number => v;
  const span = f(hi) - f(lo) || 1;
  const rowH = 26;
  const plotW = 420;
  const width = LABEL_W + plotW + 20;
  const height = rows.length * rowH + 28;
  const svg = s('svg', { class: 'chart', role: 'img', 'aria-label': title, viewBox: `0 0 ${width} ${height}`, width, height });
  svg.append(s('title', {}, title));
  rows.forEach((r, i) => {
    const y = i * rowH + 4;
    svg.append(s('text', { class: 'label', x: LABEL_W - 6, y: y + rowH / 2, 'text-anchor': 'end', 'dominant-baseline': 'middle' }, truncate(r.label, 26)));
    const g = s('g', { class: `ticks series-${r.series}` });
    for (const v of r.samples) {
      const x = LABEL_W + ((f(v) - f(lo)) / span) * plotW;
      g.append(s('line', { class: 'tick', x1: x.toFixed(1), x2: x.toFixed(1), y1: y + 4, y2: y + rowH - 4 }));
    }
    svg.append(g);
  });
  const axisY = rows.length * rowH + 8;
  svg.append(
    s('line', { class: 'axis', x1: LABEL_W, x2: LABEL_W + plotW, y1: axisY, y2: axisY }),
    s('text', { class: 'axis-label', x: LABEL_W, y: axisY + 14 }, `${trimNumber(lo)} ${unit}`),
    s('text', { class: 'axis-label', x: LABEL_W + plotW, y: axisY + 14, 'text-anchor': 'end' }, `${trimNumber(hi)} ${unit}`),
  );
  if (log) svg.append(s('text', { class: 'axis-label', 'data-scale': 'log', x: LABEL_W + plotW / 2, y: axisY + 14, 'text-anchor': 'middle' }, t('log scale')));
  return svg;
}

function truncate(text: string, n: number): string {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}

function trimNumber(n: number): string {
  return Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2);
}
