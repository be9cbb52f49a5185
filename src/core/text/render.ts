/**
 * Renders a model in the ONNX textual syntax (onnx.printer / onnx.parser) with a line map, so
 * that editors can find the line of a node, the tensor name under the cursor, a tensor's
 * producer and its uses. Pure: no vscode, no I/O.
 *
 * Layout: one header line `<ir_version: …, opset_import: […]>`, the graph signature
 * `name (float[N,1,8,8] image) => (float[N,10] logits)`, a `<…>` list declaring each initializer
 * (type and name; its size as a comment, values never dumped), then `{`, one line per node
 * `[label] outputs = Domain.OpType <attr = value, …> (inputs)`, and `}`. Subgraphs (If, Loop,
 * Scan) are nested in their node's attribute list over several lines.
 */
import { AttributeProto_AttributeType as AttrType, type AttributeProto, type GraphProto, type ModelProto, type NodeProto, type TensorProto } from '../onnx/schema';
import { isExternal } from '../onnx/model';
import { tensorByteSize } from '../onnx/tensor';
import { walkGraphs } from '../onnx/walk';
import { indexModel, type ModelIndex } from '../onnx/graph-index';
import { NameSpeller, quoteString, type Dialect } from './identifiers';
import { floatText, tensorTypeText, tensorValuesText, typeText } from './format';

export interface RenderOptions {
  /** Default 'modern' (quoted names, `[label]` node names); 'legacy' for onnx < 1.16 parsers. */
  dialect?: Dialect;
  /** Constant tensors with more elements are shown truncated (noted in a comment). Default 16. */
  maxTensorValues?: number;
  /** The model's graph index when the caller has one (node keys come from it). */
  index?: ModelIndex;
}

/** Where a tensor name is written: 0-based line, [start, end) columns of its spelling. */
export interface TensorRef {
  name: string;
  line: number;
  start: number;
  end: number;
  /** def: graph input, initializer, node output; use: node input, graph output. */
  role: 'def' | 'use';
  kind: 'graph-input' | 'graph-output' | 'initializer' | 'node-input' | 'node-output';
  /** Key of the node writing or reading it (node refs only). */
  node?: string;
}

export interface NodeLine {
  /** The node's key (core/onnx/graph-index.ts): diagnostics, recipes, reports and the quantizer use it. */
  key: string;
  node: NodeProto;
  /** Depth of the graph holding the node: 0 for the main graph. */
  depth: number;
  line: number;
  /** Columns of the node text on its first line (indentation excluded). */
  start: number;
  end: number;
  /** Columns of `Domain.OpType`. */
  opStart: number;
  opEnd: number;
}

export interface RenderedModel {
  text: string;
  lineCount: number;
  /** Line of the main graph's signature (code lenses sit here). */
  signatureLine: number;
  nodes: NodeLine[];
  nodeByKey: Map<string, NodeLine>;
  /** The same entries by message identity (to join with analysis results, which carry graph positions). */
  byNode: Map<NodeProto, NodeLine>;
  /** Tensor refs on each line, left to right. */
  refsByLine: TensorRef[][];
  defs: Map<string, TensorRef[]>;
  uses: Map<string, TensorRef[]>;
  /** Initializers of all graphs by name (the main graph wins on shadowing). */
  initializers: Map<string, TensorProto>;
}

const INDENT = '   ';

