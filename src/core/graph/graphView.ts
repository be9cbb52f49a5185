/**
 * The graph view of a model: every node of the main graph (and of the bodies the user expanded),
 * the edges between them, the graph's inputs and outputs as markers, and what the view shows
 * about each tensor. Node identity is the graph index's (`indexModel`, keys); quantization facts
 * come from the layer rules (`analyzeLayers`) and the stored-quantization analysis, never
 * recomputed here. Positions are filled in by `layoutGraph` (layout.ts).
 *
 * Units (markUnits): the nodes ONNX Runtime runs as one integer kernel (Q/DQ around a float op, a
 * QOperator op with the Q/DQ entering and leaving its chain, a dynamic MatMulInteger with its
 * quantize and rescale nodes); `collapsed: true` (or `units`, one by one) draws each as one
 * "int8 Conv" node.
 */
import { analyzeLayers, type LayerInfo } from '../analysis/layers';
import { OP_RULES, quantizedFamily, QDQ_OPS } from '../onnx/op-rules';
import { analyzeQuantization, type QuantizedTensor } from '../analysis/quantization';
import { elementTypes } from '../onnx/element-types';
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
  /** Draw every unit (Q/DQ, QOperator or dynamic integer kernel) as one node. */
  collapsed?: boolean;
  /** Keys of the unit heads drawn as one node when not all are (`collapsed`). */
  units?: readonly string[];
  /** Skip initializer statistics (the bench's synthetic graphs, huge models). */
  stats?: boolean;
  /** The model's index when the caller has it already. */
  index?: ModelIndex;
}

const MAX_ATTR_TEXT = 200;
const MAX_LIST_ITEMS = 16;
/** Initializers above this many elements get no statistics in the view (the hover has them). */
const STATS_ELEMENT_LIMIT = 1 << 24;

/** The graph without positions (layoutGraph sets x, y, points). */
export function buildGraphView(model: Pick<OnnxModel, 'proto' | 'path'> & { external?: OnnxModel['external'] }, options: GraphViewOptions = {}): GraphDto {
  const index = options.index ?? indexModel(model.proto);
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
    pair: '',
    outcome: null,
    runtime: null,
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
      pair: '',
      outcome: null,
      runtime: null,
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
  if (options.collapsed || options.units?.length) ({ nodes: shown, edges } = collapseUnits(nodes, edges, folds(options)));

  return {
    fileName: model.path.split(/[\\/]/).pop() ?? model.path,
    nodes: shown,
    edges,
    tensors: tensorTable(model, index, shown, options.stats !== false),
    width: 0,
    height: 0,
    expanded: [...expanded].filter((k) => index.byKey(k)),
    collapsed: options.collapsed === true,
    units: options.collapsed ? [] : foldedHeads(nodes, options.units ?? []),
    layoutMs: 0,
    layoutEngine: '',
    errors: [],
    errorReport: '',
    peer: null,
  };
}

/** Width from the label (canvas text at 12px is about 7 units a character), fixed height. */
function box(label: string): { x: number; y: number; width: number; height: number } {
  return { x: 0, y: 0, width: Math.min(260, Math.max(72, label.length * 7 + 24)), height: 34 };
}

/**
 * Marks the units ONNX Runtime runs as one integer kernel, each under its head (the op that computes):
 * - Q/DQ: a float op reading DequantizeLinear outputs, with those DQs (when they feed only it) and
 *   the QuantizeLinear nodes reading its outputs;
 * - QOperator: an integer operator (QLinearConv, QGemm, …) with the QuantizeLinear that enters the
 *   integer chain and the DequantizeLinear that leaves it, when they serve only it;
 * - dynamic: MatMulInteger/ConvInteger with the DynamicQuantizeLinear of its input and the Cast and
 *   scale Muls that bring its int32 result back to float.
 */
