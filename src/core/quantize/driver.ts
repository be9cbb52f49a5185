/**
 * The rewrite driver of the dynamic, weight-only and fp16 engines. It walks the main graph and
 * every If/Loop/Scan body, resolves which inputs are constant weights (initializers and Constant
 * nodes, of the node's own graph or an enclosing one: ONNX Runtime resolves outer-scope names),
 * asks the user's selection, calls the mode's per-op handler, records one reason per skipped node
 * (with its subgraph path), counts, drops float weights nothing reads any more and imports the
 * opset domains the new nodes use. The engines only supply per-op handlers (or, for fp16, a
 * per-weight conversion).
 *
 * Where new tensors go: a tensor derived from a weight is stored in the graph that holds the
 * weight, so every node that could read the float weight (that graph or a body nested in it) can
 * read the derived one too, and a weight read both inside and outside a body is quantized once.
 */
import type { OnnxModel } from '../onnx/model';
import type { ExternalDataWriter } from '../onnx/save';
import type { GraphProto, ModelProto, NodeProto, TensorProto } from '../onnx/schema';
import { getAttribute } from '../onnx/builder';
import { attributeGraphs } from '../onnx/walk';
import type { JobContext } from '../progress';
import { InitializerSink, NodePacer, weightValues } from './emit';
import { ensureOpset, GraphIndex, pruneValueInfo, removeUnusedInitializers } from './graph';
import { nodeName, qualifiedOpType, type NodeSelection, type ResolvedOptions } from './selection';
import type { SkippedNode } from './types';

/** A constant tensor as nodes see it: an initializer or a Constant node's value, and the graph holding it. */
export interface WeightRef {
  /** The name nodes read (a Constant node's output). */
  readonly name: string;
  readonly tensor: TensorProto;
  readonly kind: 'initializer' | 'constant';
  readonly scope: Scope;
  /** The Constant node, for kind 'constant'. */
  readonly node?: NodeProto;
}

/** One graph (main or body) with its constants and the names it defines itself. */
export class Scope {
  readonly constants = new Map<string, WeightRef>();
  /** Names this graph defines that are not constants (inputs, node outputs): they shadow outer ones. */
  private readonly defined = new Set<string>();
  readonly graphInputs: ReadonlySet<string>;
  readonly graphOutputs: ReadonlySet<string>;
  /** Nodes of the rewritten graph, in order; `head` goes before them. */
  out: NodeProto[] = [];
  readonly head: NodeProto[] = [];
  /** Per-graph memo (one DynamicQuantizeLinear per activation and graph). */
  readonly memo = new Map<string, unknown>();
  changed = false;

  constructor(
    readonly graph: GraphProto,
    readonly parent: Scope | undefined,
    /** '' for the main graph; `owner/attribute` segments joined by '/' for bodies (owner as nodeName names it). */
    readonly path: string,
  ) {
    this.graphInputs = new Set(graph.input.map((i) => i.name));
    this.graphOutputs = new Set(graph.output.map((o) => o.name));
    for (const t of graph.initializer) this.constants.set(t.name, { name: t.name, tensor: t, kind: 'initializer', scope: this });
    for (const name of this.graphInputs) if (!this.constants.has(name)) this.defined.add(name);
    for (const node of graph.node) {
      const value = constantValue(node);
      const out = node.output[0];
      if (value && out) this.constants.set(out, { name: out, tensor: value, kind: 'constant', scope: this, node });
      else for (const o of node.output) if (o) this.defined.add(o);
    }
  }

  /** The constant `name` refers to from this graph, or undefined when it is computed (or unknown). */
  resolve(name: string | undefined): WeightRef | undefined {
    if (!name) return undefined;
    for (let s: Scope | undefined = this; s; s = s.parent) {
      const c = s.constants.get(name);
      if (c) return c;
      if (s.defined.has(name)) return undefined;
    }
    return undefined;
  }

  get isMain(): boolean {
    return this.parent === undefined;
  }
}

/** The tensor a standard Constant node holds in `value` (the only form weights come in). */
function constantValue(node: NodeProto): TensorProto | undefined {
  if (node.opType !== 'Constant' || (node.domain !== '' && node.domain !== 'ai.onnx')) return undefined;
  return getAttribute(node, 'value')?.t;
}

export type Rewrite = { nodes: NodeProto[] } | { skip: string };

