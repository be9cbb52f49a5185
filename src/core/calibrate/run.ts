/**
 * Runs the float model over the calibration data in ONNX Runtime with the wanted intermediate
 * tensors exposed as extra graph outputs (on an in-memory copy), reducing each batch into
 * streaming statistics as it goes. Optimizations are disabled so every tensor name survives.
 *
 * Memory stays within a budget (bytes above the resident memory when calibration starts), sized
 * from measurements rather than guesses: a first run of one sample with a `Size` node on every
 * target (scalars out, so no tensor is kept) tells each tensor's bytes per sample, and the resident
 * growth of that session and run is what ONNX Runtime itself needs (weights, arena). The targets
 * are then split into slices whose exposed tensors fit the budget, each calibrated in its own
 * session and pass over the data, in batches as large as the budget allows; a batch whose
 * measured peak overshoots shrinks the next ones.
 */
import { create } from '@bufbuild/protobuf';
import { throwIfCancelled, WorkError } from '../errors';
import { isExternal, type OnnxModel } from '../onnx/model';
import { modelToBytes } from '../onnx/save';
import { GraphProtoSchema, ModelProtoSchema, ValueInfoProtoSchema, type GraphProto, type ModelProto, type NodeProto, type ValueInfoProto } from '../onnx/schema';
import { makeNode, makeValueInfo } from '../onnx/builder';
import { DataType, storageBytes } from '../onnx/dtype';
import { ort, type InferenceSession, type OrtTensor } from '../runtime/ort';
import { formatBytes } from '../report/format';
import { RssSampler, rssBytes } from '../util/memory';
import type { JobContext } from '../progress';
import { batches, type Batch, type CalibrationData } from './data';
import { Calibrator, type RangeOptions, type TensorRange } from './methods';
import { planStages, sessionOf, stageModel, stageWeightCap, weightBytesOf } from './stages';

export interface CalibrationTarget {
  name: string;
  /** ONNX element type when known; unknown tensors are exposed untyped and typed by the run. */
  elemType?: number | undefined;
}

export interface CalibrationResult {
  ranges: Map<string, TensorRange>;
  /** Element type ONNX Runtime reported for each exposed tensor ('float32', 'int64', ...). */
  observedTypes: Map<string, string>;
  samples: number;
  /** ONNX Runtime runs over calibration data (the sizing run not included). */
  batches: number;
  /** Sessions (each one pass over the data) the targets were split into to fit the budget. */
  slices: number;
  /** Targets whose extremes ONNX Runtime reduced in the graph (MinMax on float tensors): never exposed. */
  reducedInGraph: number;
  /** Largest batch used (samples per run). */
  batchSize: number;
  /** Measured peak resident growth over the start of calibration, bytes. */
  peakBytes: number;
  seconds: number;
  /** Bytes of calibration state at the end (independent of the number of samples). */
  stateBytes: number;
}

export interface CollectOptions extends RangeOptions {
  /** Largest batch (samples per run); smaller batches are used when the budget needs it. */
  batchSize: number;
  threads?: number;
  /**
   * Bytes calibration may add to the resident memory it starts with: ONNX Runtime's session and
   * buffers plus the exposed tensors. Default 512 MiB; Infinity runs every tensor in one pass.
   */
  memoryBudget?: number;
  /**
   * Most weight bytes one calibration session loads: a model with more is run in stages of
   * consecutive nodes (stages.ts). Default: half the budget, never below STAGE_MIN_BYTES; none
   * when the budget is unbounded.
   */
  stageWeightBytes?: number;
}

export const DEFAULT_MEMORY_BUDGET = 512 * 2 ** 20;

/** Samples in a slice's first run under a budget; later runs at most double, each sized by what the runs before measured. */
const FIRST_BATCH = 1;

/**
 * Share of the budget batches are sized to fill: freed memory the allocator keeps for reuse makes
 * later runs cost a little more than the ones measured.
 */
const FILL = 0.85;

/** An exposed tensor is held twice for a moment: ORT's output buffer and the copy handed to JS. */
const EXPOSED_COPIES = 2;

/** A copy of the model whose graph also outputs `targets` (shares tensors; never mutates the original). */
export function exposeTensors(proto: ModelProto, targets: CalibrationTarget[], source?: Pick<OnnxModel, 'external'>): ModelProto {
  const graph = graphOf(proto);
  const existing = new Set(graph.output.map((o) => o.name));
  // Untyped outputs (type unknown to our inference) are typed by ORT itself at run time.
  const extra = targets
    .filter((t) => !existing.has(t.name))
    .map((t) => (t.elemType ? makeValueInfo(t.name, t.elemType) : create(ValueInfoProtoSchema, { name: t.name })));
  return withGraph(proto, source, [], extra);
}

