/**
 * Position-based features on a model's text view: hovers, go to definition, references,
 * document symbols and the code lenses over the graph header. All answer from the line map.
 */
import { MarkupKind, SymbolKind, type CodeLens, type DocumentSymbol, type Hover, type Location, type Position } from 'vscode-languageserver/node';
import { formatBytes } from '../core/report/format';
import type { LayerInfo, LayerMode, WeightStats } from '../core/analysis/layers';
import { elementTypes } from '../core/onnx/element-types';
import { dtypeName } from '../core/onnx/dtype';
import type { TypeProto } from '../core/onnx/schema';
import { tensorByteSize } from '../core/onnx/tensor';
import { walkGraphs } from '../core/onnx/walk';
import { typeText } from '../core/text/format';
import type { NodeLine, RenderedModel, TensorRef } from '../core/text/render';
import { lineRange } from './diagnostics';
import type { ModelState, ModelStore } from './models';

export function refAt(r: RenderedModel, pos: Position): TensorRef | undefined {
  return r.refsByLine[pos.line]?.find((ref) => pos.character >= ref.start && pos.character <= ref.end);
}

/** The node whose text covers the position (its first line), when it is outside any tensor name. */
export function nodeAt(r: RenderedModel, pos: Position): NodeLine | undefined {
  const hit = lineIndex(r).get(pos.line);
  return hit && pos.character >= hit.start && pos.character <= hit.end ? hit : undefined;
}

const lineIndexes = new WeakMap<RenderedModel, Map<number, NodeLine>>();
function lineIndex(r: RenderedModel): Map<number, NodeLine> {
  let m = lineIndexes.get(r);
  if (!m) {
    m = new Map(r.nodes.map((n) => [n.line, n]));
    lineIndexes.set(r, m);
  }
  return m;
}

function layerOf(state: ModelState, line: NodeLine): LayerInfo | undefined {
  return state.layers.find((l) => l.line === line)?.info;
}

/** Declared types of tensors (graph inputs, outputs, value_info), all graphs. */
const typeMaps = new WeakMap<RenderedModel, Map<string, TypeProto>>();
function declaredTypes(state: ModelState): Map<string, TypeProto> {
  const r = state.rendered!;
  let m = typeMaps.get(r);
  if (!m) {
    m = new Map();
    const graph = state.model?.proto.graph;
    if (graph) {
      for (const { graph: g } of walkGraphs(graph)) {
        for (const vi of [...g.input, ...g.output, ...g.valueInfo]) if (vi.type && !m.has(vi.name)) m.set(vi.name, vi.type);
      }
    }
    typeMaps.set(r, m);
  }
  return m;
}

export function hover(store: ModelStore, state: ModelState, pos: Position): Hover | undefined {
  const r = state.rendered;
  if (!r) return undefined;
  const ref = refAt(r, pos);
  if (ref) return { contents: { kind: MarkupKind.Markdown, value: tensorHover(store, state, ref.name) }, range: lineRange(ref.line, ref.start, ref.end) };
  const line = nodeAt(r, pos);
  if (line) return { contents: { kind: MarkupKind.Markdown, value: nodeHover(state, line) }, range: lineRange(line.line, line.opStart, line.opEnd) };
  return undefined;
}

