/**
 * Graph view webview: draws the laid-out graph the worker computed on one canvas (pan, zoom,
 * level of detail when zoomed out, only what is on screen), colours nodes by what quantization
 * did or can do to them, and shows the selected node's details. Keyboard: arrows follow edges
 * (down: consumer, up: producer, left/right: neighbours on the same rank), Enter opens the
 * details, F fits the graph, +/- zoom. Every model-derived string goes in as text or onto the canvas.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import {
  isHostToGraphMessage,
  type GraphAction,
  type GraphDto,
  type GraphNodeDto,
  type GraphTensorDto,
  type GraphToHostMessage,
  type HostToGraphMessage,
} from '../src/shared/graphMessages';
import { connect } from './lib/vscodeApi';
import { t } from './lib/l10n';
import { h, clear } from './lib/dom';
import { formatShape } from './lib/format';

const host = connect<GraphToHostMessage, HostToGraphMessage>(isHostToGraphMessage);
const post = (m: GraphToHostMessage): void => host.post(m);

type Mode = 'static' | 'dynamic' | 'weight-only';
type State = 'quantized' | 'excluded' | 'keptFloat' | 'removed' | 'quantizable' | 'otherMode' | 'none' | 'io';

// ---------------------------------------------------------------------------------------------
// Skeleton

const app = document.getElementById('app') ?? document.body;
const status = h('span', { class: 'graph-status', 'data-testid': 'graph-status', role: 'status' }, t('Loading…'));
const fitButton = h('vscode-button', { secondary: true, 'data-testid': 'graph-fit', title: t('Fit the graph to the view (F)') }, t('Fit'));
const collapseBox = h('input', { type: 'checkbox', 'data-testid': 'graph-collapse' });
const peerButton = h('vscode-button', { secondary: true, hidden: true, 'data-testid': 'graph-open-peer' }, '');
const modeSelect = h('select', { 'data-testid': 'graph-mode', title: t('Colour nodes for this quantization mode') },
  h('option', { value: 'static' }, t('static')), h('option', { value: 'dynamic' }, t('dynamic')), h('option', { value: 'weight-only' }, t('weight-only')));
const searchInput = h('input', { type: 'search', placeholder: t('Search nodes and tensors'), 'data-testid': 'graph-search', 'aria-label': t('Search nodes and tensors') });
const results = h('ul', { class: 'graph-results', 'data-testid': 'graph-results', role: 'listbox' });
const canvas = h('canvas', { class: 'graph-canvas', tabindex: 0, 'data-testid': 'graph-canvas', 'aria-label': t('Model graph: arrow keys follow edges, Enter shows details') });
const details = h('aside', { class: 'graph-details', 'data-testid': 'graph-details', tabindex: -1, 'aria-live': 'polite' });
const legend = h('div', { class: 'graph-legend', 'data-testid': 'graph-legend' });
const toolbar = h('div', { class: 'graph-toolbar' },
  fitButton,
  peerButton,
  h('label', { class: 'graph-check' }, collapseBox, t('Collapse Q/DQ units')),
  h('label', { class: 'graph-check' }, t('Mode'), modeSelect),
  h('div', { class: 'graph-search' }, searchInput, results),
  status);
app.append(h('div', { class: 'graph-root' }, toolbar, h('div', { class: 'graph-body' }, h('div', { class: 'graph-stage' }, canvas, legend), details)));
const ctx = canvas.getContext('2d');

// ---------------------------------------------------------------------------------------------
// State

let graph: GraphDto | undefined;
let errors = new Map<string, number>();
let excluded = new Set<string>();
let tensors = new Map<string, GraphTensorDto>();
let succ: number[][] = [];
let pred: number[][] = [];
let selected = -1;
let selectedTensor = '';
let mode: Mode = 'static';
let view = { scale: 1, tx: 0, ty: 0 };
let firstPaint = true;
let expanded: string[] = [];
/** Unit heads folded one by one (when not all are), and every folded head of the graph shown. */
let units: string[] = [];
let foldedHeads = new Set<string>();
/** The node to select once the next layout arrives (a folded member's head). */
let reselect = '';

