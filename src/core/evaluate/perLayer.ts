/**
 * Per-layer error: every intermediate float tensor the reference computes is compared with the
 * candidate's value for it, on the same samples, and ranked worst first.
 *
 * Both models run as copies whose graphs also output those tensors, with graph optimisation
 * disabled so that no fusion removes them. In a QDQ candidate the float tensor X is usually
 * quantized right away (X → QuantizeLinear → DequantizeLinear → consumers); the consumers see the
 * DequantizeLinear output, so that is the value measured for X.
 */
import { throwIfCancelled } from '../errors';
import type { OnnxModel } from '../onnx/model';
import type { GraphProto, NodeProto } from '../onnx/schema';
import type { JobContext } from '../progress';
import type { InferenceSession } from '../runtime/ort';
import type { LayerError } from '../../shared/report';
import { feedsFor, maxBatchOf, modelInputs, type InputData } from './data';
import { asFloat32, sessionWithOutputs } from './session';
import { ErrorAccumulator, round, sqnrDb } from './stats';

export interface PerLayerOptions {
  threads?: number | undefined;
  /** Samples per run; default 16 (every intermediate of a batch is held at once). */
  batch?: number | undefined;
}

const FLOAT_TYPES = new Set(['float32', 'float16', 'float64']);

interface Tracked {
  tensor: string;
  candidateTensor: string;
  node: NodeProto;
  order: number;
  acc: ErrorAccumulator;
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
  const refSession = await sessionWithOutputs(reference, wanted, sessionOptions);
  let candSession: InferenceSession;
  try {
    candSession = await sessionWithOutputs(candidate, wanted.map((t) => candidateName(t)!), sessionOptions);
  } catch (e) {
    await refSession.release();
    throw e;
  }
  try {
    const refTypes = outputTypes(refSession);
    const candTypes = outputTypes(candSession);
    const tracked: Tracked[] = [];
    for (const tensor of wanted) {
      const cand = candidateName(tensor)!;
      if (!FLOAT_TYPES.has(refTypes.get(tensor) ?? '') || !FLOAT_TYPES.has(candTypes.get(cand) ?? '')) continue;
      const p = producers.get(tensor)!;
      tracked.push({ tensor, candidateTensor: cand, node: p.node, order: p.order, acc: new ErrorAccumulator() });
    }
    const mismatched = new Set<string>();
    const step = Math.max(1, Math.min(options.batch ?? 16, maxBatchOf(modelInputs(reference.proto))));
    for (let start = 0; start < data.samples; start += step) {
      throwIfCancelled(ctx.signal);
      const count = Math.min(step, data.samples - start);
      const feeds = feedsFor(data, start, count);
      const live = tracked.filter((t) => !mismatched.has(t.tensor));
      const r = await refSession.run(feeds, live.map((t) => t.tensor));
      const c = await candSession.run(feeds, [...new Set(live.map((t) => t.candidateTensor))]);
      for (const t of live) {
        const rv = asFloat32(r[t.tensor]!);
        const cv = asFloat32(c[t.candidateTensor]!);
        if (rv.length !== cv.length) mismatched.add(t.tensor);
        else t.acc.add(rv, cv);
      }
      ctx.onProgress?.({ stage: 'per-layer', message: `${start + count}/${data.samples} samples` });
    }
    return rank(tracked.filter((t) => !mismatched.has(t.tensor)), new Set(modelInputs(reference.proto).map((s) => s.name)));
  } finally {
    await refSession.release();
    await candSession.release();
  }
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
 * Where the candidate holds the value of reference tensor X: the DequantizeLinear output of an
 * X → QuantizeLinear → DequantizeLinear pair when there is one, else X itself when the candidate
 * computes a tensor of that name; undefined when it has no counterpart.
 */
function candidateTensorMap(graph: GraphProto): (tensor: string) => string | undefined {
  const produced = new Set(graph.node.flatMap((n) => n.output).filter(Boolean));
  const consumers = new Map<string, NodeProto[]>();
  for (const n of graph.node) for (const i of n.input) if (i) (consumers.get(i) ?? consumers.set(i, []).get(i)!).push(n);
  return (tensor) => {
    for (const q of consumers.get(tensor) ?? []) {
      if (q.opType !== 'QuantizeLinear' || q.input[0] !== tensor || !q.output[0]) continue;
      const dq = (consumers.get(q.output[0]) ?? []).find((n) => n.opType === 'DequantizeLinear' && n.input[0] === q.output[0]);
      if (dq?.output[0]) return dq.output[0];
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
 * Results worst first. "Worst" is the error a node adds itself (localSqnrDb): downstream of a bad
 * layer every tensor carries about the same error, so ranking by SQNR alone would blame whatever
 * comes last. Ties (and nodes that add nothing) go by SQNR, then graph order.
 */
function rank(tracked: Tracked[], graphInputs: Set<string>): LayerError[] {
  const noise = new Map(tracked.map((t) => [t.tensor, t.acc.noiseRatio]));
  const layers = tracked.map((t) => {
    const raw = t.acc.sqnrDb;
    // Relative noise this node adds on top of its worst input (graph inputs are exact).
    const inputNoise = t.node.input.filter((i) => noise.has(i) || graphInputs.has(i)).map((i) => noise.get(i) ?? 0);
    const added = t.acc.noiseRatio - Math.max(0, ...inputNoise);
    const local = added > 0 ? sqnrDb(1, added) : null;
    const layer: LayerError = {
      tensor: t.tensor,
      node: t.node.name || `${t.node.opType}(${t.tensor})`,
      opType: t.node.opType,
      candidateTensor: t.candidateTensor,
      sqnrDb: raw === null || !Number.isFinite(raw) ? null : round(raw, 3),
      identical: t.acc.identical,
      cosine: round(t.acc.cosine, 6),
      maxAbsError: Number.isFinite(t.acc.maxAbsError) ? t.acc.maxAbsError : Number.MAX_VALUE,
      localSqnrDb: local === null ? null : Number.isFinite(local) ? round(local, 3) : -1000,
    };
    return { layer, order: t.order, local: layer.localSqnrDb ?? Infinity, key: raw === null ? Infinity : raw === -Infinity ? -Infinity : round(raw, 3) };
  });
  const cmp = (x: number, y: number) => (x === y ? 0 : x < y ? -1 : 1);
  layers.sort((a, b) => cmp(a.local, b.local) || cmp(a.key, b.key) || a.order - b.order);
  return layers.map((l) => l.layer);
}
