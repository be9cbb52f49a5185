/**
 * Decides what static quantization touches, before any calibration: which nodes are quantized,
 * which activation tensors get quantization parameters, which Relu/Clip are folded into the
 * preceding quantized output, and which tensors share parameters (pass-through ops).
 *
 * Only patterns ONNX Runtime fuses into integer kernels are planned (doc §0.1, §3.2), and a
 * quantized op always gets its inputs AND output quantized, so every group is a complete
 * `DQ → op → Q` unit: chains such as Conv → Add → Relu → Conv run entirely in QLinear kernels.
 */
import { attrFloat, attrInt, getAttribute, withFields } from '../../onnx/builder';
import { DataType } from '../../onnx/dtype';
import { create } from '@bufbuild/protobuf';
import { GraphProtoSchema, type GraphProto, type NodeProto, type TensorProto } from '../../onnx/schema';
import { readFloat32 } from '../../onnx/tensor';
import { attributeGraphs, walkGraphs } from '../../onnx/walk';
import { qdqGroupReason, staticOps } from '../../onnx/op-rules';
import { makeSelection, nodeName, type NodeSelection, SkipList } from '../selection';
import { inferElemTypes } from './inferTypes';
import { batchNormFolds } from './foldBatchNorm';

/** Ops quantized as whole DQ → op → Q units (CPU-unfused ones only on request), and ops that pass 8-bit tensors through (op-rules table). */
export const COMPUTE_OPS = staticOps('compute', 'cpu-unfused');
export const PASSTHROUGH_OPS = staticOps('pass-through');
/** Op types static mode handles by default (for the user's --op-types filter). */
export const STATIC_OP_TYPES: ReadonlySet<string> = staticOps('compute', 'cpu-unfused', 'pass-through', 'fold');

export interface WeightInput {
  index: number;
  /** Per-channel axis for this op (used when per-channel is on and allowed). */
  axis: number | undefined;
}

export interface PlannedNode {
  node: NodeProto;
  kind: 'compute' | 'passthrough';
  /** Input indices carrying float activations (quantized with calibrated params). */
  activations: number[];
  /** Constant float inputs of Add/Mul/Concat: quantized like activations from their own values. */
  constants: number[];
  weight: WeightInput | undefined;
  bias: number | undefined;
  /** Gemm/MatMul writing a graph output keep a float output (ORT: QGemm / MatMulIntegerToFloat). */
  floatOutput: boolean;
  /** Gemm: factor folded into the weight (alpha) and the bias (beta); both become 1. */
  alpha: number;
  beta: number;
}

export interface PlannedTensor {
  /** The name consumers read (a folded Relu's output, or the tensor itself). */
  name: string;
  /** The tensor the QuantizeLinear reads (the producing op's output, before a folded Relu). */
  source: string;
  /** Same parameters as this tensor (pass-through ops keep scale and zero point). */
  aliasOf: string | undefined;
  /** Range known without calibration (Softmax: [0, 1]). */
  fixedRange: { min: number; max: number } | undefined;
}

export interface StaticPlan {
  nodes: Map<NodeProto, PlannedNode>;
  tensors: Map<string, PlannedTensor>;
  /** Relu/Clip nodes removed because the preceding Q clamps the same way. */
  folded: Set<NodeProto>;
  skipped: SkipList;
  /** Candidate ops left float (same order as the graph), reasons in `skipped`. */
  skippedNodes: NodeProto[];
  /** Relu/Clip that could have been folded but were not (symmetric activations). */
  unfolded: number;
  /** The graph's tensors that must stay float for its subgraphs (`subgraphReads`). */
  subgraphReads: ReadonlySet<string>;
}

export interface PlanOptions {
  /** Folding Relu/Clip into the Q is exact only for asymmetric activations (zero point at the range's end). */
  foldActivations: boolean;
  /**
   * Also wrap ops that ONNX Runtime's CPU provider runs in float even inside QDQ (ConvTranspose):
   * right for TensorRT (gpu preset) or when the user asks for the op type by name, otherwise
   * it only adds Q/DQ work (doc §0.1).
   */
  includeCpuUnfused: ReadonlySet<string> | 'all';
  /**
   * Float16 tensors count as float too: the layer analysis plans the model as it is, while the
   * engine plans it after widening it to float32 (quantize/widen.ts).
   */
  float16?: boolean;
}

