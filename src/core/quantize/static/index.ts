/**
 * Static quantization: plan the fusable groups, calibrate activation ranges in ONNX Runtime,
 * then write QDQ (default) or QOperator. The input model is never modified: the result is a new
 * ModelProto that shares untouched messages (nodes, initializers) with it.
 */
import { create } from '@bufbuild/protobuf';
import { collectRanges, loadCalibrationData, modelInputs, type CalibrationTarget, type TensorRange } from '../../calibrate';
import { stageWeightCap, weightBytesOf } from '../../calibrate/stages';
import { InputError, throwIfCancelled, WorkError } from '../../errors';
import { opsetVersion } from '../../onnx/builder';
import { DataType } from '../../onnx/dtype';
import { indexModel, SCOPE_SEPARATOR, type GraphScope } from '../../onnx/graph-index';
import { opRule } from '../../onnx/op-rules';
import { elementTypes } from '../../onnx/element-types';
import type { SkippedNode } from '../types';
import { isExternal, type OnnxModel } from '../../onnx/model';
import type { ExternalDataWriter } from '../../onnx/save';
import { GraphProtoSchema, ModelProtoSchema, OperatorSetIdProtoSchema, type GraphProto, type ModelProto, type NodeProto } from '../../onnx/schema';
import type { JobContext } from '../../progress';
import { formatBytes } from '../../report/format';
import { computeQuantParams, quantRange, type QuantParams } from '../math';
import { nodeName, type EngineResult, type NodeSelection, type ResolvedOptions, type SelectionVerdict } from '../selection';
import { carryOut, modelNames, uniqueNamer, withBodies } from '../../onnx/branches';
import { staticBodies, type StaticBody } from './bodies';
import { StaticBuilder, type EmitOptions } from './builder';
import { foldBatchNormalization } from './foldBatchNorm';
import { inferElemTypes } from './inferTypes';
import { prepareOpset } from './opset';
import { COMPUTE_OPS, describe, planStatic, STATIC_OP_TYPES, type StaticPlan } from './plan';
import { unfusedQuantizedOps } from './fusionCheck';
import { emitQdq } from './qdq';
import { emitQOperator } from './qoperator';

export { STATIC_OP_TYPES, CPU_UNFUSED_OPS } from './plan';

/**
 * Calibrated ranges kept across runs on the same model, data and calibration options (auto-exclude
 * quantizes one model several times): tensors found here are not calibrated again.
 */
export interface RangeCache {
  ranges: Map<string, TensorRange>;
  /** Tensors calibration found no float range for. */
  unavailable: Set<string>;
  /** Calibration passes run through this cache. */
  calibrations: number;
}

export function newRangeCache(): RangeCache {
  return { ranges: new Map(), unavailable: new Set(), calibrations: 0 };
}