/** Whether any node is quantized (set per graph: stateOf runs for every node of every frame). */
let quantizedGraph = false;
const quantizedModel = (): boolean => quantizedGraph;

function stateOf(n: GraphNodeDto): State {
  if (n.kind !== 'op') return 'io';
  if (n.quantized || n.outcome?.kind === 'integer' || n.outcome?.kind === 'fused') return 'quantized';
  if (excluded.has(n.key)) return 'excluded';
  // Beside its quantized variant, a float model's node shows what became of it.
  if (n.outcome?.kind === 'float') return 'keptFloat';
  if (n.outcome?.kind === 'removed') return 'removed';
  if (n.modes.includes(mode)) return quantizedModel() ? 'keptFloat' : 'quantizable';
  return n.modes.length ? 'otherMode' : 'none';
}

const STATE_LABEL: Record<State, string> = {
  quantized: t('quantized (integer kernel or Q/DQ unit)'),
  excluded: t('kept float: excluded'),
  keptFloat: t('kept float'),
  removed: t('removed by the quantizer'),
  quantizable: t('quantizable in this mode'),
  otherMode: t('not quantizable in this mode'),
  none: t('not quantizable'),
  io: t('graph input / output'),
};

// ---------------------------------------------------------------------------------------------
// Colours: VS Code theme variables, read again when the theme changes.

let colours: Record<string, string> = {};
function readColours(): void {
  const css = getComputedStyle(document.body);
  const v = (name: string, fallback: string): string => css.getPropertyValue(name).trim() || fallback;
  colours = {
    background: v('--vscode-editor-background', '#1e1e1e'),
    foreground: v('--vscode-editor-foreground', '#cccccc'),
    muted: v('--vscode-descriptionForeground', '#999999'),
    border: v('--vscode-editorWidget-border', '#454545'),
    edge: v('--vscode-editorLineNumber-foreground', '#858585'),
    focus: v('--vscode-focusBorder', '#007fd4'),
    nodeFill: v('--vscode-editorWidget-background', '#252526'),
    quantized: v('--vscode-charts-green', '#89d185'),
    excluded: v('--vscode-charts-orange', '#d18616'),
    keptFloat: v('--vscode-charts-yellow', '#cca700'),
    removed: v('--vscode-disabledForeground', '#6f6f6f'),
    badge: v('--vscode-editorWarning-foreground', '#cca700'),
    fused: v('--vscode-charts-foreground', '#cccccc'),
    quantizable: v('--vscode-charts-blue', '#3794ff'),
    otherMode: v('--vscode-charts-purple', '#b180d7'),
    none: v('--vscode-disabledForeground', '#6f6f6f'),
    io: v('--vscode-charts-foreground', '#cccccc'),
    heatLow: v('--vscode-charts-red', '#f14c4c'),
    heatHigh: v('--vscode-charts-green', '#89d185'),
  };
}
readColours();
new MutationObserver(() => {
  readColours();
  renderLegend();
  requestDraw();
}).observe(document.body, { attributes: true, attributeFilter: ['class'] });

/** SQNR (dB) to a heat colour: ≤ 10 dB red, ≥ 40 dB green. */
const HEAT_LOW_DB = 10;
const HEAT_HIGH_DB = 40;
function heatShare(sqnrDb: number): number {
  return Math.min(1, Math.max(0, (sqnrDb - HEAT_LOW_DB) / (HEAT_HIGH_DB - HEAT_LOW_DB)));
}

/** Fills a box with the node's colour: its state, or its error on the heat scale (low to high blended). */
function paint(c: CanvasRenderingContext2D, n: GraphNodeDto, left: number, top: number, width: number, height: number): void {
  const e = errors.get(n.key);
  if (e === undefined) {
    c.fillStyle = colours[stateOf(n)] ?? colours.none ?? '#777';
    c.fillRect(left, top, width, height);
    return;
  }
  c.fillStyle = colours.heatLow ?? '#f00';
  c.fillRect(left, top, width, height);
  c.globalAlpha = heatShare(e);
  c.fillStyle = colours.heatHigh ?? '#0f0';
  c.fillRect(left, top, width, height);
  c.globalAlpha = 1;
}