/** What a per-op handler may use: lookups, names, where to store tensors, memos, notes. */
export interface RewriteContext {
  readonly options: ResolvedOptions;
  readonly selection: NodeSelection;
  /** The graph the node sits in. */
  readonly scope: Scope;
  /** The constant weight an input name refers to (this graph or an enclosing one). */
  weight(name: string | undefined): WeightRef | undefined;
  /** Float values of a weight (external data read on demand). */
  values(t: TensorProto): Float32Array;
  /** A name no tensor or node uses yet. */
  unique(base: string): string;
  /** Store a tensor derived from `from` next to it (same graph). */
  store(from: WeightRef, t: TensorProto): TensorProto;
  /** Add a node before the rewrite's own nodes (shared per-graph helpers like DynamicQuantizeLinear). */
  emit(node: NodeProto): void;
  /** The float weight `w` was replaced for this node: drop it if nothing reads it afterwards. */
  consume(w: WeightRef): void;
  /** One value per (weight, variant) for the whole model: a weight shared by several nodes is quantized once. */
  once<T>(w: WeightRef, variant: string, make: () => T): T;
  /** One value per key and graph. */
  local<T>(key: string, make: () => T): T;
  warn(message: string): void;
  /** Count something the engine reports at the end (clipped weight values). */
  tally(key: string, n: number): void;
  /** The rewrite uses ops of `domain`: import it at `version` unless the model does. */
  useDomain(domain: string, version: number): void;
}

export interface OpHandler {
  /** False for nodes the mode never acts on (a Gather of computed data): they get no report line. */
  applies?(node: NodeProto, rc: RewriteContext): boolean;
  rewrite(node: NodeProto, rc: RewriteContext): Rewrite;
}

/** Handlers by op type; ops of other domains by `domain.OpType`. */
export type Handlers = Readonly<Record<string, OpHandler>>;

export interface DriverResult {
  proto: ModelProto;
  quantizedNodes: number;
  skippedNodes: SkippedNode[];
  warnings: string[];
  tallies: ReadonlyMap<string, number>;
}

/** A node and the graph it sits in. */
export interface NodeUse {
  node: NodeProto;
  scope: Scope;
}

export class RewriteDriver {
  readonly proto: ModelProto;
  readonly main: Scope;
  /** Every graph, main first, each body after its enclosing graph. */
  readonly scopes: Scope[] = [];
  private readonly bodies = new Map<NodeProto, Scope[]>();
  private readonly names: GraphIndex;
  private readonly sinks = new Map<Scope, InitializerSink>();
  private readonly skips = new Map<string, SkippedNode>();
  private readonly consumed = new Set<WeightRef>();
  private readonly cache = new Map<WeightRef, Map<string, unknown>>();
  private readonly domains = new Map<string, number>();
  private readonly talliesMap = new Map<string, number>();
  readonly warnings: string[] = [];
  private readonly pacer: NodePacer;
  private step = 0;
  quantized = 0;

  constructor(
    readonly model: OnnxModel,
    readonly options: ResolvedOptions,
    readonly selection: NodeSelection,
    ctx: JobContext,
    private readonly writer: ExternalDataWriter | undefined,
  ) {
    this.proto = model.proto;
    const graph = this.proto.graph!;
    this.names = new GraphIndex(graph);
    this.main = this.addScope(graph, undefined, '');
    this.pacer = new NodePacer(ctx, this.scopes.reduce((n, s) => n + s.graph.node.length, 0));
  }

  private addScope(graph: GraphProto, parent: Scope | undefined, path: string): Scope {
    const scope = new Scope(graph, parent, path);
    this.scopes.push(scope);
    for (const node of graph.node) {
      const bodies: Scope[] = [];
      for (const attr of node.attribute) {
        for (const g of attributeGraphs(attr)) bodies.push(this.addScope(g, scope, `${path ? `${path}/` : ''}${nodeName(node)}/${attr.name}`));
      }
      if (bodies.length) this.bodies.set(node, bodies);
    }
    return scope;
  }

  /** Rewrite every node some handler covers, in every graph; bodies before the node that owns them. */
  async rewriteNodes(handlers: Handlers, modeOps: ReadonlySet<string>): Promise<void> {
    await this.rewriteGraph(this.main, handlers, modeOps);
  }

  private async rewriteGraph(scope: Scope, handlers: Handlers, modeOps: ReadonlySet<string>): Promise<void> {
    for (const node of scope.graph.node) {
      await this.pacer.step(this.step++);
      for (const body of this.bodies.get(node) ?? []) await this.rewriteGraph(body, handlers, modeOps);
      const std = node.domain === '' || node.domain === 'ai.onnx';
      const handler = handlers[std ? node.opType : qualifiedOpType(node)];
      const rc = handler ? this.context(scope) : undefined;
      if (!handler || !rc || (handler.applies && !handler.applies(node, rc))) {
        scope.out.push(node);
        continue;
      }
      const verdict = this.selection.check(node, modeOps);
      const r = verdict.selected ? handler.rewrite(node, rc) : { skip: verdict.reason };
      if ('skip' in r) {
        this.skip(scope, node, r.skip);
        scope.out.push(node);
      } else {
        scope.out.push(...r.nodes);
        scope.changed = true;
        this.quantized++;
      }
    }
    scope.graph.node = scope.out;
  }

  /** Every constant weight of every graph (initializers, then Constant nodes), main graph first. */
  *weights(): Generator<WeightRef> {
    for (const scope of this.scopes) yield* scope.constants.values();
  }

  private usesMap: Map<WeightRef, NodeUse[]> | undefined;

