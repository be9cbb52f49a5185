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
import { indexModel, SCOPE_SEPARATOR, type GraphScope, type ModelIndex } from '../onnx/graph-index';
import type { OnnxModel } from '../onnx/model';
import type { ExternalDataWriter } from '../onnx/save';
import type { GraphProto, ModelProto, NodeProto, TensorProto } from '../onnx/schema';
import type { JobContext } from '../progress';
import { InitializerSink, NodePacer, weightValues } from './emit';
import { ensureOpset, GraphIndex, pruneValueInfo, removeUnusedInitializers } from './graph';
import { qualifiedOpType, type NodeSelection, type ResolvedOptions } from './selection';
import type { SkippedNode } from './types';

/** A constant tensor as nodes see it: an initializer or a Constant node's value, and the graph holding it. */
export type WeightRef = {
  /** The name nodes read (a Constant node's output). */
  readonly name: string;
  readonly tensor: TensorProto;
  readonly scope: Scope;
} & ({ readonly kind: 'initializer' } | { readonly kind: 'constant'; /** The Constant node. */ readonly node: NodeProto });

/** One graph (main or body) as the driver rewrites it. */
export class Scope {
  readonly graphInputs: ReadonlySet<string>;
  readonly graphOutputs: ReadonlySet<string>;
  /** Nodes of the rewritten graph, in order; `head` goes before them. */
  out: NodeProto[] = [];
  readonly head: NodeProto[] = [];
  /** Per-graph memo (one DynamicQuantizeLinear per activation and graph). */
  readonly memo = new Map<string, unknown>();
  changed = false;

  constructor(
    /** The index's scope: graph, owner, parent, key path. */
    readonly at: GraphScope,
    readonly parent: Scope | undefined,
  ) {
    this.graphInputs = new Set(at.graph.input.map((i) => i.name));
    this.graphOutputs = new Set(at.graph.output.map((o) => o.name));
  }

  get graph(): GraphProto {
    return this.at.graph;
  }

  get isMain(): boolean {
    return this.parent === undefined;
  }

  /** The body path as reports show it ('' for the main graph): `<owner key>/<attribute>`. */
  get path(): string {
    return this.at.path.endsWith(SCOPE_SEPARATOR) ? this.at.path.slice(0, -SCOPE_SEPARATOR.length) : this.at.path;
  }

  /** This graph is `outer` or a body nested in it (so it sees `outer`'s names). */
  isWithin(outer: Scope): boolean {
    for (let s: Scope | undefined = this; s; s = s.parent) if (s === outer) return true;
    return false;
  }
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
  /** Keys (graph index) of the nodes rewritten, in graph order. */
  quantizedKeys: string[];
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
  readonly index: ModelIndex;
  readonly main: Scope;
  /** Every graph, main first, each body after its enclosing graph. */
  readonly scopes: Scope[] = [];
  private readonly scopeOf = new Map<GraphScope, Scope>();
  private readonly bodies = new Map<NodeProto, Scope[]>();
  private readonly weightRefs = new Map<string, WeightRef>();
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
  private readonly quantizedKeys: string[] = [];

  constructor(
    readonly model: OnnxModel,
    readonly options: ResolvedOptions,
    readonly selection: NodeSelection,
    ctx: JobContext,
    private readonly writer: ExternalDataWriter | undefined,
  ) {
    this.proto = model.proto;
    this.index = indexModel(this.proto);
    this.names = new GraphIndex(this.index.main);
    for (const at of this.index.scopes) {
      const parent = at.parent ? this.scopeOf.get(at.parent) : undefined;
      const scope = new Scope(at, parent);
      this.scopes.push(scope);
      this.scopeOf.set(at, scope);
      if (at.owner) {
        const list = this.bodies.get(at.owner.node) ?? [];
        list.push(scope);
        this.bodies.set(at.owner.node, list);
      }
    }
    const main = this.scopes[0];
    if (!main) throw new Error('the model index has no main graph');
    this.main = main;
    this.pacer = new NodePacer(ctx, this.index.nodes.length);
  }

  /** The constant `name` refers to from `scope`: its own or an enclosing graph's (ONNX Runtime resolves outer-scope names). */
  resolve(scope: Scope, name: string | undefined): WeightRef | undefined {
    if (!name) return undefined;
    const c = this.index.constant(name);
    const owner = c && this.scopeOf.get(c.scope);
    if (!c || !owner || !scope.isWithin(owner)) return undefined;
    let ref = this.weightRefs.get(name);
    if (!ref) {
      const node = c.kind === 'constant' ? this.index.producer(name)?.node : undefined;
      ref = node ? { name, tensor: c.tensor, scope: owner, kind: 'constant', node } : { name, tensor: c.tensor, scope: owner, kind: 'initializer' };
      this.weightRefs.set(name, ref);
    }
    return ref;
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
      if (!handler) {
        scope.out.push(node);
        continue;
      }
      const rc = this.context(scope);
      if (handler.applies && !handler.applies(node, rc)) {
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
        this.quantizedKeys.push(this.index.keyOf(node));
      }
    }
    scope.graph.node = scope.out;
  }

  /** Every constant weight of every graph (initializers, then Constant nodes, in order), main graph first. */
  *weights(): Generator<WeightRef> {
    for (const scope of this.scopes) {
      for (const t of scope.graph.initializer) {
        const ref = this.resolve(scope, t.name);
        if (ref?.tensor === t) yield ref;
      }
      for (const node of scope.graph.node) {
        const ref = this.resolve(scope, node.output[0]);
        if (ref?.kind === 'constant' && ref.node === node) yield ref;
      }
    }
  }

  /** The nodes (any graph) that read `w` as one of their own inputs. */
  users(w: WeightRef): NodeUse[] {
    const out: NodeUse[] = [];
    for (const entry of this.index.consumers(w.name)) {
      const scope = this.scopeOf.get(entry.scope);
      if (scope && entry.node.input.includes(w.name) && this.resolve(scope, w.name) === w) out.push({ node: entry.node, scope });
    }
    return out;
  }

  /** The context handlers get for a node of `scope`. */
  context(scope: Scope): RewriteContext {
    const d = this;
    return {
      options: d.options,
      selection: d.selection,
      scope,
      weight: (name) => d.resolve(scope, name),
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

  /** Record why a node stays as it is (first reason wins), by its key (bodies: with their path). */
  skip(scope: Scope, node: NodeProto, reason: string): void {
    const key = this.index.keyOf(node);
    if (!this.skips.has(key)) this.skips.set(key, scope.isMain ? { node: key, reason } : { node: key, reason, subgraph: scope.path });
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
    return { proto: this.proto, quantizedNodes: this.quantized, quantizedKeys: this.quantizedKeys, skippedNodes: [...this.skips.values()], warnings: this.warnings, tallies: this.talliesMap };
  }

  private dropUnreadWeights(): void {
    if (this.consumed.size === 0) return;
    const readIn = new Map<Scope, Set<string>>();
    const readFrom = (scope: Scope): Set<string> => {
      let read = readIn.get(scope);
      if (!read) {
        read = new Set(scope.graphOutputs);
        for (const s of this.scopes) if (s.isWithin(scope)) for (const n of s.graph.node) for (const i of n.input) if (i) read.add(i);
        readIn.set(scope, read);
      }
      return read;
    };
    const goneInits = new Map<Scope, Set<string>>();
    const goneNodes = new Set<NodeProto>();
    for (const w of this.consumed) {
      if (readFrom(w.scope).has(w.name)) continue;
      if (w.kind === 'constant') goneNodes.add(w.node);
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