function markUnits(index: ModelIndex, entries: readonly IndexedNode[], idOf: Map<IndexedNode, number>, nodes: GraphNodeDto[], types: ReturnType<typeof elementTypes>): void {
  const isOp = (n: IndexedNode | undefined, op: string): n is IndexedNode => !!n && n.node.opType === op && (n.node.domain === '' || n.node.domain === 'ai.onnx');
  const dtypeOf = (tensor: string | undefined): string => {
    const constant = tensor ? index.constant(tensor) : undefined;
    const dtype = constant ? constant.tensor.dataType : types.get(tensor ?? '');
    return dtype !== undefined ? dtypeName(dtype) : 'int';
  };
  for (const entry of entries) {
    const { node } = entry;
    const head = idOf.get(entry);
    const headDto = head === undefined ? undefined : nodes[head];
    if (head === undefined || !headDto || QDQ_OPS.has(node.opType)) continue;
    const family = quantizedFamily(node.opType);
    const unit = new Set<IndexedNode>([entry]);
    /** Adds n when every reader of every output of n is in the unit already (or `also`). */
    const absorbIfOwned = (n: IndexedNode | undefined, also?: IndexedNode): void => {
      if (!n || unit.has(n) || !idOf.has(n)) return;
      if (n.node.output.every((o) => !index.graphOutputs.has(o) && index.consumers(o).every((c) => unit.has(c) || c === also))) unit.add(n);
    };
    let label: string;
    if (!family) {
      const dqs = node.input.map((i) => index.producer(i)).filter((p) => isOp(p, 'DequantizeLinear'));
      if (dqs.length === 0) continue;
      for (const dq of dqs) absorbIfOwned(dq);
      for (const out of node.output) for (const q of index.consumers(out)) if (isOp(q, 'QuantizeLinear') && q.node.input[0] === out) unit.add(q);
      headDto.quantized = 'qdq';
      label = `${dtypeOf(dqs[0]?.node.input[0])} ${node.opType}`;
    } else if (family === 'qoperator') {
      const floatOp = FLOAT_OP_OF.get(node.opType);
      if (!floatOp) continue;
      const enter = index.producer(node.input[0] ?? '');
      if (isOp(enter, 'QuantizeLinear')) absorbIfOwned(enter);
      for (const out of node.output) {
        const readers = index.consumers(out);
        const leave = readers[0];
        if (readers.length === 1 && isOp(leave, 'DequantizeLinear') && idOf.has(leave)) unit.add(leave);
      }
      // The activation's zero point (third input of every QLinear op) has its type when the graph's inference does not.
      label = `${dtypeOf(node.input[2] || node.input[0])} ${floatOp}`;
    } else if (node.opType === 'MatMulInteger' || node.opType === 'ConvInteger') {
      // Forward along the single-reader chain Cast → Mul (output scale), taking the scales' Mul with it.
      let tail: IndexedNode = entry;
      for (;;) {
        const out = tail.node.output[0] ?? '';
        const readers = index.consumers(out);
        const next = readers[0];
        if (readers.length !== 1 || index.graphOutputs.has(out) || !next || !idOf.has(next) || !(isOp(next, 'Cast') || isOp(next, 'Mul'))) break;
        unit.add(next);
        if (isOp(next, 'Mul')) for (const other of next.node.input) if (other !== out) absorbIfOwned(index.producer(other), next);
        tail = next;
      }
      for (const i of node.input) {
        const p = index.producer(i);
        if (isOp(p, 'DynamicQuantizeLinear')) absorbIfOwned(p);
      }
      label = `${dtypeOf(node.input[1])} ${node.opType === 'ConvInteger' ? 'Conv' : 'MatMul'}`;
    } else {
      continue;
    }
    headDto.unit = head;
    headDto.attributes.push({ name: '(unit)', value: label });
    for (const m of unit) {
      const id = idOf.get(m);
      const dto = id === undefined ? undefined : nodes[id];
      if (dto && dto.unit === -1) dto.unit = head;
    }
  }
}

/** The float op each QOperator integer operator replaces (QLinearConv → Conv). */
const FLOAT_OP_OF: ReadonlyMap<string, string> = new Map([
  ...Object.entries(OP_RULES).flatMap(([op, r]) => (r.qoperator ? [[r.qoperator, op] as const] : [])),
  ['QAttention', 'Attention'],
  ['QLinearWhere', 'Where'],
]);