/** Op types with a QDQ form but no integer kernel in ORT's CPU provider ([probe] ORT-node 1.30: DQ → ConvTranspose → Q stays float). */
export const CPU_UNFUSED_OPS: ReadonlySet<string> = staticOps('cpu-unfused');

interface Context {
  graph: GraphProto;
  inits: Map<string, TensorProto>;
  constants: Map<string, TensorProto>;
  types: Map<string, number>;
  producers: Map<string, NodeProto>;
  consumers: Map<string, NodeProto[]>;
  outputs: Set<string>;
  /** Names read from inside subgraphs (If/Loop/Scan bodies): they must keep existing as float tensors. */
  subgraphReads: Set<string>;
  /** The element types quantized as float (float32, and float16 with PlanOptions.float16). */
  floatType: (dataType: number) => boolean;
}

export function planStatic(graph: GraphProto, types: Map<string, number>, selection: NodeSelection, options: PlanOptions): StaticPlan {
  const ctx: Context = {
    graph,
    inits: new Map(graph.initializer.map((t) => [t.name, t])),
    constants: new Map(),
    types,
    producers: new Map(),
    consumers: new Map(),
    outputs: new Set(graph.output.map((o) => o.name)),
    subgraphReads: subgraphReads(graph),
    floatType: options.float16 ? (t) => t === DataType.FLOAT || t === DataType.FLOAT16 : (t) => t === DataType.FLOAT,
  };
  for (const n of graph.node) {
    for (const o of n.output) if (o) ctx.producers.set(o, n);
    for (const i of n.input) if (i) (ctx.consumers.get(i) ?? ctx.consumers.set(i, []).get(i)!).push(n);
    if (n.opType === 'Constant' && n.domain === '' && getAttribute(n, 'value')?.t) ctx.constants.set(n.output[0]!, getAttribute(n, 'value')!.t!);
  }
  const plan: StaticPlan = { nodes: new Map(), tensors: new Map(), folded: new Set(), skipped: new SkipList(), skippedNodes: [], unfolded: 0, subgraphReads: ctx.subgraphReads };

  // 1. Compute ops: each one is a complete DQ → op → Q unit or is left alone.
  for (const node of graph.node) {
    if (!COMPUTE_OPS.has(node.opType) || node.domain !== '') continue;
    const verdict = selection.check(node, STATIC_OP_TYPES);
    if (!verdict.selected) {
      plan.skipped.add(node, verdict.reason);
      plan.skippedNodes.push(node);
      continue;
    }
    if (CPU_UNFUSED_OPS.has(node.opType) && options.includeCpuUnfused !== 'all' && !options.includeCpuUnfused.has(node.opType)) {
      plan.skipped.add(node, `${node.opType} has no integer kernel in ONNX Runtime's CPU provider (it would run in float with extra Q/DQ work); name it in --op-types to quantize it anyway`);
      continue;
    }
    const planned = planCompute(node, ctx);
    if (typeof planned === 'string') {
      // Integer shape arithmetic (Concat/Add/Mul of int64 shapes) is not a candidate at all.
      if (planned !== NOT_FLOAT) plan.skipped.add(node, planned);
      continue;
    }
    const quantizedAlready = alreadyQuantized(node, ctx);
    if (quantizedAlready) {
      plan.skipped.add(node, quantizedAlready);
      continue;
    }
    plan.nodes.set(node, planned);
    for (const i of planned.activations) addTensor(plan, node.input[i]!);
    if (!planned.floatOutput) {
      const out = node.output[0]!;
      const activationAfter = foldable(out, ctx, selection);
      if (activationAfter && !options.foldActivations) plan.unfolded++;
      const relu = options.foldActivations ? activationAfter : undefined;
      if (relu) {
        plan.folded.add(relu);
        addTensor(plan, relu.output[0]!, out);
      } else {
        addTensor(plan, out, out, node.opType === 'Softmax' ? { min: 0, max: 1 } : undefined);
      }
    }
  }

  // 2. Pass-through ops whose input is quantized anyway: keep 8-bit through them (same params).
  for (const node of graph.node) {
    if (!PASSTHROUGH_OPS.has(node.opType) || node.domain !== '') continue;
    const data = node.input[0];
    if (!data || !plan.tensors.has(data) || ctx.inits.has(data) || node.output.some((o) => ctx.subgraphReads.has(o))) continue;
    if (!selection.check(node, STATIC_OP_TYPES).selected) continue;
    if (node.opType === 'MaxPool' && node.output.length > 1 && node.output[1]) continue; // indices output: not 8-bit
    if (node.output.some((o) => { const t = o ? types.get(o) : undefined; return t !== undefined && !ctx.floatType(t); })) continue;
    const root = plan.tensors.get(data)!;
    const rootName = root.aliasOf ?? root.name;
    plan.nodes.set(node, {
      node,
      kind: 'passthrough',
      activations: [0],
      constants: [],
      weight: undefined,
      bias: undefined,
      floatOutput: false,
      alpha: 1,
      beta: 1,
    });
    for (const o of node.output) {
      if (!o) continue;
      plan.tensors.set(o, { name: o, source: o, aliasOf: rootName, fixedRange: undefined });
    }
  }
  // Excluded pass-through and Relu/Clip nodes are reported too (the loops above skip them silently).
  for (const node of graph.node) {
    if (node.domain !== '' || !STATIC_OP_TYPES.has(node.opType) || plan.nodes.has(node) || !selection.excludeNodes.has(nodeName(node))) continue;
    const verdict = selection.check(node, STATIC_OP_TYPES);
    if (!verdict.selected) plan.skipped.add(node, verdict.reason);
  }
  return plan;
}