export async function quantizeStatic(
  model: OnnxModel,
  options: ResolvedOptions,
  selection: NodeSelection,
  ctx: JobContext = {},
  cache?: RangeCache,
  writer?: ExternalDataWriter,
): Promise<EngineResult> {
  throwIfCancelled(ctx.signal);
  const warnings: string[] = [];
  // Data first: a missing or malformed file is the user's most likely mistake, report it before any work.
  const data = loadCalibrationData(options.calibrationData, modelInputs(model.proto.graph!), options.dataRoots);
  // Indexed before any rewrite: body nodes are reported by the keys every other part of the tool uses.
  const original = indexModel(model.proto);

  const bn = foldBatchNormalization(model.proto, model);
  if (bn.folded > 0) warnings.push(`folded ${bn.folded} BatchNormalization node(s) into the preceding Conv`);
  // A per-node perChannel override needs opset 13 too, even when the global option is off.
  const anyPerChannel = options.perChannel || [...selection.overridden].some((n) => selection.overridesFor(n).perChannel === true);
  const opset = prepareOpset(bn.proto, anyPerChannel);
  warnings.push(...opset.warnings);
  const proto = opset.proto;
  const graph = proto.graph!;
  const types = inferElemTypes(graph);
  // If branches are planned and written like the main graph, their tensors calibrated through outputs carried out of them.
  const index = indexModel(proto);
  const names = modelNames(index);
  const fresh = uniqueNamer(names);
  const noBodies = bodiesUnavailable(graph, options);
  const bodies = noBodies ? [] : staticBodies(index, fresh, types);
  const inBodies = bodySkips(original, selection, new Set(bodies.map((b) => b.path)), noBodies);
  const pathOf = new Map(index.nodes.filter((e) => e.scope.depth > 0).map((e) => [e.key, e.scope.path.slice(0, -SCOPE_SEPARATOR.length)]));
  const planOptions = {
    foldActivations: !options.symmetricActivations,
    includeCpuUnfused: options.preset === 'gpu' ? ('all' as const) : (selection.opTypes ?? new Set<string>()),
  };

  // Plan, calibrate; tensors without a usable range (non-float at run time) exclude their nodes and we plan again.
  const excluded = new Map<string, string>();
  const ranges = cache?.ranges ?? new Map<string, TensorRange>();
  let plan: StaticPlan | undefined;
  let bodyPlans: { body: StaticBody; plan: StaticPlan }[] = [];
  const bodyOf = new Map(bodies.map((b) => [b.scope.graph, b]));
  let calibrationSeconds = 0;
  for (let attempt = 0; attempt < 4; attempt++) {
    plan = planStatic(graph, types, withExclusions(selection, excluded), planOptions);
    bodyPlans = bodies.map((body) => ({ body, plan: planStatic(body.graph, body.types, withExclusions(selection, excluded), planOptions) }));
    const targets: CalibrationTarget[] = [];
    for (const t of plan.tensors.values()) {
      if (t.aliasOf || t.fixedRange || ranges.has(t.name) || cache?.unavailable.has(t.name)) continue;
      targets.push({ name: t.name, elemType: types.get(t.name) });
    }
    const wanted = new Map<GraphProto, string[]>();
    for (const { body, plan: p } of bodyPlans) {
      // Only tensors typed float32 are carried (the stand-in the other branch gives is a float32 tensor); others get no range.
      const names = [...p.tensors.values()]
        .filter((t) => !t.aliasOf && !t.fixedRange && body.types.get(t.name) === DataType.FLOAT && !ranges.has(bodyKey(body, t.name)) && !cache?.unavailable.has(bodyKey(body, t.name)))
        .map((t) => t.name);
      if (names.length) wanted.set(body.scope.graph, names);
    }
    const calibrated = carryOut(proto, wanted, fresh);
    // Carried tensors are exposed whole (not reduced): a branch that did not run gives an empty tensor, which has no range.
    for (const name of calibrated.carried.keys()) targets.push({ name, elemType: undefined });
    if (targets.length > 0) {
      const result = await collectRanges(
        calibrated.proto,
        targets,
        data,
        { method: options.calibrationMethod, bins: options.histogramBins, percentile: options.percentile, movingAverage: options.movingAverage, batchSize: options.calibrationBatch, memoryBudget: options.memoryBudget * 2 ** 20 },
        // Calibration is most of the job: report it as 5-75 % of the whole.
        { ...ctx, onProgress: (p) => ctx.onProgress?.({ ...p, fraction: 0.05 + 0.7 * (p.fraction ?? 0) }) },
        model,
      );
      calibrationSeconds += result.seconds;
      const keyOf = (name: string): string => {
        const c = calibrated.carried.get(name);
        const body = c && bodyOf.get(c.body);
        return c && body ? bodyKey(body, c.tensor) : name;
      };
      for (const [k, v] of result.ranges) ranges.set(keyOf(k), v);
      if (cache) {
        cache.calibrations++;
        for (const t of targets) if (!result.ranges.has(t.name)) cache.unavailable.add(keyOf(t.name));
      }
      ctx.log?.(
        `calibrated ${result.ranges.size} tensors on ${result.samples} samples in ${result.seconds.toFixed(2)} s (${options.calibrationMethod}, ${(result.stateBytes / 1024).toFixed(0)} KiB of statistics; ${result.slices} pass(es), batch ≤ ${result.batchSize}, peak +${formatBytes(result.peakBytes)})`,
      );
    }
    const missing = new Set([...plan.tensors.values()].filter((t) => !t.aliasOf && !t.fixedRange && !ranges.has(t.name)).map((t) => t.name));
    const before = excluded.size;
    for (const n of [...plan.nodes.keys(), ...plan.folded]) {
      const touched = [...n.input, ...n.output].find((x) => missing.has(x));
      if (touched) excluded.set(nodeName(n), `no float32 range for '${touched}' during calibration`);
    }
    let bodyMissing = 0;
    for (const { body, plan: p } of bodyPlans) {
      const planned = [...p.tensors.values()].filter((t) => !t.aliasOf && !t.fixedRange);
      const lacking = new Set(planned.filter((t) => !ranges.has(bodyKey(body, t.name))).map((t) => t.name));
      if (lacking.size === 0) continue;
      bodyMissing += lacking.size;
      // No range for any of its tensors: no calibration sample took this branch.
      const why = lacking.size === planned.length ? `no calibration sample took this branch of ${body.scope.owner?.key ?? 'its If'}, so it has no activation ranges` : undefined;
      for (const n of [...p.nodes.keys(), ...p.folded]) {
        const touched = [...n.input, ...n.output].find((x) => lacking.has(x));
        if (touched) excluded.set(nodeName(n), why ?? `no float32 range for '${touched}' during calibration`);
      }
    }
    if (missing.size === 0 && bodyMissing === 0) break;
    if (excluded.size === before) throw new WorkError(`calibration gave no range for ${[...missing].join(', ')}`);
    plan = undefined;
  }
  if (!plan) throw new WorkError('static quantization could not settle which tensors to quantize (calibration kept missing ranges)');
  throwIfCancelled(ctx.signal);
  ctx.onProgress?.({ stage: 'quantizing', fraction: 0.8, message: describe(plan) });

  if (plan.unfolded > 0 && options.preset !== 'gpu') {
    warnings.push(
      `symmetric activations: ${plan.unfolded} Relu/Clip after quantized ops stay float between DequantizeLinear and QuantizeLinear (only asymmetric activations let the Q clamp like them); on CPU this costs speed`,
    );
  }
  const partial = partlyQuantizedChains(plan, graph);
  if (partial.length > 0) {
    warnings.push(
      `${partial.join(', ')} left float between quantized ops by the node/op-type filters: ONNX Runtime then cannot run the neighbouring ops in integer kernels either, which can make the model slower than float`,
    );
  }
  const params = resolveParams(plan, ranges, options);
  const emitOptions: EmitOptions = {
    activationType: options.activationType,
    symmetricActivations: options.symmetricActivations,
    perChannel: opset.perChannel && options.perChannel,
    perChannelFor: selection.overridden.size ? (n) => opset.perChannel && (selection.overridesFor(n).perChannel ?? options.perChannel) : undefined,
    reduceRange: options.reduceRange,
    addQdqPairToWeight: options.addQdqPairToWeight && options.format === 'qdq',
  };
  const opsetNumber = opsetVersion(proto, '') ?? 13;
  const emitGraph = (g: GraphProto, p: StaticPlan, tensorParams: Map<string, QuantParams>) => {
    const builder = new StaticBuilder(g, p, tensorParams, emitOptions, model, writer, names);
    const emitted = options.format === 'qoperator' ? emitQOperator(builder, opsetNumber) : emitQdq(builder);
    warnings.push(...builder.warnings);
    const written = create(GraphProtoSchema, { ...g, node: emitted.nodes, initializer: [...g.initializer, ...builder.initializers] });
    return { emitted, written };
  };
  const main = emitGraph(graph, plan, params);
  const emitted = main.emitted;
  let usesContribOps = emitted.usesContribOps;
  let quantizedNodes = emitted.quantizedNodes;
  const quantizedKeys = [...plan.nodes.keys()].filter((n) => !plan.folded.has(n)).map((n) => nodeName(n));
  const replaced = new Map<GraphProto, GraphProto>();
  const bodySkipped: SkippedNode[] = [];
  for (const { body, plan: p } of bodyPlans) {
    bodySkipped.push(...p.skipped.toArray());
    if (p.nodes.size === 0) continue;
    const bodyRanges = new Map<string, TensorRange>();
    for (const t of p.tensors.values()) {
      const r = ranges.get(bodyKey(body, t.name));
      if (r) bodyRanges.set(t.name, r);
    }
    const written = emitGraph(body.graph, p, resolveParams(p, bodyRanges, options));
    tidy(written.written);
    replaced.set(body.scope.graph, written.written);
    usesContribOps ||= written.emitted.usesContribOps;
    quantizedNodes += written.emitted.quantizedNodes;
    quantizedKeys.push(...[...p.nodes.keys()].filter((n) => !p.folded.has(n)).map((n) => nodeName(n)));
  }
  if (calibrationSeconds > 0) ctx.log?.(`calibration took ${calibrationSeconds.toFixed(2)} s`);

  const newGraph = create(GraphProtoSchema, { ...main.written, node: withBodies(main.written.node, replaced) });
  tidy(newGraph);
  const out = create(ModelProtoSchema, { ...proto, graph: newGraph, opsetImport: [...proto.opsetImport] });
  if (usesContribOps && !out.opsetImport.some((o) => o.domain === 'com.microsoft')) {
    out.opsetImport.push(create(OperatorSetIdProtoSchema, { domain: 'com.microsoft', version: 1n }));
  }
  // The check loads the model from bytes: weights in data files (the input's, the output's) are out of its reach.
  if (writer || graph.initializer.some(isExternal)) ctx.log?.('fusion check skipped: the weights are in external data');
  else if (options.format === 'qdq' && options.preset !== 'gpu' && emitted.quantizedNodes > 0) {
    warnings.push(...(await fusionWarnings(out, plan, graph, options, ctx)));
  }
  const skippedNodes = [...plan.skipped.toArray(), ...[...excluded].map(([node, reason]): SkippedNode => ({ node, reason })), ...bodySkipped, ...inBodies]
    .filter((s, i, all) => all.findIndex((o) => o.node === s.node) === i)
    .map((s) => {
      const subgraph = s.subgraph ?? pathOf.get(s.node);
      return subgraph ? { ...s, subgraph } : s;
    });
  return { proto: out, quantizedNodes, quantizedKeys, skippedNodes, warnings };
}

