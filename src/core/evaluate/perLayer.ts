/**
 * Per-layer error: every intermediate float tensor the reference computes is compared with the
 * candidate's value for it, on the same samples, and ranked worst first.
 *
 * Both models run as copies whose graphs also output those tensors, with graph optimisation
 * disabled so that no fusion removes them. In a QDQ candidate the float tensor X is usually
 * quantized right away (X → QuantizeLinear → DequantizeLinear → consumers); the consumers see the
 * DequantizeLinear output, so that is the value measured for X.
 *
 * Each node's own contribution (localSqnrDb) is measured in isolation: a third copy of the
 * candidate is cut at every measured tensor, its consumers reading the reference's value instead
 * (fed as extra graph inputs). What comes out of a node there is the candidate's computation on
 * exact inputs, so error inherited from upstream layers (and amplified by them) is not blamed on it.
 *
 * Tensors inside If branches are measured too: each copy carries them out as main-graph outputs
 * (onnx/branches.ts), and the cut copy's branch consumers read a main-graph input (outer scope).
 * A branch no sample takes gives empty tensors and no row.
 */
import { throwIfCancelled, WorkError } from '../errors';
import { formatBytes } from '../report/format';
import { makeNode, makeValueInfo, withFields } from '../onnx/builder';
import { elementTypes } from '../onnx/element-types';
import { carryOut, ifBranches, modelNames, uniqueNamer, withBodies } from '../onnx/branches';
import { indexModel, nodeKey, type GraphScope } from '../onnx/graph-index';
import { isIfNode } from '../onnx/walk';
import type { OnnxModel } from '../onnx/model';
import { create } from '@bufbuild/protobuf';
import { DataType } from '../onnx/dtype';
import { float32ToFloat16Bits } from '../onnx/float16';
import { ValueInfoProtoSchema, type GraphProto, type ModelProto, type NodeProto } from '../onnx/schema';
import type { JobContext } from '../progress';
import { ort, type InferenceSession, type OrtTensor } from '../runtime/ort';
import type { LayerError } from './types';
import { fixedBatchOf } from '../data/inputs';
import { adaptInputData, feedsFor, modelInputs, type InputData } from './data';
import { asFloat32, sessionForVariant, withGraph, withOutputs } from './session';
import { ErrorAccumulator, round } from './stats';

export interface PerLayerOptions {
  threads?: number | undefined;
  /** Most samples per run; default 16, fewer when one run's intermediates would pass `memoryBudget`. */
  batch?: number | undefined;
  /** Bytes of intermediate tensors one run may hold (both models, the cut copy); default 256 MiB. */
  memoryBudget?: number | undefined;
  /** Most bytes of measured tensors one sample may need (all three copies); above it, a WorkError before anything is held. Default 4 GiB. */
  sampleLimit?: number | undefined;
}

const FLOAT_TYPES = new Set(['float32', 'float16', 'float64']);

/** Bytes of intermediate values held per run (reference, candidate and cut copy together). */
const MEMORY_BUDGET = 256 * 2 ** 20;
/** One sample's measured tensors (the three copies) must fit this: every run holds them all at once. */
const SAMPLE_LIMIT = 4 * 2 ** 30;

/**
 * The ranking holds every measured tensor of a sample at once, three times over: a
 * high-resolution CNN (a 1024² segmentation net) needs tens of GiB for one sample. Their sizes
 * are counted first by a run whose extra outputs are Size nodes (scalars, nothing big is kept),
 * and a sample over the limit stops the ranking with the figure.
 */
