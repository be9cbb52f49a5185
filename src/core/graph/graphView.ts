/**
 * The graph view of a model: every node of the main graph (and of the bodies the user expanded),
 * the edges between them, the graph's inputs and outputs as markers, and what the view shows
 * about each tensor. Node identity is the graph index's (`indexModel`, keys); quantization facts
 * come from the layer rules (`analyzeLayers`) and the stored-quantization analysis, never
 * recomputed here. Positions are filled in by `layoutGraph` (layout.ts).
 *
 * Q/DQ units: a float op whose data inputs come from DequantizeLinear nodes, with those DQ nodes
 * (when they feed only it) and the QuantizeLinear nodes reading its outputs (when they read only
 * them). ONNX Runtime runs such a unit as one integer kernel, so `collapsed: true` draws it as one
 * "int8 Conv" node.
 */
import { analyzeLayers, type LayerInfo } from '../analysis/layers';
import { quantizedFamily, QDQ_OPS } from '../onnx/op-rules';
import { analyzeQuantization, type QuantizedTensor } from '../analysis/quantization';
import { elementTypes } from '../analysis/element-types';
import { ioInfo } from '../analysis/summary';
import { weightStats } from '../analysis/stats';
import { AttributeProto_AttributeType as AttrType, type AttributeProto } from '../onnx/schema';
import { dtypeName, isFloatType } from '../onnx/dtype';
import { indexModel, type IndexedNode, type ModelIndex } from '../onnx/graph-index';
import type { OnnxModel } from '../onnx/model';
import { tensorShape } from '../onnx/tensor';
import { attributeGraphs } from '../onnx/walk';
import type { GraphAttributeDto, GraphDto, GraphEdgeDto, GraphNodeDto, GraphTensorDto } from './types';

export interface GraphViewOptions {
  /** Keys of the If/Loop/Scan nodes whose bodies are shown. */
  expanded?: readonly string[];
  /** Draw each Q/DQ unit as one node. */
  collapsed?: boolean;
  /** Skip initializer statistics (the bench's synthetic graphs, huge models). */
  stats?: boolean;
}

const MAX_ATTR_TEXT = 200;
const MAX_LIST_ITEMS = 16;
/** Initializers above this many elements get no statistics in the view (the hover has them). */
const STATS_ELEMENT_LIMIT = 1 << 24;

/** The graph without positions (layoutGraph sets x, y, points). */
export function buildGraphView(model: Pick<OnnxModel, 'proto' | 'path'> & { external?: OnnxModel['external'] }, options: GraphViewOptions = {}): GraphDto {
  const index = indexModel(model.proto);
  const expanded = new Set(options.expanded ?? []);
  const layers = new Map<string, LayerInfo>();
  for (const l of analyzeLayers(model, { index, stats: options.stats !== false })) layers.set(l.node, l);

  // Visible scopes: the main graph and bodies whose owners are expanded and visible themselves.
  const visibleScopes = new Set(index.scopes.filter((s) => s.depth === 0));
  for (const s of index.scopes) if (s.owner && s.parent && visibleScopes.has(s.parent) && expanded.has(s.owner.key)) visibleScopes.add(s);
  const entries = index.nodes.filter((n) => visibleScopes.has(n.scope));

  const nodes: GraphNodeDto[] = [];
  const idOf = new Map<IndexedNode, number>();
  const types = elementTypes(index);
  const main = index.main;
  const initializers = new Set(main.initializer.map((t) => t.name));

  const marker = (kind: 'input' | 'output', name: string): GraphNodeDto => ({
    key: '',
    label: name,
    opType: kind === 'input' ? 'Input' : 'Output',
    kind,
    domain: '',
    depth: 0,
    inputs: kind === 'output' ? [name] : [],
    outputs: kind === 'input' ? [name] : [],
    attributes: [],
    expandable: false,
    modes: [],
    quantized: '',
    notes: [],
    unit: -1,
    ...box(name),
  });

  const inputMarker = new Map<string, number>();
  for (const vi of main.input) {
    if (initializers.has(vi.name)) continue;
    inputMarker.set(vi.name, nodes.length);
    nodes.push(marker('input', vi.name));
  }
  for (const entry of entries) {
    const { node } = entry;
    const layer = layers.get(entry.key);
    idOf.set(entry, nodes.length);
    nodes.push({
      key: entry.key,
      label: entry.label,
      opType: node.opType,
      kind: 'op',
      domain: node.domain,
      depth: entry.scope.depth,
      inputs: [...node.input],
      outputs: [...node.output],
      attributes: node.attribute.map(attributeDto),
      expandable: node.attribute.some((a) => attributeGraphs(a).length > 0),
      modes: layer ? [...layer.modes] : [],
      quantized: quantizedFamily(node.opType) ?? '',
      notes: layer ? [...layer.notes] : [],
      unit: -1,
      ...box(`${node.opType} ${entry.label}`),
    });
  }
  markUnits(index, entries, idOf, nodes, types);
  const outputMarker = new Map<string, number>();
  for (const vi of main.output) {
    outputMarker.set(vi.name, nodes.length);
    nodes.push(marker('output', vi.name));
  }

  // Edges: producer → consumer for every visible pair, graph inputs and outputs through their markers.
  let edges: GraphEdgeDto[] = [];
  for (const entry of entries) {
    const to = idOf.get(entry);
    if (to === undefined) continue;
    let linked = false;
    for (const name of new Set(entry.node.input)) {
      if (!name) continue;
      const producer = index.producer(name);
      const from = producer ? idOf.get(producer) : inputMarker.get(name);
      if (from === undefined) continue;
      edges.push({ from, to, tensor: name, points: [] });
      linked = true;
    }
    // A body node with nothing visible feeding it hangs below its owner.
    const owner = entry.scope.owner && index.byKey(entry.scope.owner.key);
    const ownerId = owner ? idOf.get(owner) : undefined;
    if (!linked && ownerId !== undefined) edges.push({ from: ownerId, to, tensor: '', points: [] });
  }
  for (const [name, to] of outputMarker) {
    const producer = index.producer(name);
    const from = producer ? idOf.get(producer) : inputMarker.get(name);
    if (from !== undefined) edges.push({ from, to, tensor: name, points: [] });
  }

  let shown = nodes;
  if (options.collapsed) ({ nodes: shown, edges } = collapseUnits(nodes, edges));

  return {
    fileName: model.path.split(/[\\/]/).pop() ?? model.path,
    nodes: shown,
    edges,
    tensors: tensorTable(model, index, shown, options.stats !== false),
    width: 0,
    height: 0,
    expanded: [...expanded].filter((k) => index.byKey(k)),
    collapsed: options.collapsed === true,
    layoutMs: 0,
    layoutEngine: '',
    errors: [],
    errorReport: '',
  };
}