/** Where a branch tensor's range is kept (the range cache is shared with the main graph's tensor names). */
function bodyKey(body: StaticBody, tensor: string): string {
  return `\u0000${body.path}\u0000${tensor}`;
}

/**
 * Why If branches stay float for this model, when they do: calibrating in stages (weights past
 * the stage cap) and external weights take the main graph's nodes only.
 */
function bodiesUnavailable(graph: GraphProto, options: ResolvedOptions): string | undefined {
  if (graph.initializer.some(isExternal)) return 'the model keeps its weights in external data, which static mode calibrates in the main graph only';
  if (weightBytesOf(graph) > stageWeightCap(options.memoryBudget * 2 ** 20)) return 'the model is calibrated in stages (weights past half the memory budget), which observe the main graph only';
  return undefined;
}

/** Unused initializers dropped and stale value_info removed (folded Relu inputs, QOperator's float names). */
function tidy(g: GraphProto): void {
  dropUnused(g);
  const produced = new Set(g.node.flatMap((n) => n.output));
  g.valueInfo = g.valueInfo.filter((v) => produced.has(v.name));
}

/**
 * Compute ops of the bodies static mode does not plan (Loop/Scan bodies and everything inside
 * them; If branches too when `noBodies` says why), each with its reason and body path. Integer-typed
 * arithmetic (shape computations) is not a candidate, as in the main graph.
 */