function tensorHover(store: ModelStore, state: ModelState, name: string): string {
  const r = state.rendered!;
  const lines = [`**${md(name)}**`];
  const init = r.initializers.get(name);
  if (init) {
    let bytes = '?';
    try {
      bytes = formatBytes(tensorByteSize(init));
    } catch {
      /* invalid dims: shown as ? */
    }
    lines.push(`initializer · ${dtypeName(init.dataType)}[${init.dims.join(', ')}] · ${bytes}`);
    const s = store.weightStats(state, init);
    if (typeof s === 'string') lines.push('', `_${md(s)}_`);
    else lines.push('', ...statsLines(s));
  } else {
    const t = declaredTypes(state).get(name);
    const inferred = t ? undefined : (state.index ? elementTypes(state.index).get(name) : undefined);
    lines.push(t ? `tensor · \`${typeText(t)}\`` : inferred !== undefined ? `tensor · ${dtypeName(inferred)} (element type inferred; shape not declared)` : 'tensor · type not declared (no value_info)');
  }
  const producer = r.defs.get(name)?.find((d) => d.node !== undefined);
  if (producer) lines.push('', `produced by \`${md(producer.node!)}\``);
  const users = [...new Set((r.uses.get(name) ?? []).filter((u) => u.node !== undefined).map((u) => u.node!))];
  if (users.length) lines.push('', `used by ${users.slice(0, 8).map((u) => `\`${md(u)}\``).join(', ')}${users.length > 8 ? ` and ${users.length - 8} more` : ''}`);
  return lines.join('\n');
}

function statsLines(s: WeightStats): string[] {
  const f = (x: number) => (x === 0 || (Math.abs(x) >= 1e-3 && Math.abs(x) < 1e4) ? x.toPrecision(4) : x.toExponential(3));
  return [
    '| min | max | mean | std |',
    '|---:|---:|---:|---:|',
    `| ${f(s.min)} | ${f(s.max)} | ${f(s.mean)} | ${f(s.std)} |`,
    '',
    `outliers: ${(s.outlierShare * 100).toFixed(3)}% beyond 6 std · max|w| is ${s.outlierRatio.toFixed(1)}× the 99.9th percentile${s.outlierDominated ? ' (outlier-dominated)' : ''}`,
    '',
    `${s.suggested.type} per-tensor quantization would choose scale ${s.suggested.scale.toPrecision(6)}, zero point ${s.suggested.zeroPoint}`,
  ];
}

function nodeHover(state: ModelState, line: NodeLine): string {
  const n = line.node;
  const types = declaredTypes(state);
  const io = (names: string[]) => names.map((x) => (x ? `\`${md(x)}\`${types.get(x) ? ` ${typeText(types.get(x))}` : ''}` : '—')).join(', ');
  const lines = [`**${md(n.domain ? `${n.domain}.${n.opType}` : n.opType)}** \`${md(line.key)}\``, '', `inputs: ${io(n.input)}`, '', `outputs: ${io(n.output)}`];
  const info = layerOf(state, line);
  if (info) {
    if (info.quantized) lines.push('', `already quantized (${info.quantized})`);
    if (info.modes.length) lines.push('', `quantizable: ${info.modes.join(', ')}${info.onRequest ? ` (on request: ${info.onRequest.join(', ')})` : ''}`);
    else if (info.onRequest) lines.push('', `quantizable on request: ${info.onRequest.join(', ')}`);
    if (info.weightBytes) {
      const sizes = (Object.entries(info.savings) as [LayerMode, number][]).map(([m, b]) => `${m} ${formatBytes(b)}`);
      lines.push('', `weights ${formatBytes(info.weightBytes)}${sizes.length ? ` → ${sizes.join(' · ')}` : ''}`);
    }
    for (const note of info.notes) lines.push('', `⚠ ${md(note)}`);
  }
  return lines.join('\n');
}