/** What static quantization with the default options does to a graph's nodes (`staticVerdicts`). */
export interface StaticVerdicts {
  /** Compute and pass-through ops quantized. */
  quantized: ReadonlySet<NodeProto>;
  /** Relu/Clip folded into the quantized op before them, BatchNormalization into the Conv before it. */
  folded: ReadonlySet<NodeProto>;
  /** CPU-unfused ops (ConvTranspose) quantized when asked for by op type or the gpu preset. */
  onRequest: ReadonlySet<NodeProto>;
}

/**
 * The planner's verdict on every main-graph node for a run with the default options (no
 * filters, asymmetric activations), read by the layer analysis so that what it says static mode
 * does is what the engine decides, from the same code. Float16 tensors count as float (the
 * engine widens a float16 model first). Calibration can still exclude a node (no float range at
 * run time), and the engine converts old opsets before it plans.
 */
export function staticVerdicts(graph: GraphProto, body?: { types: Map<string, number>; originalOf: ReadonlyMap<NodeProto, NodeProto> }): StaticVerdicts {
  // The engine folds BatchNormalization into the Conv before it first (main graph only): plan the
  // graph as folded (the Conv writing the BatchNormalization's output), the folded node counting as acted on.
  const folds = body ? [] : batchNormFolds(graph, (t) => t === DataType.FLOAT || t === DataType.FLOAT16);
  const originalOf = new Map<NodeProto, NodeProto>(body?.originalOf);
  let view = graph;
  if (folds.length) {
    const byConv = new Map(folds.map((f) => [f.conv, f]));
    const bns = new Set(folds.map((f) => f.bn));
    const gone = new Set(folds.map((f) => f.x));
    const node: NodeProto[] = [];
    for (const n of graph.node) {
      if (bns.has(n)) continue;
      const fold = byConv.get(n);
      const copy = fold ? withFields(n, { output: [...fold.bn.output] }) : n;
      if (copy !== n) originalOf.set(copy, n);
      node.push(copy);
    }
    view = create(GraphProtoSchema, { ...graph, node, valueInfo: graph.valueInfo.filter((v) => !gone.has(v.name)) });
  }
  const types = body?.types ?? inferElemTypes(view);
  const back = (n: NodeProto): NodeProto => originalOf.get(n) ?? n;
  const selection = makeSelection({ opTypes: undefined, nodes: undefined, excludeNodes: [] });
  const plan = planStatic(view, types, selection, { foldActivations: true, includeCpuUnfused: new Set(), float16: true });
  const quantized = new Set([...plan.nodes.keys()].filter((n) => !plan.folded.has(n)).map(back));
  const onRequest = new Set<NodeProto>();
  if (view.node.some((n) => n.domain === '' && CPU_UNFUSED_OPS.has(n.opType))) {
    const all = planStatic(view, types, selection, { foldActivations: true, includeCpuUnfused: 'all', float16: true });
    for (const n of all.nodes.keys()) if (CPU_UNFUSED_OPS.has(n.opType) && !quantized.has(back(n))) onRequest.add(back(n));
  }
  return { quantized, folded: new Set([...[...plan.folded].map(back), ...folds.map((f) => f.bn)]), onRequest };
}