/** The listed keys that name unit heads (the ones actually folded). */
function foldedHeads(nodes: readonly GraphNodeDto[], keys: readonly string[]): string[] {
  const wanted = new Set(keys);
  return nodes.filter((n, i) => n.unit === i && wanted.has(n.key)).map((n) => n.key);
}

/** Whether a unit is drawn folded: all of them, or those the user folded one by one (by head key). */
function folds(options: GraphViewOptions): (head: GraphNodeDto) => boolean {
  if (options.collapsed) return () => true;
  const units = new Set(options.units ?? []);
  return (head) => units.has(head.key);
}

/**
 * Folded unit members go into their head: edges re-attached to heads, edges inside a unit dropped;
 * the head lists the unit's outer tensors (read from, or read by, nodes outside the unit).
 */
function collapseUnits(nodes: GraphNodeDto[], edges: GraphEdgeDto[], fold: (head: GraphNodeDto) => boolean): { nodes: GraphNodeDto[]; edges: GraphEdgeDto[] } {
  const folded = (i: number): boolean => {
    const n = nodes[i];
    const head = n && n.unit !== -1 ? nodes[n.unit] : undefined;
    return !!head && fold(head);
  };
  const newId: number[] = [];
  const kept: GraphNodeDto[] = [];
  const keptFrom: number[] = [];
  nodes.forEach((n, i) => {
    if (n.unit !== -1 && n.unit !== i && folded(i)) return;
    newId[i] = kept.length;
    keptFrom.push(i);
    const unitLabel = n.unit === i && folded(i) ? n.attributes.find((a) => a.name === '(unit)')?.value : undefined;
    // Unit heads point at their own new position; an unfolded unit's members follow below.
    kept.push(unitLabel ? { ...n, label: unitLabel, unit: kept.length, ...box(`${unitLabel} ${n.label}`), inputs: [...n.inputs], outputs: [...n.outputs] } : n);
  });
  nodes.forEach((n, i) => {
    if (n.unit !== -1 && n.unit !== i && folded(i)) newId[i] = newId[n.unit] ?? -1;
  });
  kept.forEach((n, k) => {
    const i = keptFrom[k] ?? -1;
    if (n.unit !== -1 && !folded(i)) kept[k] = { ...n, unit: newId[n.unit] ?? -1 };
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
  // Tensors made inside each folded unit; the head's inputs and outputs become the unit's outer ones.
  const madeIn = new Map<string, number>();
  nodes.forEach((n, i) => {
    if (n.unit !== -1 && folded(i)) for (const o of n.outputs) if (o) madeIn.set(o, n.unit);
  });
  const readOutside = new Set<string>();
  nodes.forEach((n, i) => {
    const unit = n.unit !== -1 && folded(i) ? n.unit : -1;
    for (const x of n.inputs) if (x && madeIn.has(x) && madeIn.get(x) !== unit) readOutside.add(x);
  });
  const members = new Map<number, GraphNodeDto[]>();
  nodes.forEach((n, i) => {
    if (n.unit === -1 || !folded(i)) return;
    const list = members.get(n.unit);
    if (list) list.push(n);
    else members.set(n.unit, [n]);
  });
  for (const [headId, list] of members) {
    const head = kept[newId[headId] ?? -1];
    if (!head) continue;
    const inputs = new Set<string>();
    const outputs = new Set<string>();
    for (const m of list) {
      for (const x of m.inputs) if (x && madeIn.get(x) !== headId) inputs.add(x);
      for (const x of m.outputs) if (x && readOutside.has(x)) outputs.add(x);
    }
    // A unit whose result nobody reads (a graph output) keeps its last member's outputs.
    if (outputs.size === 0) for (const x of list[list.length - 1]?.outputs ?? []) if (x) outputs.add(x);
    head.inputs = [...inputs];
    head.outputs = [...outputs];
  }
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