/**
 * MinMax needs only each batch's extremes: ReduceMin/ReduceMax nodes on float targets give them as
 * two scalars, so ONNX Runtime frees those tensors as in plain inference instead of returning them.
 */
function reductions(targets: CalibrationTarget[]): { nodes: NodeProto[]; outputs: ValueInfoProto[]; names: { target: string; min: string; max: string }[] } {
  const nodes: NodeProto[] = [];
  const outputs: ValueInfoProto[] = [];
  const names = targets.map((t, i) => {
    const min = `${t.name}__calibration_min_${i}`;
    const max = `${t.name}__calibration_max_${i}`;
    nodes.push(makeNode('ReduceMin', [t.name], [min], { keepdims: 0 }, { name: min }), makeNode('ReduceMax', [t.name], [max], { keepdims: 0 }, { name: max }));
    outputs.push(makeValueInfo(min, DataType.FLOAT, []), makeValueInfo(max, DataType.FLOAT, []));
    return { target: t.name, min, max };
  });
  return { nodes, outputs, names };
}

/** Output name of the element count of `target` in the sizing model. */
const sizeOutput = (target: string, i: number): string => `${target}__calibration_size_${i}`;

/** A copy of the model that also outputs the element count of each target (scalars: nothing big is kept). */
function countElements(proto: ModelProto, targets: CalibrationTarget[], source?: Pick<OnnxModel, 'external'>): ModelProto {
  const nodes = targets.map((t, i) => makeNode('Size', [t.name], [sizeOutput(t.name, i)], {}, { name: sizeOutput(t.name, i) }));
  const outputs = targets.map((t, i) => makeValueInfo(sizeOutput(t.name, i), DataType.INT64, []));
  return withGraph(proto, source, nodes, outputs);
}

function graphOf(proto: ModelProto): GraphProto {
  if (!proto.graph) throw new WorkError('the model has no graph to calibrate');
  return proto.graph;
}

function withGraph(proto: ModelProto, _source: Pick<OnnxModel, 'external'> | undefined, nodes: NodeProto[], outputs: ValueInfoProto[]): ModelProto {
  const graph = graphOf(proto);
  // External weights stay external: the session reads them from the model's folder (sessionOf).
  const newGraph = create(GraphProtoSchema, { ...graph, node: afterProducers(graph.node, nodes), output: [...graph.output, ...outputs] });
  return create(ModelProtoSchema, { ...proto, graph: newGraph });
}

/**
 * `graph` with each extra node (reading one tensor) placed right after the node producing that
 * tensor: ONNX Runtime runs nodes in about this order, so the tensor is consumed and freed at once
 * instead of staying alive until extra nodes appended at the end would run.
 */
export function afterProducers(graph: NodeProto[], extra: NodeProto[]): NodeProto[] {
  if (extra.length === 0) return graph;
  const readers = new Map<string, NodeProto[]>();
  for (const n of extra) {
    const t = n.input[0] ?? '';
    const list = readers.get(t);
    if (list) list.push(n);
    else readers.set(t, [n]);
  }
  const produced = new Set(graph.flatMap((n) => n.output));
  // Graph inputs and initializers first.
  const out = [...readers].filter(([t]) => !produced.has(t)).flatMap(([, list]) => list);
  for (const n of graph) {
    out.push(n);
    for (const o of n.output) out.push(...(readers.get(o) ?? []));
  }
  return out;
}

/** What the sizing run measured. */
export interface Footprint {
  /** Bytes per sample of each target. */
  tensorBytes: Map<string, number>;
  /** Resident growth of creating a session (ORT's copy of the weights, the model bytes). */
  sessionBytes: number;
  /** Resident growth of running one sample with nothing exposed (ORT's arena, activations). */
  runBytesPerSample: number;
}

/**
 * Split targets (in graph order, so a slice's tensors are computed close together) into slices
 * whose exposed bytes per sample stay under `capBytes`; a tensor larger than the cap is a slice alone.
 */