/** Width from the label (canvas text at 12px is about 7 units a character), fixed height. */
function box(label: string): { x: number; y: number; width: number; height: number } {
  return { x: 0, y: 0, width: Math.min(260, Math.max(72, label.length * 7 + 24)), height: 34 };
}

function markUnits(index: ModelIndex, entries: readonly IndexedNode[], idOf: Map<IndexedNode, number>, nodes: GraphNodeDto[], types: ReturnType<typeof elementTypes>): void {
  const isOp = (n: IndexedNode | undefined, op: string): n is IndexedNode => !!n && n.node.opType === op && (n.node.domain === '' || n.node.domain === 'ai.onnx');
  for (const entry of entries) {
    const { node } = entry;
    if (QDQ_OPS.has(node.opType) || quantizedFamily(node.opType)) continue;
    const head = idOf.get(entry);
    if (head === undefined) continue;
    const dqs = node.input.map((i) => index.producer(i)).filter((p) => isOp(p, 'DequantizeLinear'));
    if (dqs.length === 0) continue;
    const own = (n: IndexedNode, reads: string): boolean => index.consumers(reads).every((c) => c === entry || c === n);
    const members = dqs.filter((dq) => own(dq, dq.node.output[0] ?? ''));
    for (const out of node.output) {
      const readers = index.consumers(out);
      for (const q of readers) if (isOp(q, 'QuantizeLinear') && q.node.input[0] === out) members.push(q);
    }
    const dtype = types.get(dqs[0]?.node.input[0] ?? '');
    const headDto = nodes[head];
    if (!headDto) continue;
    headDto.unit = head;
    headDto.quantized = 'qdq';
    headDto.attributes.push({ name: '(unit)', value: `${dtype !== undefined ? dtypeName(dtype) : 'int'} ${node.opType}` });
    for (const m of members) {
      const id = idOf.get(m);
      const dto = id === undefined ? undefined : nodes[id];
      if (dto && dto.unit === -1) dto.unit = head;
    }
  }
}

