/**
 * Types shared by every quantization mode (dynamic, weight-only, fp16, static) and the user's
 * node selection (--op-types, --nodes, --exclude-nodes), with one reason per skipped node.
 */
import { nodeKey, type ModelIndex } from '../onnx/graph-index';
import type { ModelProto, NodeProto } from '../onnx/schema';
import type { CalibrationMethod, Preset, QuantFormat, QuantMode, QuantNodeOverride, SkippedNode } from './types';

/** QuantizeOptions after the preset and the defaults were applied: every field the engines read is set. */
export interface ResolvedOptions {
  mode: QuantMode;
  format: QuantFormat;
  calibrationData: string | undefined;
  calibrationMethod: CalibrationMethod;
  percentile: number;
  histogramBins: number;
  calibrationBatch: number;
  /** MiB (QuantizeOptions.memoryBudget). */
  memoryBudget: number;
  movingAverage: boolean;
  perChannel: boolean;
  /** 7-bit weights (int8 in [-64, 64]). */
  reduceRange: boolean;
  symmetricActivations: boolean;
  /** Static activations (dynamic mode is always uint8: DynamicQuantizeLinear is uint8-only). */
  activationType: 'uint8' | 'int8';
  /** Weights are always int8 symmetric (zero point 0) in this tool except in weight-only mode. */
  weightSymmetric: boolean;
  weightBits: 4 | 8;
  blockSize: number;
  accuracyLevel: 0 | 1 | 2 | 4;
  weightClipping: 'none' | 'mse';
  weightRounding: 'nearest' | 'gptq';
  preset: Preset | undefined;
  quantizeConv: boolean;
  /** User op-type filter; undefined = the mode's own default op types. */
  opTypes: string[] | undefined;
  /** User include list of node names; undefined = all nodes. */
  nodes: string[] | undefined;
  excludeNodes: string[];
  /** Per-node perChannel / bits by node name (validated); absent or empty = none. */
  nodeOverrides?: Record<string, QuantNodeOverride>;
  validate: boolean;
  /** Measure the output against the float model (QuantizeOptions.fidelity). */
  fidelity: boolean;
  /** Time float vs quantized after saving (QuantizeOptions.speedCheck). */
  speedCheck: boolean;
  requireSpeedup: number | undefined;
  force: boolean;
  externalData: 'auto' | 'always' | 'never';
  /** Where a data folder's entries may lead through links, besides the folder (QuantizeOptions.dataRoots). */
  dataRoots: readonly string[];
  /** gpu preset (TensorRT): keep float weights with a Q→DQ pair instead of pre-quantized weights. */
  addQdqPairToWeight: boolean;
}

/**
 * What every mode engine returns to quantizeFile, which saves, validates and reports it.
 * Static mode: `quantizeStatic(model: OnnxModel, options: ResolvedOptions, selection: NodeSelection,
 * ctx: JobContext): Promise<EngineResult>` in `static/index.ts`.
 */
export interface EngineResult {
  proto: ModelProto;
  quantizedNodes: number;
  /** Keys of the float model's nodes that were quantized (when the engine tracks them). */
  quantizedKeys?: string[];
  skippedNodes: SkippedNode[];
  warnings: string[];
  /** Weight-only with calibration data: keys of the nodes whose weights got GPTQ error compensation. */
  compensatedNodes?: string[];
}

export type SelectionVerdict = { selected: true } | { selected: false; reason: string };

/**
 * The user's filters. A mode first asks `check(node)` (user filters), then applies its own
 * rules (constant weight? supported dtype?) and records a SkippedNode with its reason.
 */
export interface NodeSelection {
  readonly opTypes: ReadonlySet<string> | undefined;
  readonly nodes: ReadonlySet<string> | undefined;
  readonly excludeNodes: ReadonlySet<string>;
  /** Verdict from the user's filters only. `modeOpTypes` = op types the mode handles by default. */
  check(node: NodeProto, modeOpTypes?: ReadonlySet<string>): SelectionVerdict;
  /** Names with a per-node override (QuantizeOptions.nodeOverrides). */
  readonly overridden: ReadonlySet<string>;
  /** The node's per-node settings; `{}` when it has none (then the global options apply). */
  overridesFor(node: NodeProto | string): QuantNodeOverride;
}

/**
 * The name used to refer to a node in lists and reports: its key from the graph index
 * (core/onnx/graph-index.ts), the same the analysis shows, so `--exclude-nodes` takes any key
 * `inspect`, the Models view or a recipe shows.
 */
export function nodeName(node: NodeProto): string {
  return nodeKey(node);
}

/** The op type as reports show it: contrib ops with their domain (`com.microsoft.MatMulNBits`). */
export function qualifiedOpType(node: NodeProto): string {
  return node.domain && node.domain !== 'ai.onnx' ? `${node.domain}.${node.opType}` : node.opType;
}

export function makeSelection(options: Pick<ResolvedOptions, 'opTypes' | 'nodes' | 'excludeNodes' | 'nodeOverrides'>): NodeSelection {
  const opTypes = options.opTypes && options.opTypes.length ? new Set(options.opTypes) : undefined;
  const nodes = options.nodes && options.nodes.length ? new Set(options.nodes) : undefined;
  const excludeNodes = new Set(options.excludeNodes);
  const overrides = new Map(Object.entries(options.nodeOverrides ?? {}));
  return {
    opTypes,
    nodes,
    excludeNodes,
    overridden: new Set(overrides.keys()),
    overridesFor(node) {
      return overrides.get(typeof node === 'string' ? node : nodeName(node)) ?? {};
    },
    check(node, modeOpTypes) {
      const name = nodeName(node);
      if (excludeNodes.has(name)) return { selected: false, reason: 'excluded by --exclude-nodes' };
      if (nodes && !nodes.has(name)) return { selected: false, reason: 'not in the --nodes list' };
      const op = node.opType;
      if (opTypes && !opTypes.has(op) && !opTypes.has(qualifiedOpType(node))) return { selected: false, reason: `op type ${op} not in --op-types` };
      if (!opTypes && modeOpTypes && !modeOpTypes.has(op)) return { selected: false, reason: `${op} is not quantized in this mode` };
      return { selected: true };
    },
  };
}

/** Names given in --nodes / --exclude-nodes that match no node key of the model: worth a warning (typos). */
export function unknownNodeNames(selection: NodeSelection, index: ModelIndex): string[] {
  const known = new Set<string>();
  for (const n of index.nodes) known.add(n.key);
  const asked = [...(selection.nodes ?? []), ...selection.excludeNodes, ...selection.overridden];
  return [...new Set(asked.filter((n) => !known.has(n)))];
}

/** Accumulates skipped nodes (one entry per node, first reason wins). */
export class SkipList {
  private readonly byNode = new Map<string, string>();

  add(node: NodeProto | string, reason: string): void {
    const name = typeof node === 'string' ? node : nodeName(node);
    if (!this.byNode.has(name)) this.byNode.set(name, reason);
  }

  has(name: string): boolean {
    return this.byNode.has(name);
  }

  toArray(): SkippedNode[] {
    return [...this.byNode].map(([node, reason]) => ({ node, reason }));
  }
}