export function planSlices<T extends CalibrationTarget>(targets: T[], bytesPerSample: Map<string, number>, capBytes: number): T[][] {
  const slices: T[][] = [];
  let current: T[] = [];
  let sum = 0;
  for (const t of targets) {
    const b = bytesPerSample.get(t.name) ?? 0;
    if (current.length > 0 && sum + b > capBytes) {
      slices.push(current);
      current = [];
      sum = 0;
    }
    current.push(t);
    sum += b;
  }
  if (current.length > 0) slices.push(current);
  return slices;
}

function feedsOf(batch: Batch): Record<string, OrtTensor> {
  const O = ort();
  const feeds: Record<string, OrtTensor> = {};
  for (const f of batch.feeds) feeds[f.name] = new O.Tensor(f.type, f.values as Float32Array, f.dims);
  return feeds;
}

export async function runOnce(session: InferenceSession, batch: Batch, names: string[]): Promise<Record<string, OrtTensor>> {
  try {
    return (await session.run(feedsOf(batch), names)) as Record<string, OrtTensor>;
  } catch (e) {
    throw new WorkError(`calibration run failed on samples ${batch.start}..${batch.start + batch.count - 1}: ${(e as Error).message.split('\n')[0]}`);
  }
}

/** One sample through the model with a Size node on every target: bytes per sample, ORT's own needs. */
async function measureFootprint(
  model: ModelProto,
  targets: CalibrationTarget[],
  data: CalibrationData,
  threads: number,
  baseline: number,
  sampler: RssSampler,
  source?: Pick<OnnxModel, 'external'>,
): Promise<Footprint> {
  const session = await sessionOf(countElements(model, targets, source), source, threads);
  const sessionBytes = Math.max(0, rssBytes() - baseline);
  try {
    const first = batches(data, 1).next();
    if (first.done) throw new WorkError('calibration data holds no batch for this model');
    const before = rssBytes();
    const peak = sampler.window();
    const results = await runOnce(session, first.value, targets.map((t, i) => sizeOutput(t.name, i)));
    const runBytes = Math.max(0, peak() - before);
    const perSample = 1 / first.value.count;
    const tensorBytes = new Map<string, number>();
    targets.forEach((t, i) => {
      const count = Number((results[sizeOutput(t.name, i)]?.data as BigInt64Array | undefined)?.[0] ?? 0n);
      // Unknown types are exposed as whatever ORT computes: count them as 4-byte floats.
      const bytes = t.elemType ? storageBytes(t.elemType, count) : count * 4;
      tensorBytes.set(t.name, bytes * perSample);
    });
    return { tensorBytes, sessionBytes, runBytesPerSample: runBytes * perSample };
  } finally {
    await session.release();
  }
}

/** One fetched tensor: its type at run time is recorded, and its values calibrated when it is float32. */
function observe(calibrator: Calibrator, types: Map<string, string>, name: string, t: OrtTensor): void {
  types.set(name, t.type);
  if (t.type === 'float32') calibrator.update(name, t.data as Float32Array);
}

/** Targets reduced in the graph: their min and max outputs, calibrated as a two-value tensor. */
function observeReduced(calibrator: Calibrator, types: Map<string, string>, results: Record<string, OrtTensor>, pairs: readonly { target: string; min: string; max: string }[]): void {
  for (const r of pairs) {
    const min = (results[r.min]?.data as Float32Array | undefined)?.[0];
    const max = (results[r.max]?.data as Float32Array | undefined)?.[0];
    if (min === undefined || max === undefined) continue;
    types.set(r.target, 'float32');
    calibrator.update(r.target, Float32Array.of(min, max));
  }
}

/** The ranges of the targets seen, and seen as float32 (others have no range to quantize with). */
function floatRanges(calibrator: Calibrator, types: Map<string, string>, names: readonly string[]): Map<string, TensorRange> {
  const ranges = calibrator.ranges();
  for (const [name, type] of types) if (type !== 'float32') ranges.delete(name);
  for (const name of names) if (!types.has(name)) ranges.delete(name);
  return ranges;
}

/** Run calibration and return one range per target tensor (float tensors only). */
export async function collectRanges(
  model: ModelProto,
  targets: CalibrationTarget[],
  data: CalibrationData,
  options: CollectOptions,
  ctx: JobContext = {},
  source?: Pick<OnnxModel, 'external'>,
): Promise<CalibrationResult> {
  const sampler = new RssSampler();
  try {
    return await collect(model, targets, data, options, ctx, source, sampler);
  } finally {
    await sampler.stop();
  }
}