export function renderModel(model: ModelProto, options: RenderOptions = {}): RenderedModel {
  const dialect = options.dialect ?? 'modern';
  const maxValues = options.maxTensorValues ?? 16;
  const graph = model.graph;
  const index = options.index ?? indexModel(model);
  const speller = new NameSpeller(dialect, dialect === 'legacy' && graph ? allNames(graph) : []);
  const w = new Writer(speller);
  const out: RenderedModel = {
    text: '',
    lineCount: 0,
    signatureLine: 0,
    nodes: [],
    nodeByKey: new Map(),
    byNode: new Map(),
    refsByLine: [],
    defs: new Map(),
    uses: new Map(),
    initializers: new Map(),
  };

  const header: string[] = [`ir_version: ${model.irVersion}`];
  const opsets = model.opsetImport.map((o) => `${quoteString(o.domain)} : ${o.version}`);
  header.push(`opset_import: [${opsets.join(', ')}]`);
  if (model.producerName) header.push(`producer_name: ${quoteString(model.producerName)}`);
  if (model.producerVersion) header.push(`producer_version: ${quoteString(model.producerVersion)}`);
  if (model.domain) header.push(`domain: ${quoteString(model.domain)}`);
  if (model.modelVersion) header.push(`model_version: ${model.modelVersion}`);
  w.text(`<${header.join(', ')}>`);
  w.newline();

  const writeGraph = (g: GraphProto, depth: number, indent: string): void => {
    if (depth === 0) out.signatureLine = w.line;
    w.text(speller.id(g.name || (depth === 0 ? 'main_graph' : 'subgraph')));
    w.text(' (');
    g.input.forEach((vi, i) => {
      if (i) w.text(', ');
      w.text(`${typeText(vi.type)} `);
      w.ref(vi.name, 'def', 'graph-input');
    });
    w.text(') => (');
    g.output.forEach((vi, i) => {
      if (i) w.text(', ');
      w.text(`${typeText(vi.type)} `);
      w.ref(vi.name, 'use', 'graph-output');
    });
    w.text(')');
    if (g.initializer.length || g.sparseInitializer.length) {
      w.newline();
      w.text(`${indent}<`);
      // Size comments line up in one column.
      const widths = g.initializer.map((t) => tensorTypeText(t).length + 2 + speller.id(t.name).length);
      const column = widths.reduce((a, b) => Math.max(a, b), 0); // no spread: graphs can hold 100k+ initializers
      g.initializer.forEach((t, i) => {
        if (depth === 0 || !out.initializers.has(t.name)) out.initializers.set(t.name, t);
        w.newline();
        w.text(`${indent}${INDENT}${tensorTypeText(t)} `);
        w.ref(t.name, 'def', 'initializer');
        w.text(i < g.initializer.length - 1 ? ',' : ' ');
        w.text(`${' '.repeat(column - widths[i]!)}  # ${initializerNote(t)}`);
      });
      w.newline();
      w.text(`${indent}>`);
      if (g.sparseInitializer.length) w.text(`   # ${g.sparseInitializer.length} sparse initializer(s) not shown`);
    }
    w.newline();
    w.text(`${indent}{`);
    w.newline();
    for (const node of g.node) {
      writeNode(node, index.keyOf(node), depth, indent + INDENT);
    }
    w.text(`${indent}}`);
  };

  const writeNode = (node: NodeProto, key: string, depth: number, indent: string): void => {
    w.text(indent);
    const entry: NodeLine = { key, node, depth, line: w.line, start: w.col, end: 0, opStart: 0, opEnd: 0 };
    if (dialect === 'modern' && node.name) w.text(`[${speller.id(node.name)}] `);
    node.output.forEach((name, i) => {
      if (i) w.text(', ');
      w.ref(name, 'def', 'node-output', key);
    });
    w.text(' = ');
    entry.opStart = w.col;
    w.text(node.domain && node.domain !== 'ai.onnx' ? `${node.domain}.${node.opType}` : node.opType);
    entry.opEnd = w.col;
    const hasGraph = node.attribute.some((a) => a.g !== undefined || a.graphs.length > 0);
    const notes: string[] = [];
    const writeAttrs = (): void => {
      const attrs = node.attribute.filter((a) => dialect === 'modern' || !isEmptyList(a) || (notes.push(`attribute '${a.name}' is an empty list`), false));
      if (!attrs.length) return;
      w.text(' <');
      attrs.forEach((a, i) => {
        if (i) w.text(', ');
        writeAttribute(a, indent, notes);
      });
      w.text('>');
    };
    if (!hasGraph) writeAttrs();
    w.text(' (');
    node.input.forEach((name, i) => {
      if (i) w.text(', ');
      w.ref(name, 'use', 'node-input', key);
    });
    w.text(')');
    if (hasGraph) writeAttrs();
    if (entry.line === w.line) entry.end = w.col;
    else entry.end = w.lineLength(entry.line);
    if (dialect === 'legacy' && node.name) notes.unshift(`node ${node.name}`);
    if (notes.length) w.text(`   # ${notes.join('; ')}`);
    w.newline();
    out.nodes.push(entry);
    if (!out.nodeByKey.has(key)) out.nodeByKey.set(key, entry);
    out.byNode.set(node, entry);
  };

  const writeAttribute = (a: AttributeProto, indent: string, notes: string[]): void => {
    if (a.refAttrName) {
      w.text(`${a.name} = @${a.refAttrName}`);
      return;
    }
    w.text(`${a.name}`);
    if (isEmptyList(a)) w.text(`: ${emptyListType(a)}`);
    w.text(' = ');
    switch (a.type) {
      case AttrType.INT:
        return w.text(String(a.i));
      case AttrType.FLOAT:
        return w.text(floatText(a.f));
      case AttrType.STRING:
        return w.text(quoteString(new TextDecoder().decode(a.s)));
      case AttrType.INTS:
        return w.text(`[${a.ints.join(', ')}]`);
      case AttrType.FLOATS:
        return w.text(`[${a.floats.map(floatText).join(', ')}]`);
      case AttrType.STRINGS:
        return w.text(`[${a.strings.map((s) => quoteString(new TextDecoder().decode(s))).join(', ')}]`);
      case AttrType.TENSOR:
        return w.text(a.t ? tensorLiteral(a.t, maxValues, a.name, notes) : '{}');
      case AttrType.TENSORS:
        return w.text(`[${a.tensors.map((t) => tensorLiteral(t, maxValues, a.name, notes)).join(', ')}]`);
      case AttrType.TYPE_PROTO:
        return w.text(typeText(a.tp));
      case AttrType.TYPE_PROTOS:
        return w.text(`[${a.typeProtos.map(typeText).join(', ')}]`);
      case AttrType.GRAPH:
        if (a.g) writeGraph(a.g, depthOf(indent), indent);
        return;
      case AttrType.GRAPHS:
        w.text('[');
        a.graphs.forEach((g, i) => {
          if (i) w.text(', ');
          writeGraph(g, depthOf(indent), indent);
        });
        return w.text(']');
      default:
        notes.push(`attribute '${a.name}' not shown`);
        return w.text('0');
    }
  };

  if (graph) writeGraph(graph, 0, '');
  w.newline();
  if (model.functions.length) {
    w.text(`# ${model.functions.length} model-local function(s) not shown`);
    w.newline();
  }

  out.text = w.finish();
  out.lineCount = w.line;
  out.refsByLine = w.refsByLine;
  for (const r of w.refs) {
    if (r.name === '') continue;
    const map = r.role === 'def' ? out.defs : out.uses;
    let list = map.get(r.name);
    if (!list) map.set(r.name, (list = []));
    list.push(r);
  }
  return out;
}