// ---------------------------------------------------------------------------------------------
// Drawing

let drawQueued = false;
function requestDraw(): void {
  if (drawQueued) return;
  drawQueued = true;
  requestAnimationFrame(() => {
    drawQueued = false;
    draw();
  });
}

function resize(): void {
  const dpr = window.devicePixelRatio || 1;
  const r = canvas.getBoundingClientRect();
  canvas.width = Math.max(1, Math.round(r.width * dpr));
  canvas.height = Math.max(1, Math.round(r.height * dpr));
  requestDraw();
}
new ResizeObserver(resize).observe(canvas);

function draw(): void {
  const started = performance.now();
  paintGraph();
  // The last frame's cost, for the bench's pan/zoom figures (an attribute: no growing buffer).
  canvas.setAttribute('data-draw-ms', (performance.now() - started).toFixed(2));
}

function paintGraph(): void {
  if (!ctx) return;
  const dpr = window.devicePixelRatio || 1;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = colours.background ?? '#000';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (!graph) return;
  const { scale, tx, ty } = view;
  ctx.setTransform(dpr * scale, 0, 0, dpr * scale, dpr * tx, dpr * ty);
  // Visible world rectangle, with a margin for edges entering the screen.
  const x0 = -tx / scale - 50;
  const y0 = -ty / scale - 50;
  const x1 = (canvas.width / dpr - tx) / scale + 50;
  const y1 = (canvas.height / dpr - ty) / scale + 50;
  const detail = scale >= 0.45 ? 'full' : scale >= 0.12 ? 'boxes' : 'dots';

  ctx.lineWidth = 1 / scale;
  ctx.strokeStyle = colours.edge ?? '#888';
  ctx.beginPath();
  for (const e of graph.edges) {
    const p = e.points;
    if (p.length < 4) continue;
    let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
    for (let i = 0; i < p.length; i += 2) {
      const px = p[i] ?? 0, py = p[i + 1] ?? 0;
      if (px < minX) minX = px;
      if (px > maxX) maxX = px;
      if (py < minY) minY = py;
      if (py > maxY) maxY = py;
    }
    if (maxX < x0 || minX > x1 || maxY < y0 || minY > y1) continue;
    ctx.moveTo(p[0] ?? 0, p[1] ?? 0);
    if (detail === 'dots') ctx.lineTo(p[p.length - 2] ?? 0, p[p.length - 1] ?? 0);
    else for (let i = 2; i < p.length; i += 2) ctx.lineTo(p[i] ?? 0, p[i + 1] ?? 0);
  }
  ctx.stroke();

  ctx.font = '12px var(--vscode-font-family, sans-serif)';
  ctx.textBaseline = 'middle';
  ctx.textAlign = 'center';
  let drawn = 0;
  graph.nodes.forEach((n, i) => {
    const left = n.x - n.width / 2, top = n.y - n.height / 2;
    if (left > x1 || left + n.width < x0 || top > y1 || top + n.height < y0) return;
    drawn++;
    if (detail === 'dots') {
      paint(ctx, n, left, top, n.width, n.height);
      return;
    }
    // Zoomed out the state colour fills the box (labels are gone); close up it is a stripe beside the text.
    ctx.fillStyle = colours.nodeFill ?? '#222';
    ctx.fillRect(left, top, n.width, n.height);
    paint(ctx, n, left, top, detail === 'boxes' ? n.width : errors.has(n.key) ? 14 : 6, n.height);
    ctx.strokeStyle = i === selected ? (colours.focus ?? '#08f') : (colours.border ?? '#555');
    ctx.lineWidth = (i === selected ? 3 : 1) / scale;
    ctx.strokeRect(left, top, n.width, n.height);
    // A risk of the layer rules: a triangle in the top right corner (its lines are in the details).
    if (n.notes.length) {
      const r = left + n.width, s = Math.min(12, n.height / 2);
      ctx.fillStyle = colours.badge ?? '#cc0';
      ctx.beginPath();
      ctx.moveTo(r - s, top);
      ctx.lineTo(r, top);
      ctx.lineTo(r, top + s);
      ctx.closePath();
      ctx.fill();
    }
    // Fused by ONNX Runtime into another kernel: a dot in the bottom right corner.
    if (n.runtime?.fused) {
      ctx.fillStyle = colours.fused ?? '#888';
      ctx.beginPath();
      ctx.arc(left + n.width - 6, top + n.height - 6, 3, 0, 2 * Math.PI);
      ctx.fill();
    }
    if (detail === 'full') {
      ctx.fillStyle = colours.foreground ?? '#ddd';
      const head = n.kind === 'op' && n.unit === i && foldedHeads.has(n.key);
      const title = head ? n.label : n.opType;
      ctx.fillText(title, n.x + 3, n.y - (n.kind === 'op' ? 7 : 0), n.width - 12);
      if (n.kind === 'op') {
        ctx.fillStyle = colours.muted ?? '#999';
        ctx.font = '10px var(--vscode-font-family, sans-serif)';
        ctx.fillText(head ? n.key : n.label, n.x + 3, n.y + 8, n.width - 12);
        ctx.font = '12px var(--vscode-font-family, sans-serif)';
      }
    }
  });
  // How many boxes the frame drew (the rest were off screen), for tests.
  canvas.setAttribute('data-drawn', String(drawn));
  if (firstPaint) {
    firstPaint = false;
    performance.mark('graph-first-paint');
  }
}