function bodySkips(index: ReturnType<typeof indexModel>, selection: NodeSelection, planned: ReadonlySet<string>, noBodies: string | undefined): SkippedNode[] {
  const types = elementTypes(index);
  const out: SkippedNode[] = [];
  for (const { node, key, scope } of index.nodes) {
    if (scope.depth === 0 || !scope.owner) continue;
    const path = scope.path.slice(0, -SCOPE_SEPARATOR.length);
    if (planned.has(path)) continue;
    const rule = opRule(node);
    if (rule?.static !== 'compute' && rule?.static !== 'cpu-unfused') continue;
    const y = node.output[0];
    const t = y ? types.get(y) : undefined;
    if (t !== undefined && t !== DataType.FLOAT && t !== DataType.FLOAT16) continue;
    const verdict = selection.check(node, STATIC_OP_TYPES);
    // What keeps it float: an enclosing Loop/Scan body, else (noBodies) its If branch.
    let holder = scope;
    for (let s: GraphScope | undefined = scope; s?.owner; s = s.parent) if (s.owner.node.opType !== 'If') holder = s;
    const owner = holder.owner?.node.opType ?? scope.owner.node.opType;
    const elsewhere =
      rule.dynamic === 'default' && rule.weightOnly === 'default'
        ? '; dynamic and weight-only modes quantize it there'
        : rule.dynamic === 'on-request'
          ? `; dynamic mode quantizes it there with --op-types ${node.opType}`
          : '';
    const why = noBodies && owner === 'If'
      ? `inside an If branch: ${noBodies}`
      : `inside a body of ${owner}: static mode quantizes inside If branches only (a ${owner} body runs many times per call, and ONNX Runtime returns none of its tensors as a model output for calibration)`;
    const reason = verdict.selected ? `${why}${elsewhere}` : verdict.reason;
    out.push({ node: key, reason, subgraph: path });
  }
  return out;
}