async function checkOneSampleFits(reference: OnnxModel, wanted: string[], data: InputData, limit: number, options: { threads: number | undefined; optimization: 'disabled' }): Promise<void> {
  const graph = reference.proto.graph;
  if (!graph) return;
  const sizeOf = (i: number) => `per_layer_size_${i}`;
  const at = new Map(wanted.map((t, i) => [t, i]));
  const sizeNode = (tensor: string, i: number | undefined) => (i === undefined ? [] : [makeNode('Size', [tensor], [sizeOf(i)], {}, { name: sizeOf(i) })]);
  const counted = withGraph(reference.proto, {
    ...graph,
    // Each Size right after its tensor's producer, so that the tensor is freed as it would be.
    node: graph.node.flatMap((n) => [n, ...n.output.flatMap((o) => sizeNode(o, at.get(o)))]),
    output: [...graph.output, ...wanted.map((_, i) => makeValueInfo(sizeOf(i), DataType.INT64, []))],
  });
  const session = await sessionForVariant(reference, counted, options);
  let elements = 0;
  try {
    // A fixed first dim is the one run size the model takes: counted for that many samples, divided.
    const count = Math.min(fixedBatchOf(modelInputs(reference.proto)) ?? 1, data.samples);
    const r = await session.run(feedsFor(data, 0, count), wanted.map((_, i) => sizeOf(i)));
    for (const t of Object.values(r)) elements += Number((t.data as BigInt64Array)[0] ?? 0n) / count;
  } finally {
    await session.release();
  }
  const bytes = elements * 4 * 3;
  if (bytes > limit) {
    throw new WorkError(`per-layer ranking needs ${formatBytes(bytes)} for one sample (${wanted.length} tensors, three copies), over its ${formatBytes(limit)} limit`);
  }
}

interface Tracked {
  /** What the reference and candidate sessions fetch (for a branch tensor, the name it is carried out as). */
  tensor: string;
  candidateTensor: string;
  /** What the cut copy fetches, and the input its consumers read instead. */
  cutTensor: string;
  cutInput: string;
  /** The tensor's name in its graph (a branch's own name for a branch tensor), and the candidate's. */
  name: string;
  candidateName: string;
  node: NodeProto;
  order: number;
  candidateType: string;
  /** Error of the whole candidate up to this tensor. */
  acc: ErrorAccumulator;
  /** Error of this node alone (candidate cut, fed reference inputs). */
  local: ErrorAccumulator;
  /** Values compared (none when its branch never ran). */
  seen: number;
}

/** A tensor inside an If branch, in both models. */
interface BranchTensor {
  refBranch: GraphProto;
  candBranch: GraphProto;
  tensor: string;
  candidateTensor: string;
  node: NodeProto;
  order: number;
}

/**
 * The float32 tensors of the If branches both models have (matched by the branch's key path),
 * with the candidate's name for each (carried out, a branch that did not run gives an empty float32 tensor).
 */
function branchTensors(reference: ModelProto, candidate: ModelProto): BranchTensor[] {
  const candIndex = indexModel(candidate);
  const refIndex = indexModel(reference);
  const candTypes = elementTypes(candIndex);
  const refTypes = elementTypes(refIndex);
  const candBranches = new Map(ifBranches(candIndex).map((s) => [s.path, s.graph]));
  const out: BranchTensor[] = [];
  for (const scope of ifBranches(refIndex)) {
    const candBranch = candBranches.get(scope.path);
    if (!candBranch) continue;
    const candidateName = candidateTensorMap(candBranch);
    for (const [tensor, p] of dynamicProducers(scope.graph)) {
      const candidateTensor = candidateName(tensor);
      if (candidateTensor && refTypes.get(tensor) === DataType.FLOAT && candTypes.get(candidateTensor) === DataType.FLOAT) {
        out.push({ refBranch: scope.graph, candBranch, tensor, candidateTensor, node: p.node, order: p.order });
      }
    }
  }
  return out;
}

/** Branch tensors wanted per branch graph, and the main-graph name each one is carried out as. */
function carried(proto: ModelProto, wanted: Map<GraphProto, string[]>): { proto: ModelProto; nameOf: (branch: GraphProto, tensor: string) => string | undefined } {
  const r = carryOut(proto, wanted, uniqueNamer(modelNames(indexModel(proto))));
  const byBranch = new Map<GraphProto, Map<string, string>>();
  for (const [name, c] of r.carried) entry(byBranch, c.body, () => new Map<string, string>()).set(c.tensor, name);
  return { proto: r.proto, nameOf: (branch, tensor) => byBranch.get(branch)?.get(tensor) };
}