function fit(): void {
  if (!graph) return;
  const r = canvas.getBoundingClientRect();
  const scale = Math.min(r.width / Math.max(1, graph.width), r.height / Math.max(1, graph.height), 2);
  view = { scale, tx: (r.width - graph.width * scale) / 2, ty: Math.max(0, (r.height - graph.height * scale) / 2) };
  requestDraw();
}

function centreOn(i: number): void {
  const n = graph?.nodes[i];
  if (!n) return;
  const r = canvas.getBoundingClientRect();
  const scale = Math.max(view.scale, 0.8);
  const sx = n.x * view.scale + view.tx, sy = n.y * view.scale + view.ty;
  if (scale === view.scale && sx > 40 && sx < r.width - 40 && sy > 40 && sy < r.height - 40) return;
  view = { scale, tx: r.width / 2 - n.x * scale, ty: r.height / 2 - n.y * scale };
}

function zoomAt(factor: number, sx: number, sy: number): void {
  const scale = Math.min(4, Math.max(0.005, view.scale * factor));
  const k = scale / view.scale;
  view = { scale, tx: sx - (sx - view.tx) * k, ty: sy - (sy - view.ty) * k };
  requestDraw();
}

// ---------------------------------------------------------------------------------------------
// Selection, keyboard, pointer

/** Selects a node; a user's selection (not one revealed from elsewhere) selects its pair in the graph beside. */
function select(i: number, tensor = '', fromUser = true): void {
  if (!graph || i < 0 || i >= graph.nodes.length) return;
  selected = i;
  selectedTensor = tensor;
  markSelected();
  const pair = graph.nodes[i]?.pair;
  if (fromUser && pair) post({ v: 1, type: 'selected', pair });
  centreOn(i);
  renderDetails();
  requestDraw();
}

/** The selected node's key (or marker label) on the canvas, for tests and assistive tools. */
function markSelected(): void {
  const n = graph?.nodes[selected];
  canvas.setAttribute('data-selected', n ? n.key || n.label : '');
}

function neighbourOnRank(i: number, direction: 1 | -1): number {
  const n = graph?.nodes[i];
  if (!graph || !n) return -1;
  let best = -1, bestDx = Infinity;
  graph.nodes.forEach((m, j) => {
    if (j === i || Math.abs(m.y - n.y) > 1) return;
    const dx = (m.x - n.x) * direction;
    if (dx > 0 && dx < bestDx) {
      bestDx = dx;
      best = j;
    }
  });
  return best;
}