/** A warning per op type ORT did not fuse on this machine (those groups run in float plus Q/DQ work). */
async function fusionWarnings(proto: ModelProto, plan: StaticPlan, graph: GraphProto, options: ResolvedOptions, ctx: JobContext): Promise<string[]> {
  const quantized = [...plan.nodes.values()].filter((p) => p.kind === 'compute').map((p) => p.node);
  const leftFloat = graph.node.filter((n) => COMPUTE_OPS.has(n.opType) && !plan.nodes.has(n));
  let unfused: Map<string, number>;
  try {
    unfused = await unfusedQuantizedOps(proto, quantized, leftFloat);
  } catch (e) {
    ctx.log?.(`fusion check skipped: ${(e as Error).message}`);
    return [];
  }
  if (unfused.size === 0) return [];
  const list = [...unfused].map(([op, n]) => `${n} ${op}`).join(', ');
  const why =
    options.activationType === 'int8'
      ? ' (on x86, int8 activations fuse only where each QuantizeLinear has a single consumer; an ARM device may fuse them)'
      : '';
  return [`ONNX Runtime on this machine did not fuse ${list} into integer kernels: those run in float with extra Q/DQ work${why}`];
}

/** Fusable ops the user's filters kept float although they read a quantized tensor (doc §7: partly fused graphs are slow). */
function partlyQuantizedChains(plan: StaticPlan, graph: GraphProto): string[] {
  const out: string[] = [];
  const readers = new Map<string, NodeProto[]>();
  for (const n of graph.node) for (const i of n.input) (readers.get(i) ?? readers.set(i, []).get(i)!).push(n);
  // Its output is quantized again downstream, directly or after a Relu/Clip.
  const feedsQuantized = (t: string): boolean =>
    plan.tensors.has(t) || (readers.get(t) ?? []).some((r) => (r.opType === 'Relu' || r.opType === 'Clip') && plan.tensors.has(r.output[0] ?? ''));
  for (const node of plan.skippedNodes) {
    if (node.input.some((i) => plan.tensors.has(i)) && node.output.some(feedsQuantized)) out.push(`${nodeName(node)} (${node.opType})`);
  }
  return out;
}

/** Scale and zero point per planned tensor: calibrated ranges, fixed ranges, pass-through aliases share their root's. */
function resolveParams(plan: StaticPlan, ranges: Map<string, TensorRange>, options: ResolvedOptions): Map<string, QuantParams> {
  const type = options.activationType;
  const sym = options.symmetricActivations;
  const range = quantRange(type, { symmetric: sym });
  const out = new Map<string, QuantParams>();
  for (const t of plan.tensors.values()) {
    if (t.aliasOf) continue;
    const r = t.fixedRange ?? ranges.get(t.name);
    if (!r) continue;
    out.set(t.name, computeQuantParams(r.min, r.max, range, sym));
  }
  return out;
}

function withExclusions(selection: NodeSelection, excluded: Map<string, string>): NodeSelection {
  if (excluded.size === 0) return selection;
  return {
    ...selection,
    check(node: NodeProto, modeOpTypes?: ReadonlySet<string>): SelectionVerdict {
      const reason = excluded.get(nodeName(node));
      return reason ? { selected: false, reason } : selection.check(node, modeOpTypes ?? STATIC_OP_TYPES);
    },
  };
}

/** Drop initializers (and the Constant nodes) nothing reads any more: the float weights that were quantized. */
function dropUnused(graph: GraphProto): void {
  for (let changed = true; changed; ) {
    changed = false;
    const used = new Set<string>(graph.output.map((o) => o.name));
    for (const n of graph.node) for (const i of n.input) if (i) used.add(i);
    for (const n of graph.node) for (const a of n.attribute) if (a.g || a.graphs.length) collectSubgraphInputs(a.g ? [a.g, ...a.graphs] : a.graphs, used);
    const before = graph.node.length + graph.initializer.length;
    const dropped = new Set(graph.initializer.filter((t) => !used.has(t.name)).map((t) => t.name));
    graph.node = graph.node.filter((n) => !(n.opType === 'Constant' && n.output.every((o) => !used.has(o))));
    graph.initializer = graph.initializer.filter((t) => !dropped.has(t.name));
    // Old models list initializers as graph inputs too: those declarations go with them.
    graph.input = graph.input.filter((v) => !dropped.has(v.name));
    changed = graph.node.length + graph.initializer.length !== before;
  }
}

function collectSubgraphInputs(graphs: GraphProto[], used: Set<string>): void {
  const stack = [...graphs];
  while (stack.length) {
    const g = stack.pop()!;
    for (const n of g.node) {
      for (const i of n.input) if (i) used.add(i);
      for (const a of n.attribute) {
        if (a.g) stack.push(a.g);
        stack.push(...a.graphs);
      }
    }
  }
}

export type { ModelProto };
