/**
 * A model too large for one ONNX Runtime session within the memory budget is run in stages:
 * consecutive nodes of the main graph (graph order is topological) whose weights together stay
 * under a cap, each a sub-model of its own with only its initializers. External weights stay
 * external (ORT reads them from the model's folder: nothing is inlined, so no protobuf limit), so
 * a session holds one stage's weights at a time; the tensors a stage passes on are its outputs and
 * the next stages' inputs.
 */
import { create } from '@bufbuild/protobuf';
import { throwIfCancelled, WorkError } from '../errors';
import { makeValueInfo } from '../onnx/builder';
import { DataType } from '../onnx/dtype';
import { GraphProtoSchema, ModelProtoSchema, ValueInfoProtoSchema, type GraphProto, type ModelProto, type NodeProto, type TensorProto, type ValueInfoProto } from '../onnx/schema';
import { tensorByteSize } from '../onnx/tensor';
import { isExternal, type OnnxModel } from '../onnx/model';
import { modelToBytes } from '../onnx/save';
import { createSession, type InferenceSession, type OrtTensor } from '../runtime/ort';

export interface Stage {
  nodes: NodeProto[];
  /** Initializers the stage's nodes read (a weight read by two stages is in both). */
  initializers: TensorProto[];
  weightBytes: number;
  /** Tensors the stage reads that earlier stages or the graph's inputs provide. */
  inputs: string[];
  /** Tensors the stage computes that later stages read or the graph outputs. */
  carried: string[];
}

/** Names a node reads: its inputs and the outer-scope names its bodies (If/Loop/Scan) read. */
function reads(node: NodeProto): string[] {
  const out = node.input.filter((i) => i);
  const stack: GraphProto[] = [];
  for (const a of node.attribute) {
    if (a.g) stack.push(a.g);
    stack.push(...a.graphs);
  }
  for (let g = stack.pop(); g; g = stack.pop()) {
    const local = new Set([...g.input.map((i) => i.name), ...g.initializer.map((t) => t.name), ...g.node.flatMap((n) => n.output)]);
    for (const n of g.node) {
      for (const i of n.input) if (i && !local.has(i)) out.push(i);
      for (const a of n.attribute) {
        if (a.g) stack.push(a.g);
        stack.push(...a.graphs);
      }
    }
  }
  return out;
}

/** Bytes of the graph's initializers held in external data files. */
export function externalWeightBytes(graph: GraphProto): number {
  return graph.initializer.filter(isExternal).reduce((s, t) => s + tensorByteSize(t), 0);
}

/** Stored bytes of all the graph's initializers (inline and external). */
export function weightBytesOf(graph: GraphProto): number {
  return graph.initializer.reduce((s, t) => s + tensorByteSize(t), 0);
}

/**
 * Split the main graph into stages of consecutive nodes whose initializers stay under `capBytes`
 * (a node whose own weights pass the cap is a stage alone).
 */
export function planStages(graph: GraphProto, capBytes: number): Stage[] {
  const inits = new Map(graph.initializer.map((t) => [t.name, t]));
  const groups: { nodes: NodeProto[]; weights: Map<string, TensorProto>; bytes: number }[] = [];
  let current = { nodes: [] as NodeProto[], weights: new Map<string, TensorProto>(), bytes: 0 };
  for (const node of graph.node) {
    const fresh = [...new Set(reads(node))].map((n) => inits.get(n)).filter((t): t is TensorProto => !!t && !current.weights.has(t.name));
    const added = fresh.reduce((s, t) => s + tensorByteSize(t), 0);
    if (current.nodes.length > 0 && current.bytes + added > capBytes) {
      groups.push(current);
      current = { nodes: [], weights: new Map(), bytes: 0 };
      fresh.length = 0;
      for (const n of new Set(reads(node))) {
        const t = inits.get(n);
        if (t) fresh.push(t);
      }
    }
    current.nodes.push(node);
    for (const t of fresh) {
      current.weights.set(t.name, t);
      current.bytes += tensorByteSize(t);
    }
  }
  if (current.nodes.length > 0) groups.push(current);

  // Which stage produces each tensor, and the last stage that reads it.
  const producer = new Map<string, number>();
  groups.forEach((g, s) => g.nodes.forEach((n) => n.output.forEach((o) => o && producer.set(o, s))));
  const lastReader = new Map<string, number>();
  const note = (name: string, s: number) => lastReader.set(name, Math.max(lastReader.get(name) ?? -1, s));
  groups.forEach((g, s) => g.nodes.forEach((n) => reads(n).forEach((r) => note(r, s))));
  for (const o of graph.output) note(o.name, groups.length);
  return groups.map((g, s) => {
    const inputs = new Set<string>();
    for (const n of g.nodes) for (const r of reads(n)) if (!g.weights.has(r) && producer.get(r) !== s) inputs.add(r);
    const carried = new Set<string>();
    for (const n of g.nodes) for (const o of n.output) if (o && (lastReader.get(o) ?? -1) > s) carried.add(o);
    return { nodes: g.nodes, initializers: [...g.weights.values()], weightBytes: g.bytes, inputs: [...inputs], carried: [...carried] };
  });
}

/** ONNX element type of an ORT tensor type name. */
const ONNX_TYPE: Record<string, number> = {
  float32: DataType.FLOAT,
  float16: DataType.FLOAT16,
  float64: DataType.DOUBLE,
  int64: DataType.INT64,
  int32: DataType.INT32,
  int16: DataType.INT16,
  int8: DataType.INT8,
  uint8: DataType.UINT8,
  uint16: DataType.UINT16,
  uint32: DataType.UINT32,
  uint64: DataType.UINT64,
  bool: DataType.BOOL,
};