  /** The nodes (any graph) whose inputs resolve to `w`. */
  users(w: WeightRef): NodeUse[] {
    if (!this.usesMap) {
      this.usesMap = new Map();
      for (const scope of this.scopes) {
        for (const node of scope.graph.node) {
          for (const input of new Set(node.input)) {
            const ref = scope.resolve(input);
            if (!ref) continue;
            let list = this.usesMap.get(ref);
            if (!list) this.usesMap.set(ref, (list = []));
            list.push({ node, scope });
          }
        }
      }
    }
    return this.usesMap.get(w) ?? [];
  }

  /** The context handlers get for a node of `scope`. */
  context(scope: Scope): RewriteContext {
    const d = this;
    return {
      options: d.options,
      selection: d.selection,
      scope,
      weight: (name) => scope.resolve(name),
      values: (t) => weightValues(t, d.model),
      unique: (base) => d.names.unique(base),
      store: (from, t) => d.store(from.scope, t),
      emit: (node) => void scope.out.push(node),
      consume: (w) => void d.consumed.add(w),
      once<T>(w: WeightRef, variant: string, make: () => T): T {
        let byVariant = d.cache.get(w);
        if (!byVariant) d.cache.set(w, (byVariant = new Map()));
        if (!byVariant.has(variant)) byVariant.set(variant, make());
        return byVariant.get(variant) as T;
      },
      local<T>(key: string, make: () => T): T {
        if (!scope.memo.has(key)) scope.memo.set(key, make());
        return scope.memo.get(key) as T;
      },
      warn: (message) => void d.warnings.push(message),
      tally: (key, n) => void d.talliesMap.set(key, (d.talliesMap.get(key) ?? 0) + n),
      useDomain: (domain, version) => void (d.domains.has(domain) || d.domains.set(domain, version)),
    };
  }

  /** Add a tensor to a graph's initializers (streamed to external data when the output uses it). */
  store(scope: Scope, t: TensorProto): TensorProto {
    let sink = this.sinks.get(scope);
    if (!sink) this.sinks.set(scope, (sink = new InitializerSink(scope.graph, this.writer)));
    scope.changed = true;
    return sink.add(t);
  }

  unique(base: string): string {
    return this.names.unique(base);
  }

  /** Record why a node stays as it is (first reason wins). */
  skip(scope: Scope, node: NodeProto, reason: string): void {
    const name = nodeName(node);
    const key = scope.path ? `${scope.path}/${name}` : name;
    if (!this.skips.has(key)) this.skips.set(key, scope.path ? { node: name, reason, subgraph: scope.path } : { node: name, reason });
  }

  consume(w: WeightRef): void {
    this.consumed.add(w);
  }

  /**
   * Finish the model: float weights nothing reads any more go (initializers and Constant nodes; a
   * weight shared with a node left float, read in a body or exposed as a graph output stays),
   * stale value_info goes, the domains the new nodes use are imported.
   */
  finish(): DriverResult {
    for (const scope of this.scopes) {
      if (scope.head.length) scope.graph.node = [...scope.head, ...scope.graph.node];
    }
    this.dropUnreadWeights();
    removeUnusedInitializers(this.main.graph);
    for (const scope of this.scopes) if (scope.isMain || scope.changed) pruneValueInfo(scope.graph);
    for (const [domain, version] of this.domains) ensureOpset(this.proto, domain, version);
    return { proto: this.proto, quantizedNodes: this.quantized, skippedNodes: [...this.skips.values()], warnings: this.warnings, tallies: this.talliesMap };
  }

  private dropUnreadWeights(): void {
    if (this.consumed.size === 0) return;
    const readIn = new Map<Scope, Set<string>>();
    const readFrom = (scope: Scope): Set<string> => {
      let read = readIn.get(scope);
      if (!read) {
        read = new Set(scope.graphOutputs);
        for (const s of this.scopes) if (isWithin(s, scope)) for (const n of s.graph.node) for (const i of n.input) if (i) read.add(i);
        readIn.set(scope, read);
      }
      return read;
    };
    const goneInits = new Map<Scope, Set<string>>();
    const goneNodes = new Set<NodeProto>();
    for (const w of this.consumed) {
      if (readFrom(w.scope).has(w.name)) continue;
      if (w.kind === 'constant') goneNodes.add(w.node!);
      else {
        let set = goneInits.get(w.scope);
        if (!set) goneInits.set(w.scope, (set = new Set()));
        set.add(w.name);
      }
    }
    for (const [scope, names] of goneInits) {
      scope.graph.initializer = scope.graph.initializer.filter((t) => !names.has(t.name));
      // IR < 4 models list initializers as main-graph inputs too; a body's inputs are its signature.
      if (scope.isMain) scope.graph.input = scope.graph.input.filter((i) => !names.has(i.name));
    }
    if (goneNodes.size) for (const scope of this.scopes) scope.graph.node = scope.graph.node.filter((n) => !goneNodes.has(n));
  }
}

/** `inner` is `outer` or a body nested in it. */
function isWithin(inner: Scope, outer: Scope): boolean {
  for (let s: Scope | undefined = inner; s; s = s.parent) if (s === outer) return true;
  return false;
}