/** Nesting depth from the indentation of a node line (each level adds INDENT). */
function depthOf(indent: string): number {
  return indent.length / INDENT.length;
}

function isEmptyList(a: AttributeProto): boolean {
  switch (a.type) {
    case AttrType.INTS:
      return a.ints.length === 0;
    case AttrType.FLOATS:
      return a.floats.length === 0;
    case AttrType.STRINGS:
      return a.strings.length === 0;
    case AttrType.TENSORS:
      return a.tensors.length === 0;
    case AttrType.GRAPHS:
      return a.graphs.length === 0;
    default:
      return false;
  }
}

/** An empty list carries no type of its own, so the syntax needs one: `pads: ints = []`. */
function emptyListType(a: AttributeProto): string {
  return ({ [AttrType.INTS]: 'ints', [AttrType.FLOATS]: 'floats', [AttrType.STRINGS]: 'strings', [AttrType.TENSORS]: 'tensors', [AttrType.GRAPHS]: 'graphs' } as Record<number, string>)[a.type] ?? 'ints';
}

function tensorLiteral(t: TensorProto, maxValues: number, attr: string, notes: string[]): string {
  const type = tensorTypeText(t);
  const values = isExternal(t) ? undefined : tensorValuesText(t, maxValues);
  if (!values) {
    notes.push(`${attr}: values not shown`);
    return `${type} {0}`;
  }
  if (values.shown < values.total) notes.push(`${attr}: ${values.shown} of ${values.total} values shown`);
  return `${type} {${values.text}}`;
}

function initializerNote(t: TensorProto): string {
  let bytes: string;
  try {
    bytes = `${tensorByteSize(t).toLocaleString('en-US')} bytes`;
  } catch {
    bytes = 'invalid shape';
  }
  return isExternal(t) ? `${bytes}, external data` : bytes;
}

function allNames(g: GraphProto): Set<string> {
  const names = new Set<string>();
  for (const { graph } of walkGraphs(g)) {
    names.add(graph.name);
    for (const vi of graph.input) names.add(vi.name);
    for (const vi of graph.output) names.add(vi.name);
    for (const t of graph.initializer) names.add(t.name);
    for (const n of graph.node) {
      for (const x of n.input) names.add(x);
      for (const x of n.output) names.add(x);
    }
  }
  return names;
}

/** Accumulates text line by line and records where tensor names land. */
class Writer {
  line = 0;
  col = 0;
  readonly refs: TensorRef[] = [];
  readonly refsByLine: TensorRef[][] = [[]];
  private readonly done: string[] = [];
  private cur: string[] = [];
  private readonly lengths: number[] = [];

  constructor(private readonly speller: NameSpeller) {}

  text(s: string): void {
    this.cur.push(s);
    this.col += s.length;
  }

  ref(name: string, role: TensorRef['role'], kind: TensorRef['kind'], node?: string): void {
    const spelled = this.speller.id(name);
    const r: TensorRef = { name, line: this.line, start: this.col, end: this.col + spelled.length, role, kind };
    if (node !== undefined) r.node = node;
    this.text(spelled);
    this.refs.push(r);
    this.refsByLine[this.line]!.push(r);
  }

  newline(): void {
    this.done.push(this.cur.join(''));
    this.lengths.push(this.col);
    this.cur = [];
    this.col = 0;
    this.line++;
    this.refsByLine.push([]);
  }

  lineLength(line: number): number {
    return line === this.line ? this.col : (this.lengths[line] ?? 0);
  }

  finish(): string {
    if (this.cur.length) this.newline();
    return this.done.join('\n') + '\n';
  }
}