function wantedIn(items: BranchTensor[], side: 'ref' | 'cand'): Map<GraphProto, string[]> {
  const out = new Map<GraphProto, string[]>();
  for (const b of items) {
    const g = side === 'ref' ? b.refBranch : b.candBranch;
    entry(out, g, (): string[] => []).push(side === 'ref' ? b.tensor : b.candidateTensor);
  }
  return out;
}

export async function perLayerErrors(
  reference: OnnxModel,
  candidate: OnnxModel,
  data: InputData,
  options: PerLayerOptions = {},
  ctx: JobContext = {},
): Promise<LayerError[]> {
  const refGraph = reference.proto.graph!;
  const candGraph = candidate.proto.graph!;
  const producers = dynamicProducers(refGraph);
  const candidateName = candidateTensorMap(candGraph);
  const wanted = [...producers.keys()].filter((t) => candidateName(t) !== undefined);
  const sessionOptions = { threads: options.threads, optimization: 'disabled' as const };
  await checkOneSampleFits(reference, wanted, data, options.sampleLimit ?? SAMPLE_LIMIT, sessionOptions);
  const branch = branchTensors(reference.proto, candidate.proto);
  const refCarried = carried(reference.proto, wantedIn(branch, 'ref'));
  const candCarried = carried(candidate.proto, wantedIn(branch, 'cand'));
  // Rows carry the node key every other surface uses (unnamed nodes included), so a row can be excluded.
  indexModel(reference.proto);
  const sessions: InferenceSession[] = [];
  try {
    const refSession = await sessionForVariant(reference, withOutputs(refCarried.proto, wanted), sessionOptions);
    sessions.push(refSession);
    const candSession = await sessionForVariant(candidate, withOutputs(candCarried.proto, wanted.map((t) => candidateName(t) ?? t)), sessionOptions);
    sessions.push(candSession);
    const refTypes = outputTypes(refSession);
    const candTypes = outputTypes(candSession);
    const tracked: Tracked[] = [];
    const track = (tensor: string, cand: string, name: string, candidateName: string, node: NodeProto, order: number, cutTensor: string) => {
      // An If's output is its branch's: the branch's layers are the rows, not the If.
      if (isIfNode(node)) return false;
      const candType = candTypes.get(cand) ?? '';
      if (!FLOAT_TYPES.has(refTypes.get(tensor) ?? '') || !FLOAT_TYPES.has(candType)) return false;
      tracked.push({ tensor, candidateTensor: cand, cutTensor, cutInput: cutInputName(cutTensor), name, candidateName, candidateType: candType, node, order, acc: new ErrorAccumulator(), local: new ErrorAccumulator(), seen: 0 });
      return true;
    };
    for (const tensor of wanted) {
      const cand = candidateName(tensor);
      const p = producers.get(tensor);
      if (cand && p) track(tensor, cand, tensor, cand, p.node, p.order, cand);
    }
    // Branch tensors: the cut is made in the candidate's branches, then carried out of the cut copy.
    const cutBranches = new Map<GraphProto, GraphProto>();
    const cutInputs = new Map<GraphProto, Map<string, string>>();
    for (const b of branch) {
      const ref = refCarried.nameOf(b.refBranch, b.tensor);
      const cand = candCarried.nameOf(b.candBranch, b.candidateTensor);
      if (ref && cand) {
        // Ties in the ranking go to graph order: branch nodes after the main graph's.
        if (track(ref, cand, b.tensor, b.candidateTensor, b.node, refGraph.node.length + b.order, cand)) entry(cutInputs, b.candBranch, () => new Map<string, string>()).set(b.candidateTensor, cutInputName(cand));
      }
    }
    const mainTracked = tracked.filter((t) => t.tensor === t.name && producers.has(t.tensor) && t.cutTensor === t.candidateTensor);
    // A branch's consumers read the cut inputs of its own tensors and of every graph enclosing it.
    entry(cutInputs, candGraph, () => new Map<string, string>());
    for (const t of mainTracked) cutInputs.get(candGraph)?.set(t.candidateTensor, cutInputName(t.candidateTensor));
    for (const scope of ifBranches(indexModel(candidate.proto))) {
      const inputs = new Map<string, string>();
      for (let sc: GraphScope | undefined = scope; sc; sc = sc.parent) for (const [k, v] of cutInputs.get(sc.graph) ?? []) if (!inputs.has(k)) inputs.set(k, v);
      const g = scope.graph;
      if (inputs.size && g.node.some((n) => n.input.some((i) => inputs.has(i)))) {
        cutBranches.set(g, withFields(g, { node: g.node.map((n) => (n.input.some((i) => inputs.has(i)) ? withFields(n, { input: n.input.map((i) => inputs.get(i) ?? i) }) : n)) }));
      }
    }
    const cutMain = cutAtTracked(candidate.proto, mainTracked, tracked.filter((t) => !mainTracked.includes(t)));
    const cutGraph = cutMain.graph ?? refGraph;
    const finalOf = new Map<GraphProto, GraphProto>();
    const cutProto = withGraph(cutMain, { ...cutGraph, node: withBodies(cutGraph.node, cutBranches, finalOf) });
    const cutWanted = new Map<GraphProto, string[]>();
    for (const b of branch) {
      entry(cutWanted, finalOf.get(b.candBranch) ?? b.candBranch, (): string[] => []).push(b.candidateTensor);
    }
    const cutCarried = carried(cutProto, cutWanted);
    for (const b of branch) {
      const cand = candCarried.nameOf(b.candBranch, b.candidateTensor);
      const t = tracked.find((x) => x.candidateTensor === cand);
      const name = cutCarried.nameOf(finalOf.get(b.candBranch) ?? b.candBranch, b.candidateTensor);
      if (t && name) t.cutTensor = name;
    }
    const cut = cutCarried.proto;
    const cutSession = await sessionForVariant(candidate, cut, sessionOptions);
    sessions.push(cutSession);

    // Tensors whose two versions differ in size (another layout in the candidate) are not compared;
    // at the cut they keep the candidate's own value.
    const mismatched = new Set<string>();
    const candidateData = adaptInputData(data, modelInputs(candidate.proto));
    const refNames = tracked.map((t) => t.tensor);
    const candNames = [...new Set(tracked.map((t) => t.candidateTensor))];
    const cutNames = [...new Set(tracked.map((t) => t.cutTensor))];
    // A fixed first dim is the one run size ONNX Runtime accepts; otherwise the first sample alone
    // measures the memory one sample takes, and the next runs are sized from it.
    const fixed = fixedBatchOf(modelInputs(reference.proto));
    let step = fixed ?? 1;
    const maxStep = fixed ?? Math.max(1, options.batch ?? 16);
    for (let start = 0; start < data.samples; ) {
      throwIfCancelled(ctx.signal);
      const count = Math.min(step, data.samples - start);
      if (fixed !== undefined && count < fixed && start > 0) break; // a short last run would not fit the model
      const feeds = feedsFor(data, start, count);
      const r = await refSession.run(feeds, refNames);
      const candFeeds = candidateData === data ? feeds : feedsFor(candidateData, start, count);
      const c = await candSession.run(candFeeds, candNames);
      const refValues = new Map<string, Float32Array>();
      let bytes = 0;
      for (const t of tracked) {
        const rv = asFloat32(r[t.tensor]!);
        const cv = asFloat32(c[t.candidateTensor]!);
        bytes += rv.byteLength + cv.byteLength;
        refValues.set(t.tensor, rv);
        if (rv.length !== cv.length) mismatched.add(t.tensor);
        else if (!mismatched.has(t.tensor)) {
          t.acc.add(rv, cv);
          t.seen += rv.length;
        }
      }
      // The cut copy: every measured tensor's consumers read the reference value.
      const cutFeeds = { ...candFeeds };
      for (const t of tracked) {
        cutFeeds[t.cutInput] = mismatched.has(t.tensor) ? c[t.candidateTensor]! : referenceFeed(r[t.tensor]!, refValues.get(t.tensor), t.candidateType);
      }
      const cc = await cutSession.run(cutFeeds, cutNames);
      for (const t of tracked) {
        if (mismatched.has(t.tensor)) continue;
        const cut = cc[t.cutTensor];
        if (!cut) continue;
        const cv = asFloat32(cut);
        const rv = refValues.get(t.tensor)!;
        if (rv.length === cv.length) t.local.add(rv, cv);
      }
      if (start === 0 && fixed === undefined) step = Math.max(1, Math.min(maxStep, Math.floor((options.memoryBudget ?? MEMORY_BUDGET) / Math.max(1, (bytes * 3) / count))));
      start += count;
      ctx.onProgress?.({ stage: 'per-layer', message: `${start}/${data.samples} samples` });
    }
    return rank(tracked.filter((t) => !mismatched.has(t.tensor) && t.seen > 0));
  } finally {
    for (const s of sessions) await s.release();
  }
}