function addTensor(plan: StaticPlan, name: string, source = name, fixedRange?: { min: number; max: number }): void {
  if (plan.tensors.has(name)) return;
  plan.tensors.set(name, { name, source, aliasOf: undefined, fixedRange });
}

const isFloat = (ctx: Context, name: string): boolean => {
  const t = ctx.types.get(name);
  return t === undefined || ctx.floatType(t);
};

function constantOf(ctx: Context, name: string): TensorProto | undefined {
  return ctx.inits.get(name) ?? ctx.constants.get(name);
}

const NOT_FLOAT = 'output is not float32';

/** A node already inside a QDQ group (input from a DequantizeLinear, output into a QuantizeLinear): leave it. */
function alreadyQuantized(node: NodeProto, ctx: Context): string | undefined {
  return qdqGroupReason(node, (t) => ctx.producers.get(t), (t) => ctx.consumers.get(t) ?? []);
}

/** The planned node, or the reason it is left float. */
function planCompute(node: NodeProto, ctx: Context): PlannedNode | string {
  const op = node.opType;
  const out = node.output[0];
  if (!out || node.output.filter(Boolean).length !== 1) return `${op} with several outputs is not quantized`;
  if (!isFloat(ctx, out)) return NOT_FLOAT;
  const p: PlannedNode = { node, kind: 'compute', activations: [], constants: [], weight: undefined, bias: undefined, floatOutput: false, alpha: 1, beta: 1 };
  const activation = (i: number): string | undefined => {
    const name = node.input[i];
    if (!name) return `input ${i} missing`;
    if (constantOf(ctx, name)) return undefined;
    if (!isFloat(ctx, name)) return `input '${name}' is not float32`;
    p.activations.push(i);
    return undefined;
  };
  switch (op) {
    case 'Conv':
    case 'ConvTranspose': {
      const w = node.input[1] ? constantOf(ctx, node.input[1]) : undefined;
      if (!w || !ctx.floatType(w.dataType)) return 'weight is not a float32 constant';
      if (constantOf(ctx, node.input[0] ?? '') || activation(0)) return 'input is not a float32 activation';
      const group = attrInt(node, 'group', 1);
      p.weight = { index: 1, axis: op === 'Conv' ? 0 : group === 1 ? 1 : undefined };
      if (node.input[2]) {
        const b = constantOf(ctx, node.input[2]);
        if (!b || !ctx.floatType(b.dataType) || b.dims.length !== 1) return 'bias is not a 1-D float32 constant';
        p.bias = 2;
      }
      break;
    }
    case 'Gemm': {
      if (attrInt(node, 'transA', 0) !== 0) return 'Gemm with transA is not quantized';
      const w = node.input[1] ? constantOf(ctx, node.input[1]) : undefined;
      if (!w || !ctx.floatType(w.dataType) || w.dims.length !== 2) return 'B is not a 2-D float32 constant';
      if (constantOf(ctx, node.input[0] ?? '') || activation(0)) return 'A is not a float32 activation';
      p.weight = { index: 1, axis: attrInt(node, 'transB', 0) ? 0 : 1 };
      p.alpha = attrFloat(node, 'alpha', 1);
      p.beta = attrFloat(node, 'beta', 1);
      if (node.input[2]) {
        const c = constantOf(ctx, node.input[2]);
        const n = Number(w.dims[attrInt(node, 'transB', 0) ? 0 : 1]);
        if (!c || !ctx.floatType(c.dataType) || c.dims.length !== 1 || Number(c.dims[0]) !== n) return 'C is not a 1-D float32 constant of length N';
        p.bias = 2;
      }
      p.floatOutput = ctx.outputs.has(out);
      break;
    }
    case 'MatMul': {
      if (constantOf(ctx, node.input[0] ?? '')) return 'A is a constant';
      const err = activation(0);
      if (err) return err;
      const w = node.input[1] ? constantOf(ctx, node.input[1]) : undefined;
      if (w) {
        if (!ctx.floatType(w.dataType)) return 'B is not float32';
        p.weight = { index: 1, axis: w.dims.length === 2 ? 1 : undefined };
      } else {
        const e = activation(1);
        if (e) return e;
      }
      p.floatOutput = ctx.outputs.has(out);
      break;
    }
    case 'Add':
    case 'Mul':
    case 'Concat': {
      const n = node.input.length;
      if (n === 0) return 'no inputs';
      for (let i = 0; i < n; i++) {
        const name = node.input[i]!;
        const c = constantOf(ctx, name);
        if (c) {
          if (!ctx.floatType(c.dataType)) return `input '${name}' is not float32`;
          p.constants.push(i);
        } else {
          const e = activation(i);
          if (e) return e;
        }
      }
      if (p.activations.length === 0) return 'all inputs are constants';
      break;
    }
    default: {
      const e = constantOf(ctx, node.input[0] ?? '') ? 'input is a constant' : activation(0);
      if (e) return e;
    }
  }
  return p;
}