/**
 * The stage as a model: inputs typed as what ONNX Runtime gave for them (the original graph's
 * declarations for its own inputs), `outputs` untyped (ORT types them), `extra` nodes appended.
 */
export function stageModel(
  proto: ModelProto,
  stage: Stage,
  inputTypes: ReadonlyMap<string, string>,
  outputs: string[],
  extra: { nodes: NodeProto[]; outputs: ValueInfoProto[] } = { nodes: [], outputs: [] },
): ModelProto {
  const graph = proto.graph;
  if (!graph) throw new WorkError('the model has no graph to run in stages');
  const declared = new Map(graph.input.map((i) => [i.name, i]));
  const input = stage.inputs.map((name) => {
    const own = declared.get(name);
    if (own) return own;
    const type = inputTypes.get(name);
    const elem = type !== undefined ? ONNX_TYPE[type] : undefined;
    if (elem === undefined) throw new WorkError(`staged calibration: no element type for '${name}' (ONNX Runtime gave ${type ?? 'nothing'})`);
    return makeValueInfo(name, elem);
  });
  const output = [...new Set(outputs)].map((name) => create(ValueInfoProtoSchema, { name }));
  const valueInfo = graph.valueInfo.filter((v) => stage.nodes.some((n) => n.output.includes(v.name)));
  const g = create(GraphProtoSchema, {
    name: `${graph.name}_stage`,
    node: [...stage.nodes, ...extra.nodes],
    initializer: stage.initializers,
    input,
    output: [...output, ...extra.outputs],
    valueInfo,
  });
  return create(ModelProtoSchema, { ...proto, graph: g });
}

/** ORT session options key for where a model given as bytes finds its external data files. */
const EXTERNAL_FOLDER = 'session.model_external_initializers_file_folder_path';

/**
 * A session (optimizations off, no arena) on model bytes; external data is read from the source
 * model's folder by ONNX Runtime itself (never inlined here, so neither held in this process nor
 * bound by the 2 GiB protobuf limit).
 */
export function sessionOf(model: ModelProto, source: Pick<OnnxModel, 'external'> | undefined, threads: number): Promise<InferenceSession> {
  const external = model.graph?.initializer.some(isExternal) ?? false;
  if (external && !source) throw new WorkError('a model with external data needs the folder its data files are in');
  return createSession(modelToBytes(model), { optimization: 'disabled', threads, memoryArena: false, ...(external && source ? { config: { [EXTERNAL_FOLDER]: source.external.dir } } : {}) });
}

/** Most weight bytes one session holds under `budget` bytes: half of it, never below STAGE_MIN_BYTES. */
export function stageWeightCap(budget: number): number {
  return Number.isFinite(budget) ? Math.max(budget / 2, STAGE_MIN_BYTES) : Infinity;
}

/** Stages are for models whose weights dominate memory; smaller ones run in one session. */
export const STAGE_MIN_BYTES = 64 * 2 ** 20;

/**
 * The graph's outputs on each of `runs` (feeds per run), the model run in stages of at most
 * `capBytes` of weights, one session at a time, each stage over every run before the next loads:
 * the float reference of a model too large to load whole within a budget. What passes between
 * stages is kept for every run.
 */
export async function runInStages(
  proto: ModelProto,
  source: Pick<OnnxModel, 'external'> | undefined,
  runs: Record<string, OrtTensor>[],
  capBytes: number,
  threads = 0,
  signal?: AbortSignal,
): Promise<Record<string, OrtTensor>[]> {
  const graph = proto.graph;
  if (!graph) throw new WorkError('the model has no graph to run');
  const stages = planStages(graph, capBytes);
  const wantedOut = new Set(graph.output.map((o) => o.name));
  const envs = runs.map((feeds) => new Map<string, OrtTensor>(Object.entries(feeds)));
  const types = new Map<string, string>(Object.entries(runs[0] ?? {}).map(([k, t]) => [k, t.type]));
  const results = runs.map((feeds) => {
    // Graph outputs that are graph inputs pass straight through.
    const r: Record<string, OrtTensor> = {};
    for (const name of wantedOut) if (feeds[name]) r[name] = feeds[name];
    return r;
  });
  for (const [s, stage] of stages.entries()) {
    const outputs = [...new Set([...stage.carried, ...stage.nodes.flatMap((n) => n.output).filter((o) => wantedOut.has(o))])];
    if (outputs.length === 0) continue;
    throwIfCancelled(signal);
    const session = await sessionOf(stageModel(proto, stage, types, outputs), source, threads);
    try {
      for (const [r, env] of envs.entries()) {
        throwIfCancelled(signal);
        const stageFeeds: Record<string, OrtTensor> = {};
        for (const name of stage.inputs) {
          const t = env.get(name);
          if (!t) throw new WorkError(`nothing provides '${name}' to stage ${s + 1} of ${stages.length}`);
          stageFeeds[name] = t;
        }
        const out = (await session.run(stageFeeds, outputs)) as Record<string, OrtTensor>;
        for (const [name, t] of Object.entries(out)) {
          env.set(name, t);
          types.set(name, t.type);
          const result = results[r];
          if (result && wantedOut.has(name)) result[name] = t;
        }
      }
    } finally {
      await session.release();
    }
    const later = new Set(stages.slice(s + 1).flatMap((st) => st.inputs));
    for (const env of envs) for (const name of env.keys()) if (!later.has(name)) env.delete(name);
  }
  return results;
}