/** Name of the extra graph input that replaces candidate tensor `name` for its consumers. */
function cutInputName(name: string): string {
  return `${name}::reference`;
}

/**
 * The candidate with every measured tensor cut: its consumers read a new graph input (fed the
 * reference value) while the tensor itself stays computed and becomes a graph output.
 */
function cutAtTracked(proto: ModelProto, tracked: Tracked[], inBranches: Tracked[] = []): ModelProto {
  const graph = proto.graph!;
  const cutNames = new Map(tracked.map((t) => [t.candidateTensor, t]));
  const node = graph.node.map((n) =>
    n.input.some((i) => cutNames.has(i)) ? withFields(n, { input: n.input.map((i) => (cutNames.has(i) ? cutInputName(i) : i)) }) : n,
  );
  const input = [...graph.input];
  const typeOf = (t: Tracked) => (t.candidateType === 'float16' ? DataType.FLOAT16 : t.candidateType === 'float64' ? DataType.DOUBLE : DataType.FLOAT);
  for (const [name, t] of cutNames) input.push(makeValueInfo(cutInputName(name), typeOf(t)));
  // Branch consumers read these from the outer scope (the main graph's inputs).
  for (const t of inBranches) input.push(makeValueInfo(t.cutInput, typeOf(t)));
  const present = new Set(graph.output.map((o) => o.name));
  const output = [...graph.output, ...[...cutNames.keys()].filter((n) => !present.has(n)).map((name) => create(ValueInfoProtoSchema, { name }))];
  return withGraph(proto, { ...graph, node, input, output });
}