/**
 * A Relu (or a Clip whose range contains 0) that is the only consumer of `tensor`: the Q after
 * the producer can take its output range and the node can go, the Q clamping exactly like it.
 */
function foldable(tensor: string, ctx: Context, selection: NodeSelection): NodeProto | undefined {
  if (ctx.outputs.has(tensor) || ctx.subgraphReads.has(tensor)) return undefined;
  const consumers = ctx.consumers.get(tensor) ?? [];
  if (consumers.length !== 1) return undefined;
  const act = consumers[0]!;
  if (act.domain !== '' || act.input[0] !== tensor || ctx.subgraphReads.has(act.output[0] ?? '')) return undefined;
  // Folding is part of the producer's integer kernel: only an explicit exclusion of the Relu/Clip stops it.
  if (selection.excludeNodes.has(nodeName(act))) return undefined;
  if (act.opType === 'Relu') return act;
  if (act.opType !== 'Clip') return undefined;
  const range = clipRange(act, ctx);
  return range && range.min <= 0 && range.max >= 0 ? act : undefined;
}

function clipRange(node: NodeProto, ctx: Context): { min: number; max: number } | undefined {
  let min = -Infinity;
  let max = Infinity;
  if (getAttribute(node, 'min') || getAttribute(node, 'max')) {
    min = attrFloat(node, 'min', -Infinity);
    max = attrFloat(node, 'max', Infinity);
  }
  for (const [i, set] of [
    [1, (v: number) => (min = v)],
    [2, (v: number) => (max = v)],
  ] as const) {
    const name = node.input[i];
    if (!name) continue;
    const t = constantOf(ctx, name);
    if (!t || !ctx.floatType(t.dataType)) return undefined;
    let v: number | undefined;
    try {
      v = readFloat32(t)[0];
    } catch {
      return undefined; // a bound stored where this pass cannot read it (external data): not folded
    }
    if (v === undefined) return undefined;
    set(v);
  }
  return { min, max };
}

/**
 * Ops ONNX Runtime's QDQ propagation moves a DequantizeLinear past (or a QuantizeLinear before).
 * It fails (aborts the process, ORT 1.2x) when the op's output is read inside a subgraph.
 */
export const QDQ_PROPAGATION_OPS: ReadonlySet<string> = new Set(['Transpose', 'Reshape', 'Squeeze', 'Unsqueeze', 'Flatten', 'MaxPool', 'Slice', 'Gather', 'Resize']);

/**
 * Every tensor name read by a node inside a subgraph of this graph's nodes, and the inputs of the
 * QDQ_PROPAGATION_OPS chains leading to one: those stay float tensors, and float readers in such
 * a chain read them, not a DequantizeLinear's output (see QDQ_PROPAGATION_OPS).
 */
export function subgraphReads(graph: GraphProto): Set<string> {
  const reads = new Set<string>();
  for (const node of graph.node) {
    for (const attr of node.attribute) {
      for (const g of attributeGraphs(attr)) {
        for (const { graph: sub } of walkGraphs(g)) for (const n of sub.node) for (const i of n.input) if (i) reads.add(i);
      }
    }
  }
  for (let i = graph.node.length - 1; i >= 0; i--) {
    const n = graph.node[i];
    if (n && QDQ_PROPAGATION_OPS.has(n.opType) && n.output.some((o) => reads.has(o)) && n.input[0]) reads.add(n.input[0]);
  }
  return reads;
}

export function describe(plan: StaticPlan): string {
  const ops = new Map<string, number>();
  for (const p of plan.nodes.values()) ops.set(p.node.opType, (ops.get(p.node.opType) ?? 0) + 1);
  return [...ops].map(([k, v]) => `${k}×${v}`).join(', ') + (plan.folded.size ? `; folded ${plan.folded.size} Relu/Clip` : '');
}

export { nodeName };