async function collect(
  model: ModelProto,
  targets: CalibrationTarget[],
  data: CalibrationData,
  options: CollectOptions,
  ctx: JobContext,
  source: Pick<OnnxModel, 'external'> | undefined,
  sampler: RssSampler,
): Promise<CalibrationResult> {
  const budget = options.memoryBudget ?? DEFAULT_MEMORY_BUDGET;
  const cap = options.stageWeightBytes ?? stageWeightCap(budget);
  if (weightBytesOf(graphOf(model)) > cap) return collectStaged(model, targets, data, options, ctx, source, sampler, cap);
  const started = Date.now();
  const baseline = rssBytes();
  const threads = options.threads ?? 0;
  const requested = data.fixedBatch ?? Math.max(1, Math.floor(options.batchSize));
  const names = targets.map((t) => t.name);
  const calibrator = new Calibrator(names, options);
  const observedTypes = new Map<string, string>();
  let peakBytes = 0;
  const reduced = options.method === 'minmax' ? targets.filter((t) => t.elemType === DataType.FLOAT) : [];
  const reducedNames = new Set(reduced.map((t) => t.name));
  const exposedTargets = targets.filter((t) => !reducedNames.has(t.name));
  const reduction = reductions(reduced);

  // Unbounded: every tensor in one pass at the requested batch, nothing to measure first.
  let slices: CalibrationTarget[][] = [exposedTargets];
  let batchFor = (_slice: CalibrationTarget[]): number => requested;
  let footprint: Footprint | undefined;
  if (Number.isFinite(budget)) {
    footprint = await measureFootprint(model, targets, data, threads, baseline, sampler, source);
    const fp = footprint;
    const forTensors = budget - fp.sessionBytes - fp.runBytesPerSample;
    const largest = Math.max(0, ...exposedTargets.map((t) => fp.tensorBytes.get(t.name) ?? 0));
    if (forTensors < EXPOSED_COPIES * largest) {
      ctx.log?.(
        `memory budget ${formatBytes(budget)} is below what one sample needs (${formatBytes(fp.sessionBytes)} for the session, ${formatBytes(Math.round(fp.runBytesPerSample))} to run, ${formatBytes(Math.round(largest))} for the largest tensor): calibrating one tensor's worth at a time`,
      );
    }
    slices = planSlices(exposedTargets, fp.tensorBytes, Math.max(forTensors / EXPOSED_COPIES, largest));
    if (slices.length === 0) slices = [[]];
    batchFor = (slice) => {
      const exposed = slice.reduce((s, t) => s + (fp.tensorBytes.get(t.name) ?? 0), 0);
      const perSample = fp.runBytesPerSample + EXPOSED_COPIES * exposed;
      const fits = Math.floor((budget * FILL - fp.sessionBytes) / Math.max(perSample, 1));
      return data.fixedBatch ?? Math.min(requested, Math.max(1, fits));
    };
    const exposedPerSample = exposedTargets.reduce((a, t) => a + (fp.tensorBytes.get(t.name) ?? 0), 0);
    ctx.log?.(
      `calibration footprint: ${reduced.length ? `${reduced.length} tensor(s) reduced in the graph, ` : ''}${formatBytes(Math.round(exposedPerSample))} of tensors per sample exposed, session ${formatBytes(fp.sessionBytes)}, run ${formatBytes(Math.round(fp.runBytesPerSample))} per sample; ` +
        `${slices.length} slice(s) of tensors, batch ${Math.max(...slices.map(batchFor))} (budget ${formatBytes(budget)})`,
    );
  }

  const bounded = Number.isFinite(budget);
  // Progress in samples: batch sizes change as runs are measured.
  const totalSamples = slices.length * data.samples;
  let samplesDone = 0;
  let done = 0;
  let largestBatch = 0;
  for (const [i, slice] of slices.entries()) {
    throwIfCancelled(ctx.signal);
    const sliceNames = slice.map((t) => t.name);
    // The reductions ride along with the first slice.
    const reduce = i === 0 ? reduction : reductions([]);
    const exposedModel = exposeTensors(model, slice, source);
    const sessionModel = reduce.nodes.length ? withGraph(exposedModel, source, reduce.nodes, reduce.outputs) : exposedModel;
    const fetch = [...sliceNames, ...reduce.names.flatMap((r) => [r.min, r.max])];
    const session = await sessionOf(sessionModel, source, threads);
    try {
      const planned = batchFor(slice);
      // Bounded: the first run is one sample, and what the runs measure sizes the next ones (doubling at most, up to the plan's batch).
      let size = data.fixedBatch ?? (bounded ? Math.min(planned, FIRST_BATCH) : planned);
      let perSample = 0;
      let from = 0;
      while (from < data.samples) {
        const next = batches(data, size, from).next();
        if (next.done) break;
        const batch = next.value;
        throwIfCancelled(ctx.signal);
        const idle = Math.max(0, rssBytes() - baseline);
        const peak = sampler.window();
        const results = await runOnce(session, batch, fetch);
        const grown = Math.max(0, peak() - baseline);
        peakBytes = Math.max(peakBytes, grown);
        largestBatch = Math.max(largestBatch, batch.count);
        for (const name of sliceNames) {
          const t = results[name];
          if (!t) continue;
          observe(calibrator, observedTypes, name, t);
          // Reduced: let this tensor go before the next is read.
          delete results[name];
        }
        observeReduced(calibrator, observedTypes, results, reduce.names);
        from = batch.start + batch.count;
        done++;
        // The measured cost per sample of this session's runs (the truth; the plan was an estimate) sizes the next batch.
        if (bounded && !data.fixedBatch) {
          perSample = Math.max(perSample, (grown - idle) / batch.count);
          const fits = Math.max(1, Math.floor((budget * FILL - idle) / Math.max(perSample, 1)));
          const nextSize = Math.min(planned, fits, 2 * batch.count);
          if (nextSize < size) ctx.log?.(`calibration batch lowered from ${size} to ${nextSize}: a run of ${batch.count} grew memory by ${formatBytes(grown)} (budget ${formatBytes(budget)})`);
          size = nextSize;
        }
        samplesDone += batch.count;
        ctx.onProgress?.({ stage: 'calibrating', fraction: Math.min(1, samplesDone / totalSamples), message: `calibrating: ${samplesDone}/${totalSamples} samples` });
      }
    } finally {
      await session.release();
    }
  }
  return {
    ranges: floatRanges(calibrator, observedTypes, names),
    observedTypes,
    samples: data.samples,
    batches: done,
    slices: slices.length,
    reducedInGraph: reduced.length,
    batchSize: largestBatch,
    peakBytes,
    seconds: (Date.now() - started) / 1000,
    stateBytes: calibrator.stateBytes(),
  };
}