/** The value under `key`, made first when missing. */
function entry<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) map.set(key, (v = make()));
  return v;
}


/** The reference value as the candidate's dtype expects it at the cut. */
function referenceFeed(value: OrtTensor, asF32: Float32Array | undefined, candidateType: string): OrtTensor {
  if (value.type === candidateType) return value;
  const o = ort();
  const f = asF32 ?? asFloat32(value);
  if (candidateType === 'float16') return new o.Tensor('float16', Uint16Array.from(f, float32ToFloat16Bits), value.dims);
  if (candidateType === 'float64') return new o.Tensor('float64', Float64Array.from(f), value.dims);
  return new o.Tensor('float32', f, value.dims);
}

/**
 * Tensors computed from the graph inputs (not constant folding material), with the node that
 * produces each and its position in the graph. Nodes are in topological order (ONNX requires it).
 */
function dynamicProducers(graph: GraphProto): Map<string, { node: NodeProto; order: number }> {
  const constant = new Set<string>(graph.initializer.map((t) => t.name));
  const out = new Map<string, { node: NodeProto; order: number }>();
  graph.node.forEach((node, order) => {
    const inputs = node.input.filter(Boolean);
    const isConstant = inputs.every((i) => constant.has(i));
    for (const o of node.output) {
      if (!o) continue;
      if (isConstant) constant.add(o);
      else out.set(o, { node, order });
    }
  });
  return out;
}