function nearest(candidates: readonly number[], from: number): number {
  const n = graph?.nodes[from];
  if (!graph || !n || candidates.length === 0) return -1;
  return candidates.reduce((a, b) => (Math.abs((graph?.nodes[a]?.x ?? 0) - n.x) <= Math.abs((graph?.nodes[b]?.x ?? 0) - n.x) ? a : b));
}

canvas.addEventListener('keydown', (e) => {
  if (!graph) return;
  const r = canvas.getBoundingClientRect();
  let next = -1;
  switch (e.key) {
    case 'ArrowDown':
      next = selected < 0 ? 0 : nearest(succ[selected] ?? [], selected);
      break;
    case 'ArrowUp':
      next = selected < 0 ? 0 : nearest(pred[selected] ?? [], selected);
      break;
    case 'ArrowLeft':
      next = selected < 0 ? 0 : neighbourOnRank(selected, -1);
      break;
    case 'ArrowRight':
      next = selected < 0 ? 0 : neighbourOnRank(selected, 1);
      break;
    case 'Enter':
      if (selected >= 0) {
        renderDetails();
        details.focus();
      }
      e.preventDefault();
      return;
    case 'f':
    case 'F':
      fit();
      return;
    case '+':
    case '=':
      zoomAt(1.25, r.width / 2, r.height / 2);
      return;
    case '-':
      zoomAt(0.8, r.width / 2, r.height / 2);
      return;
    default:
      return;
  }
  e.preventDefault();
  if (next >= 0) select(next);
});