/** Unit members folded into their head: edges re-attached to heads, edges inside a unit dropped. */
function collapseUnits(nodes: GraphNodeDto[], edges: GraphEdgeDto[]): { nodes: GraphNodeDto[]; edges: GraphEdgeDto[] } {
  const newId: number[] = [];
  const kept: GraphNodeDto[] = [];
  nodes.forEach((n, i) => {
    if (n.unit === -1 || n.unit === i) {
      newId[i] = kept.length;
      const unitLabel = n.unit === i ? n.attributes.find((a) => a.name === '(unit)')?.value : undefined;
      // Unit heads point at their own new position.
      kept.push(unitLabel ? { ...n, label: unitLabel, unit: kept.length, ...box(`${unitLabel} ${n.label}`), inputs: [...n.inputs], outputs: [...n.outputs] } : n);
    }
  });
  nodes.forEach((n, i) => {
    if (n.unit !== -1 && n.unit !== i) newId[i] = newId[n.unit] ?? -1;
  });
  const seen = new Set<string>();
  const out: GraphEdgeDto[] = [];
  for (const e of edges) {
    const from = newId[e.from] ?? -1;
    const to = newId[e.to] ?? -1;
    if (from < 0 || to < 0 || from === to) continue;
    const id = `${from}>${to}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push({ from, to, tensor: e.tensor, points: [] });
  }
  // The head shows the unit's outer tensors: the DQ inputs and the Q outputs.
  nodes.forEach((n, i) => {
    if (n.unit === -1 || n.unit === i) return;
    const head = kept[newId[n.unit] ?? -1];
    if (!head) return;
    if (n.opType === 'DequantizeLinear') head.inputs.push(...n.inputs.filter((x) => x && !head.inputs.includes(x)));
    if (n.opType === 'QuantizeLinear') head.outputs.push(...n.outputs.filter((x) => x && !head.outputs.includes(x)));
  });
  return { nodes: kept, edges: out };
}

function tensorTable(model: { external?: OnnxModel['external'] }, index: ModelIndex, nodes: readonly GraphNodeDto[], withStats: boolean): GraphTensorDto[] {
  const types = elementTypes(index);
  const declared = new Map<string, (number | string)[] | null>();
  const kinds = new Map<string, GraphTensorDto['kind']>();
  for (const scope of index.scopes) {
    for (const vi of [...scope.graph.valueInfo, ...scope.graph.input, ...scope.graph.output]) {
      const info = ioInfo(vi);
      declared.set(vi.name, info.shape ? info.shape.map((d) => d ?? '?') : null);
    }
  }
  for (const vi of index.main.input) kinds.set(vi.name, 'input');
  for (const vi of index.main.output) kinds.set(vi.name, 'output');
  const quant = new Map<string, QuantizedTensor>();
  try {
    for (const q of analyzeQuantization(index, model).tensors) if (!quant.has(q.tensor)) quant.set(q.tensor, q);
  } catch {
    // A model whose quantization parameters cannot be read still gets its graph.
  }
  const names = new Set<string>();
  for (const n of nodes) for (const t of [...n.inputs, ...n.outputs]) if (t) names.add(t);
  const out: GraphTensorDto[] = [];
  for (const name of names) {
    const constant = index.constant(name);
    const q = quant.get(name);
    let stats: GraphTensorDto['stats'] = null;
    if (withStats && constant && isFloatType(constant.tensor.dataType) && tensorShape(constant.tensor).reduce((a, b) => a * b, 1) <= STATS_ELEMENT_LIMIT) {
      try {
        const s = weightStats(constant.tensor, model);
        stats = { min: s.min, max: s.max, mean: s.mean, std: s.std };
      } catch {
        stats = null;
      }
    }
    const dtype = constant ? constant.tensor.dataType : types.get(name);
    out.push({
      name,
      dtype: dtype !== undefined ? dtypeName(dtype) : 'unknown',
      shape: constant ? tensorShape(constant.tensor) : (declared.get(name) ?? null),
      kind: constant ? constant.kind : (kinds.get(name) ?? 'activation'),
      stats,
      quant: q ? quantDto(q) : null,
    });
  }
  return out;
}

function quantDto(q: QuantizedTensor): NonNullable<GraphTensorDto['quant']> {
  const s = q.scale;
  const z = q.zeroPoint;
  const num = (x: number): string => (Number.isInteger(x) ? String(x) : x.toPrecision(6));
  return {
    type: q.type,
    scale: !s ? '—' : s.kind === 'per-tensor' ? num(s.value) : `${s.count} values in [${num(s.min)}, ${num(s.max)}]`,
    zeroPoint: !z ? '—' : z.kind === 'per-tensor' || z.kind === 'implicit' ? num(z.value) : `${z.count} values in [${num(z.min)}, ${num(z.max)}]`,
    axis: !s || s.kind === 'per-tensor' ? 'per-tensor' : `${s.kind} axis ${s.axis}${s.blockSize ? `, block ${s.blockSize}` : ''}`,
  };
}

function attributeDto(a: AttributeProto): GraphAttributeDto {
  return { name: a.name, value: attributeText(a).slice(0, MAX_ATTR_TEXT) };
}

function list<T>(items: readonly T[], text: (x: T) => string): string {
  const shown = items.slice(0, MAX_LIST_ITEMS).map(text).join(', ');
  return `[${shown}${items.length > MAX_LIST_ITEMS ? `, … (${items.length})` : ''}]`;
}

function attributeText(a: AttributeProto): string {
  switch (a.type) {
    case AttrType.INT:
      return String(a.i);
    case AttrType.FLOAT:
      return String(a.f);
    case AttrType.STRING:
      return JSON.stringify(new TextDecoder().decode(a.s));
    case AttrType.INTS:
      return list(a.ints, String);
    case AttrType.FLOATS:
      return list(a.floats, String);
    case AttrType.STRINGS:
      return list(a.strings, (s) => JSON.stringify(new TextDecoder().decode(s)));
    case AttrType.TENSOR:
      return a.t ? `tensor ${dtypeName(a.t.dataType)}[${tensorShape(a.t).join(', ')}]` : 'tensor';
    case AttrType.GRAPH:
      return `graph (${a.g?.node.length ?? 0} nodes)`;
    case AttrType.GRAPHS:
      return `${a.graphs.length} graphs`;
    default:
      return '…';
  }
}