/**
 * Where the candidate holds the value of reference tensor X:
 * 1. a DequantizeLinear output named `X_DequantizeLinear_Output` (ONNX Runtime's naming, which
 *    our quantizer keeps): the quantized stand-in for X, even when X's producer was folded away
 *    (Conv → Relu becomes Conv → Q → DQ with the Relu's range);
 * 2. else the DequantizeLinear of an X → QuantizeLinear → DequantizeLinear pair, unless that DQ is
 *    named for another tensor (then it stands for a folded successor of X, not for X);
 * 3. else X itself when the candidate computes a tensor of that name; undefined otherwise.
 */
function candidateTensorMap(graph: GraphProto): (tensor: string) => string | undefined {
  const SUFFIX = '_DequantizeLinear_Output';
  const produced = new Set(graph.node.flatMap((n) => n.output).filter(Boolean));
  const quantizedActivations = new Set(graph.node.filter((n) => n.opType === 'QuantizeLinear').map((n) => n.output[0]));
  const namedDq = new Map<string, string>();
  for (const n of graph.node) {
    const out = n.output[0];
    if (n.opType === 'DequantizeLinear' && out?.endsWith(SUFFIX) && quantizedActivations.has(n.input[0])) namedDq.set(out.slice(0, -SUFFIX.length), out);
  }
  const consumers = new Map<string, NodeProto[]>();
  for (const n of graph.node) for (const i of n.input) if (i) (consumers.get(i) ?? consumers.set(i, []).get(i)!).push(n);
  return (tensor) => {
    const named = namedDq.get(tensor);
    if (named) return named;
    for (const q of consumers.get(tensor) ?? []) {
      if (q.opType !== 'QuantizeLinear' || q.input[0] !== tensor || !q.output[0]) continue;
      const dq = (consumers.get(q.output[0]) ?? []).find((n) => n.opType === 'DequantizeLinear' && n.input[0] === q.output[0]);
      const out = dq?.output[0];
      if (out && !(out.endsWith(SUFFIX) && out !== `${tensor}${SUFFIX}`)) return out;
    }
    return produced.has(tensor) ? tensor : undefined;
  };
}

function outputTypes(session: InferenceSession): Map<string, string> {
  const types = new Map<string, string>();
  for (const m of session.outputMetadata) if (m.isTensor) types.set(m.name, m.type);
  return types;
}

/**
 * Results worst first: the error a node adds on exact inputs (localSqnrDb), then the SQNR of its
 * output, then graph order. Downstream of a bad layer every tensor carries its error, so ranking
 * by output SQNR alone would blame whatever comes last.
 */
function rank(tracked: Tracked[]): LayerError[] {
  const db = (acc: ErrorAccumulator): number | null => {
    const v = acc.sqnrDb;
    return v === null ? null : Number.isFinite(v) ? round(v, 3) : -1000;
  };
  const key = (v: number | null) => (v === null ? Infinity : v);
  const layers = tracked.map((t) => {
    const layer: LayerError = {
      tensor: t.name,
      node: nodeKey(t.node),
      opType: t.node.opType,
      candidateTensor: t.candidateName,
      sqnrDb: t.acc.sqnrDb === null || !Number.isFinite(t.acc.sqnrDb) ? null : round(t.acc.sqnrDb, 3),
      identical: t.acc.identical,
      cosine: round(t.acc.cosine, 6),
      maxAbsError: Number.isFinite(t.acc.maxAbsError) ? t.acc.maxAbsError : Number.MAX_VALUE,
      localSqnrDb: db(t.local),
    };
    return { layer, order: t.order, local: key(layer.localSqnrDb), own: t.acc.nonFinite ? -Infinity : key(layer.sqnrDb) };
  });
  const cmp = (x: number, y: number) => (x === y ? 0 : x < y ? -1 : 1);
  layers.sort((a, b) => cmp(a.local, b.local) || cmp(a.own, b.own) || a.order - b.order);
  return layers.map((l) => l.layer);
}