let drag: { x: number; y: number; moved: boolean } | undefined;
canvas.addEventListener('pointerdown', (e) => {
  canvas.focus();
  drag = { x: e.clientX, y: e.clientY, moved: false };
  canvas.setPointerCapture(e.pointerId);
});
canvas.addEventListener('pointermove', (e) => {
  if (!drag) return;
  const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
  if (Math.abs(dx) + Math.abs(dy) > 2) drag.moved = true;
  if (!drag.moved) return;
  view = { ...view, tx: view.tx + dx, ty: view.ty + dy };
  drag.x = e.clientX;
  drag.y = e.clientY;
  requestDraw();
});
canvas.addEventListener('pointerup', (e) => {
  const wasDrag = drag?.moved;
  drag = undefined;
  if (wasDrag || !graph) return;
  const r = canvas.getBoundingClientRect();
  const wx = (e.clientX - r.left - view.tx) / view.scale, wy = (e.clientY - r.top - view.ty) / view.scale;
  const hit = graph.nodes.findIndex((n) => Math.abs(wx - n.x) <= n.width / 2 && Math.abs(wy - n.y) <= n.height / 2);
  if (hit >= 0) select(hit);
});
canvas.addEventListener('wheel', (e) => {
  e.preventDefault();
  const r = canvas.getBoundingClientRect();
  zoomAt(Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
}, { passive: false });
canvas.addEventListener('dblclick', () => {
  const n = graph?.nodes[selected];
  if (n?.expandable) toggleExpanded(n.key);
});
fitButton.addEventListener('click', fit);
peerButton.addEventListener('click', () => post({ v: 1, type: 'openPeer' }));
collapseBox.addEventListener('change', () => {
  units = [];
  relayout();
});
modeSelect.addEventListener('change', () => {
  mode = modeSelect.value as Mode;
  renderLegend();
  renderDetails();
  requestDraw();
});

function relayout(): void {
  post({ v: 1, type: 'relayout', expanded, collapsed: collapseBox.checked, units: collapseBox.checked ? [] : units });
}

/** Folds or unfolds one unit (by its head's key); unfolding one of all-folded keeps the others folded. */
function toggleUnit(head: string): void {
  reselect = head;
  if (collapseBox.checked) {
    units = [...foldedHeads].filter((k) => k !== head);
    collapseBox.checked = false;
  } else {
    units = units.includes(head) ? units.filter((k) => k !== head) : [...units, head];
  }
  relayout();
}

function toggleExpanded(key: string): void {
  expanded = expanded.includes(key) ? expanded.filter((k) => k !== key) : [...expanded, key];
  relayout();
}

// ---------------------------------------------------------------------------------------------
// Details pane

const action = (label: string, act: GraphAction, target: string, testId: string): HTMLElement => {
  const b = h('vscode-button', { secondary: true, 'data-testid': testId }, label);
  b.addEventListener('click', () => {
    post({ v: 1, type: 'action', action: act, target });
    if (act === 'exclude') {
      excluded.add(target);
      renderDetails();
      requestDraw();
    }
  });
  return b;
};

function tensorRow(name: string): HTMLElement {
  const tdto = tensors.get(name);
  const lines: (string | HTMLElement)[] = [];
  if (tdto) {
    lines.push(`${tdto.dtype}${tdto.shape ? ` ${formatShape(tdto.shape)}` : ''} · ${tdto.kind}`);
    if (tdto.stats) lines.push(`min ${num(tdto.stats.min)} · max ${num(tdto.stats.max)} · mean ${num(tdto.stats.mean)} · std ${num(tdto.stats.std)}`);
    if (tdto.quant) lines.push(h('span', { class: 'quant', 'data-testid': 'graph-quant' }, `${tdto.quant.type} · ${t('scale')} ${tdto.quant.scale} · ${t('zero point')} ${tdto.quant.zeroPoint} · ${tdto.quant.axis}`));
  }
  return h('li', { class: name === selectedTensor ? 'tensor selected' : 'tensor', 'data-testid': 'graph-tensor', 'data-name': name },
    h('code', {}, name), ...lines.map((l) => h('div', { class: 'tensor-line' }, l)));
}

const num = (x: number): string => (Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(3) : x.toFixed(4));

function renderDetails(): void {
  clear(details);
  const n = graph?.nodes[selected];
  if (!n) {
    details.append(h('p', { class: 'muted' }, t('Select a node (click, or arrow keys in the graph) to see its details.')));
    return;
  }
  const state = stateOf(n);
  details.append(
    h('h2', {}, n.opType, ' ', h('span', { class: 'muted' }, n.label)),
    h('div', { class: `state state-${state}`, 'data-testid': 'graph-state' }, STATE_LABEL[state]),
  );
  if (n.kind === 'op') {
    details.append(h('div', { class: 'muted' }, `${t('key')}: `, h('code', {}, n.key), n.domain ? ` · ${n.domain}` : ''));
    const e = errors.get(n.key);
    if (e !== undefined) details.append(h('div', {}, t('added error: {0} dB SQNR', e.toFixed(1))));
    if (n.modes.length) details.append(h('div', {}, `${t('modes')}: ${n.modes.join(', ')}`));
    if (n.outcome) details.append(h('div', { class: `outcome outcome-${n.outcome.kind}`, 'data-testid': 'graph-outcome' }, n.outcome.text));
    else if (state === 'keptFloat' && n.notes.length === 0) details.append(h('div', { class: 'muted' }, t('not quantized in this model')));
    if (n.runtime) details.append(h('div', { class: 'muted', 'data-testid': 'graph-runtime' }, n.runtime.text));
    if (n.pair && graph?.peer) details.append(h('div', { class: 'muted', 'data-testid': 'graph-pair' }, t('in {0}: ', graph.peer.fileName), h('code', {}, n.pair)));
    for (const note of n.notes) details.append(h('div', { class: 'note', 'data-testid': 'graph-risk' }, note));
    const buttons = h('div', { class: 'graph-actions' },
      action(t('Copy name'), 'copyName', n.key, 'graph-copy'),
      action(t('Show in text view'), 'showInText', n.key, 'graph-show-text'));
    if (n.modes.length && !n.quantized && !excluded.has(n.key)) buttons.append(action(t('Exclude from quantization'), 'exclude', n.key, 'graph-exclude'));
    const head = n.unit >= 0 ? graph?.nodes[n.unit] : undefined;
    if (head) {
      const folded = foldedHeads.has(head.key);
      const b = h('vscode-button', { secondary: true, 'data-testid': 'graph-fold-unit', title: t('Show the integer kernel ONNX Runtime runs as one node, or its parts') }, folded ? t('Unfold unit') : t('Fold unit'));
      b.addEventListener('click', () => toggleUnit(head.key));
      buttons.append(b);
    }
    if (n.expandable) {
      const b = h('vscode-button', { secondary: true, 'data-testid': 'graph-expand' }, expanded.includes(n.key) ? t('Hide body') : t('Show body'));
      b.addEventListener('click', () => toggleExpanded(n.key));
      buttons.append(b);
    }
    details.append(buttons);
  }
  if (n.attributes.length) {
    details.append(h('h3', {}, t('Attributes')), h('table', { class: 'attrs' }, ...n.attributes.map((a) => h('tr', {}, h('th', {}, a.name), h('td', {}, a.value)))));
  }
  if (n.inputs.length) details.append(h('h3', {}, t('Inputs')), h('ul', { class: 'tensors' }, ...n.inputs.filter((x) => x).map(tensorRow)));
  if (n.outputs.length) details.append(h('h3', {}, t('Outputs')), h('ul', { class: 'tensors' }, ...n.outputs.filter((x) => x).map(tensorRow)));
}

// ---------------------------------------------------------------------------------------------
// Legend and search

function renderLegend(): void {
  clear(legend);
  const paired = graph?.peer?.role === 'quantized';
  const states: State[] = quantizedModel() || paired ? ['quantized', 'keptFloat', 'excluded', ...(paired ? (['removed'] as const) : []), 'otherMode', 'none'] : ['quantizable', 'excluded', 'otherMode', 'none'];
  for (const s of states) {
    const swatch = h('span', { class: 'swatch' });
    swatch.style.background = colours[s] ?? '';
    legend.append(h('div', { class: 'legend-item' }, swatch, STATE_LABEL[s]));
  }
  if (graph?.nodes.some((n) => n.notes.length)) {
    const badge = h('span', { class: 'swatch risk' });
    badge.style.background = colours.badge ?? '';
    legend.append(h('div', { class: 'legend-item' }, badge, t('risk from the layer rules (see details)')));
  }
  if (graph?.nodes.some((n) => n.runtime?.fused)) legend.append(h('div', { class: 'legend-item' }, '● ', t('fused by ONNX Runtime into another kernel (as it loads the model here)')));
  if (paired && graph?.peer) legend.append(h('div', { class: 'muted' }, t('what became of each node in {0}', graph.peer.fileName)));
  if (errors.size) {
    const bar = h('span', { class: 'heat-bar' });
    bar.style.background = `linear-gradient(to right, ${colours.heatLow}, ${colours.heatHigh})`;
    legend.append(h('div', { class: 'legend-item', 'data-testid': 'graph-heat' }, t('added error (SQNR)'), ` ≤${HEAT_LOW_DB} dB `, bar, ` ≥${HEAT_HIGH_DB} dB`));
    if (graph?.errorReport) legend.append(h('div', { class: 'muted' }, t('from {0}', graph.errorReport)));
  }
}

const MAX_RESULTS = 50;
function search(): void {
  clear(results);
  const q = searchInput.value.trim().toLowerCase();
  if (!graph || !q) return;
  const found: { label: string; kind: string; go: () => void }[] = [];
  graph.nodes.forEach((n, i) => {
    if (found.length >= MAX_RESULTS) return;
    if (n.key.toLowerCase().includes(q) || n.label.toLowerCase().includes(q) || n.opType.toLowerCase().includes(q)) found.push({ label: `${n.opType} ${n.label}`, kind: t('node'), go: () => select(i) });
  });
  for (const td of graph.tensors) {
    if (found.length >= MAX_RESULTS) break;
    if (!td.name.toLowerCase().includes(q) && !(td.shape && formatShape(td.shape).toLowerCase().includes(q))) continue;
    found.push({ label: `${td.name} ${td.dtype}${td.shape ? formatShape(td.shape) : ''}`, kind: t('tensor'), go: () => jumpToTensor(td.name) });
  }
  for (const f of found) {
    const li = h('li', { role: 'option', tabindex: 0, 'data-testid': 'graph-search-result' }, h('span', { class: 'muted' }, f.kind), ' ', f.label);
    const go = (): void => {
      f.go();
      clear(results);
      canvas.focus();
    };
    li.addEventListener('click', go);
    li.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') go();
    });
    results.append(li);
  }
}
searchInput.addEventListener('input', search);
searchInput.addEventListener('keydown', (e) => {
  if (e.key === 'Enter') (results.firstElementChild as HTMLElement | null)?.click();
  if (e.key === 'ArrowDown') (results.firstElementChild as HTMLElement | null)?.focus();
});