/**
 * Calibration of a model whose weights pass `cap`: the graph runs in stages (stages.ts), each in
 * its own session over all the data, in batches of a fixed partition; the tensors a stage passes
 * on are kept per batch (all samples' worth of the stage boundary) until the last stage reading
 * them is done. Each target is exposed (or reduced in the graph) by the stage that computes it,
 * so every tensor sees exactly the batches the one-session path would give it.
 */
async function collectStaged(
  model: ModelProto,
  targets: CalibrationTarget[],
  data: CalibrationData,
  options: CollectOptions,
  ctx: JobContext,
  source: Pick<OnnxModel, 'external'> | undefined,
  sampler: RssSampler,
  cap: number,
): Promise<CalibrationResult> {
  const started = Date.now();
  const baseline = rssBytes();
  const graph = graphOf(model);
  const stages = planStages(graph, cap);
  const threads = options.threads ?? 0;
  const size = data.fixedBatch ?? Math.max(1, Math.floor(options.batchSize));
  const names = targets.map((t) => t.name);
  const calibrator = new Calibrator(names, options);
  const observedTypes = new Map<string, string>();
  const wanted = new Map(targets.map((t) => [t.name, t]));
  const stageOf = new Map<string, number>();
  stages.forEach((st, s) => st.nodes.forEach((n) => n.output.forEach((o) => wanted.has(o) && stageOf.set(o, s))));
  const graphOutputs = new Set(graph.output.map((o) => o.name));
  const all = [...batches(data, size)];
  if (all.length === 0) throw new WorkError('calibration data holds no batch for this model');
  const carried = all.map(() => new Map<string, OrtTensor>());
  const carriedTypes = new Map<string, string>();
  const dataInputs = new Set(data.inputs.map((i) => i.name));
  let peakBytes = 0;
  let reducedCount = 0;
  let done = 0;
  let boundaryBytes = 0;
  ctx.log?.(
    `calibration in ${stages.length} stage(s) of at most ${formatBytes(Math.max(...stages.map((s) => s.weightBytes)))} of weights (${formatBytes(weightBytesOf(graph))} in all, cap ${formatBytes(cap)}), batch ${size}`,
  );

  // Targets the data itself holds (graph inputs): reduced from the feeds, batch by batch.
  for (const batch of all) {
    for (const f of batch.feeds) {
      if (!wanted.has(f.name) || f.type !== 'float32') continue;
      observedTypes.set(f.name, 'float32');
      calibrator.update(f.name, f.values as Float32Array);
    }
  }

  const O = ort();
  for (const [s, stage] of stages.entries()) {
    throwIfCancelled(ctx.signal);
    const own = targets.filter((t) => stageOf.get(t.name) === s);
    const reduced = options.method === 'minmax' ? own.filter((t) => t.elemType === DataType.FLOAT) : [];
    reducedCount += reduced.length;
    const exposed = own.filter((t) => !reduced.includes(t)).map((t) => t.name);
    const reduce = reductions(reduced);
    const outputs = [...new Set([...stage.carried, ...exposed, ...stage.nodes.flatMap((n) => n.output).filter((o) => graphOutputs.has(o))])];
    // A stage nothing downstream reads and that computes no target need not run.
    if (outputs.length === 0 && reduce.outputs.length === 0) continue;
    const sessionModel = withGraph(stageModel(model, stage, carriedTypes, outputs), source, reduce.nodes, reduce.outputs);
    const fetch = [...new Set([...stage.carried, ...exposed]), ...reduce.names.flatMap((r) => [r.min, r.max])];
    const session = await sessionOf(sessionModel, source, threads);
    try {
      for (const [b, batch] of all.entries()) {
        throwIfCancelled(ctx.signal);
        const feeds: Record<string, OrtTensor> = {};
        for (const name of stage.inputs) {
          const t = dataInputs.has(name) ? undefined : carried[b]?.get(name);
          if (t) feeds[name] = t;
        }
        for (const f of batch.feeds) if (stage.inputs.includes(f.name)) feeds[f.name] = new O.Tensor(f.type, f.values as Float32Array, f.dims);
        const missing = stage.inputs.find((i) => !feeds[i]);
        if (missing) throw new WorkError(`staged calibration: nothing provides '${missing}' to stage ${s + 1}`);
        const peak = sampler.window();
        let results: Record<string, OrtTensor>;
        try {
          results = (await session.run(feeds, fetch)) as Record<string, OrtTensor>;
        } catch (e) {
          throw new WorkError(`calibration run failed on samples ${batch.start}..${batch.start + batch.count - 1} (stage ${s + 1} of ${stages.length}): ${(e as Error).message.split('\n')[0]}`);
        }
        peakBytes = Math.max(peakBytes, peak() - baseline);
        for (const name of stage.carried) {
          const t = results[name];
          if (!t) continue;
          carried[b]?.set(name, t);
          carriedTypes.set(name, t.type);
        }
        for (const name of exposed) {
          const t = results[name];
          if (!t) continue;
          observe(calibrator, observedTypes, name, t);
        }
        observeReduced(calibrator, observedTypes, results, reduce.names);
        done++;
        ctx.onProgress?.({ stage: 'calibrating', fraction: Math.min(1, (s * all.length + b + 1) / (stages.length * all.length)), message: `calibrating: stage ${s + 1}/${stages.length}, ${batch.start + batch.count}/${data.samples} samples` });
      }
    } finally {
      await session.release();
    }
    // What no later stage reads goes.
    const later = new Set(stages.slice(s + 1).flatMap((st) => st.inputs));
    let held = 0;
    for (const m of carried) {
      for (const [name, t] of m) {
        if (!later.has(name)) m.delete(name);
        else held += (t.data as ArrayBufferView).byteLength ?? 0;
      }
    }
    boundaryBytes = Math.max(boundaryBytes, held);
  }
  if (boundaryBytes > 0) ctx.log?.(`staged calibration held at most ${formatBytes(boundaryBytes)} of tensors between stages`);
  return {
    ranges: floatRanges(calibrator, observedTypes, names),
    observedTypes,
    samples: data.samples,
    batches: done,
    slices: stages.length,
    reducedInGraph: reducedCount,
    batchSize: Math.max(...all.map((b) => b.count)),
    peakBytes: Math.max(0, peakBytes),
    seconds: (Date.now() - started) / 1000,
    stateBytes: calibrator.stateBytes(),
  };
}