function md(s: string): string {
  return s.replace(/[\\`*_[\]<>|]/g, (c) => `\\${c}`);
}

export function definition(r: RenderedModel, uri: string, pos: Position): Location[] {
  const ref = refAt(r, pos);
  if (!ref || ref.name === '') return [];
  return (r.defs.get(ref.name) ?? []).map((d) => ({ uri, range: lineRange(d.line, d.start, d.end) }));
}

export function references(r: RenderedModel, uri: string, pos: Position, includeDeclaration: boolean): Location[] {
  const ref = refAt(r, pos);
  if (!ref || ref.name === '') return [];
  const all = [...(includeDeclaration ? (r.defs.get(ref.name) ?? []) : []), ...(r.uses.get(ref.name) ?? [])];
  return all.sort((a, b) => a.line - b.line || a.start - b.start).map((d) => ({ uri, range: lineRange(d.line, d.start, d.end) }));
}

/** Nodes grouped by op type (groups in order of first appearance), then the initializers. */
export function documentSymbols(r: RenderedModel): DocumentSymbol[] {
  const groups = new Map<string, NodeLine[]>();
  for (const n of [...r.nodes].sort((a, b) => a.line - b.line)) {
    const op = n.node.domain ? `${n.node.domain}.${n.node.opType}` : n.node.opType;
    let g = groups.get(op);
    if (!g) groups.set(op, (g = []));
    g.push(n);
  }
  const symbols: DocumentSymbol[] = [];
  for (const [op, nodes] of groups) {
    const children = nodes.map<DocumentSymbol>((n) => ({
      name: n.key || op,
      detail: n.node.output.filter(Boolean).join(', '),
      kind: SymbolKind.Function,
      range: lineRange(n.line, n.start, n.end),
      selectionRange: lineRange(n.line, n.opStart, n.opEnd),
    }));
    const first = nodes[0]!;
    const last = nodes[nodes.length - 1]!;
    symbols.push({
      name: op,
      detail: `${nodes.length} node${nodes.length === 1 ? '' : 's'}`,
      kind: SymbolKind.Class,
      range: { start: { line: first.line, character: first.start }, end: { line: last.line, character: last.end } },
      selectionRange: lineRange(first.line, first.opStart, first.opEnd),
      children,
    });
  }
  const inits = [...r.defs.values()].flat().filter((d) => d.kind === 'initializer');
  if (inits.length) {
    symbols.push({
      name: 'initializers',
      detail: `${inits.length}`,
      kind: SymbolKind.Namespace,
      range: { start: { line: inits[0]!.line, character: 0 }, end: { line: inits[inits.length - 1]!.line, character: inits[inits.length - 1]!.end } },
      selectionRange: lineRange(inits[0]!.line, inits[0]!.start, inits[0]!.end),
      children: inits.map((d) => ({ name: d.name, kind: SymbolKind.Constant, range: lineRange(d.line, d.start, d.end), selectionRange: lineRange(d.line, d.start, d.end) })),
    });
  }
  return symbols;
}

/** Totals over the layer rules for the header lenses. */
export function layerTotals(layers: LayerInfo[]): { quantizable: number; risks: number; quantized: number; perMode: Record<LayerMode, { layers: number; before: number; after: number }> } {
  const perMode: Record<LayerMode, { layers: number; before: number; after: number }> = {
    dynamic: { layers: 0, before: 0, after: 0 },
    static: { layers: 0, before: 0, after: 0 },
    'weight-only': { layers: 0, before: 0, after: 0 },
  };
  let quantizable = 0;
  let risks = 0;
  let quantized = 0;
  for (const l of layers) {
    if (l.quantized) quantized++;
    if (l.modes.length && l.weightBytes > 0) quantizable++;
    if (l.notes.length) risks++;
    for (const m of l.modes) {
      const after = l.savings[m];
      if (after === undefined) continue;
      perMode[m].layers++;
      perMode[m].before += l.weightBytes;
      perMode[m].after += after;
    }
  }
  return { quantizable, risks, quantized, perMode };
}

export function codeLenses(state: ModelState): CodeLens[] {
  const r = state.rendered;
  if (!r) return [];
  const totals = layerTotals(state.layers.map((l) => l.info));
  const range = lineRange(r.signatureLine, 0, 0);
  const lens = (title: string): CodeLens => ({ range, command: { title, command: '' } });
  const out = [lens(`${totals.quantizable} quantizable layer${totals.quantizable === 1 ? '' : 's'} with weights`)];
  for (const [mode, t] of Object.entries(totals.perMode)) {
    if (t.layers) out.push(lens(`${mode}: ${formatBytes(t.before)} → ${formatBytes(t.after)} (saves ${formatBytes(t.before - t.after)})`));
  }
  if (totals.risks) out.push(lens(`${totals.risks} layer${totals.risks === 1 ? '' : 's'} with risks`));
  if (totals.quantized) out.push(lens(`${totals.quantized} node${totals.quantized === 1 ? '' : 's'} already quantized`));
  return out;
}