/** A tensor lands on its producer (or its first reader, for inputs and initializers). */
function jumpToTensor(name: string): void {
  if (!graph) return;
  let i = graph.nodes.findIndex((n) => n.outputs.includes(name));
  if (i < 0) i = graph.nodes.findIndex((n) => n.inputs.includes(name));
  if (i >= 0) select(i, name);
}

// ---------------------------------------------------------------------------------------------
// Host messages

function show(m: Extract<HostToGraphMessage, { type: 'graph' }>): void {
  performance.mark('graph-received');
  const keep = reselect || (graph && selected >= 0 ? graph.nodes[selected]?.key : undefined);
  reselect = '';
  const firstGraph = !graph;
  graph = m.graph;
  quantizedGraph = m.graph.nodes.some((n) => n.quantized !== '');
  canvas.setAttribute('data-model', m.graph.fileName);
  errors = new Map(m.graph.errors.map((e) => [e.node, e.sqnrDb]));
  excluded = new Set(m.excluded);
  tensors = new Map(m.graph.tensors.map((x) => [x.name, x]));
  expanded = [...m.graph.expanded];
  collapseBox.checked = m.graph.collapsed;
  const peer = m.graph.peer;
  peerButton.hidden = !peer;
  peerButton.textContent = peer ? (peer.role === 'float' ? t('Float model beside: {0}', peer.fileName) : t('Quantized model beside: {0}', peer.fileName)) : '';
  if (peer) peerButton.setAttribute('title', t('Open the graph of {0} beside this one; selecting a node selects it there too', peer.fileName));
  units = [...m.graph.units];
  const listed = new Set(m.graph.units);
  foldedHeads = new Set(m.graph.nodes.filter((n, i) => n.unit === i && (m.graph.collapsed || listed.has(n.key))).map((n) => n.key));
  succ = m.graph.nodes.map(() => []);
  pred = m.graph.nodes.map(() => []);
  for (const e of m.graph.edges) {
    succ[e.from]?.push(e.to);
    pred[e.to]?.push(e.from);
  }
  const ops = m.graph.nodes.filter((n) => n.kind === 'op').length;
  status.textContent = t('{0} nodes · laid out in {1} ms ({2})', ops, Math.round(m.graph.layoutMs), m.graph.layoutEngine);
  selected = keep ? m.graph.nodes.findIndex((n) => n.key === keep) : -1;
  markSelected();
  firstPaint = true;
  renderLegend();
  renderDetails();
  if (firstGraph || selected < 0) fit();
  else centreOn(selected);
  requestDraw();
}

/** A graph the worker wrote to a file (the host only names it): fetched, checked like a message, shown. */
async function fetchGraph(uri: string, excluded: string[]): Promise<void> {
  try {
    const response = await fetch(uri);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const message = { v: 1, type: 'graph', graph: (await response.json()) as unknown, excluded };
    if (!isHostToGraphMessage(message) || message.type !== 'graph') throw new Error(t('the graph file is not a graph'));
    show(message);
  } catch (e) {
    status.textContent = t('Cannot show the graph of this model: {0}', e instanceof Error ? e.message : String(e));
  }
}

host.onMessage((m) => {
  switch (m.type) {
    case 'loading':
      status.textContent = t('Laying out {0}…', m.fileName);
      return;
    case 'graph':
      show(m);
      return;
    case 'graphFile':
      void fetchGraph(m.uri, m.excluded);
      return;
    case 'error':
      status.textContent = m.message;
      return;
    case 'reveal': {
      const i = graph?.nodes.findIndex((n) => n.key === m.node) ?? -1;
      if (i >= 0) select(i, '', false);
      return;
    }
  }
});

renderDetails();
post({ v: 1, type: 'ready' });
