/**
 * What the evaluation engine returns (bench, compare, per-layer error, auto-exclusion) as plain JSON
 * types: the CLI prints them with --json, the worker sends them to the extension, reports embed them.
 *
 * JSON has no Infinity: an SQNR of two identical tensors is written as `sqnrDb: null` together
 * with `identical: true`; `sqnrDb: null` with `identical: false` means the candidate produced NaN
 * or infinities where the reference did not (no meaningful SQNR: worse than any number).
 */

/** Latency percentiles of one model, milliseconds per run. */
export interface LatencyStats {
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  meanMs: number;
  minMs: number;
  maxMs: number;
}

/**
 * The A/A control of a timing: a second session on the reference model, timed in the same
 * alternation. Its p50 over the reference's should read 1.00; off by more than 5 %, the
 * machine was too noisy for the speedup to mean anything.
 */
export interface LatencyControl {
  p50Ms: number;
  /** control p50 / reference p50. */
  ratio: number;
  withinTolerance: boolean;
}

/** `onnx-quantizer bench --json`. */
export interface BenchResult extends LatencyStats {
  runs: number;
  warmup: number;
  batch: number;
  threads: number;
  /** 'data' when the inputs came from a file, 'generated' otherwise. */
  inputs: 'data' | 'generated';
  /** The shape of each input in one run, and where symbolic dims got their values. */
  inputShapes?: string;
  control?: LatencyControl;
}

export interface SizeComparison {
  /** Model file plus external data. */
  referenceBytes: number;
  candidateBytes: number;
  /** referenceBytes / candidateBytes. */
  ratio: number;
}

/** Latency of one model in a comparison, with its run timings for the distribution chart. */
export interface SampledLatencyStats extends LatencyStats {
  /**
   * Milliseconds of each timed run, in run order; evenly thinned to at most
   * MAX_LATENCY_SAMPLES when there were more runs (the percentiles use every run).
   */
  samplesMs?: number[];
}

/** Run timings kept per model in a comparison (JSON stays small whatever --runs is). */
export const MAX_LATENCY_SAMPLES = 500;

export interface LatencyComparison {
  reference: SampledLatencyStats;
  candidate: SampledLatencyStats;
  /** reference p50 / candidate p50. */
  speedup: number;
  /** Timed runs per model (alternating reference, candidate, ...). */
  runs: number;
  /** Samples per run. */
  batch: number;
  threads: number;
  /** A/A control: the reference timed against a second session of itself. */
  control?: LatencyControl;
  /** The shape of each input in one timed run, and where symbolic dims got their values. */
  inputShapes?: string;
}

/** Fidelity of the candidate's first output against the reference's, on the same inputs. */
export interface FidelityResult {
  /** Samples evaluated (first axis of the data). */
  samples: number;
  /** Share (0..1) of rows (samples, or positions for sequence outputs) whose arg-max over the last axis agrees. */
  agreement: number;
  /** Mean over samples of the cosine similarity of the two outputs. */
  cosine: number;
  /** 10·log10(Σref² / Σ(ref−cand)²); null when identical. */
  sqnrDb: number | null;
  identical: boolean;
  maxAbsError: number;
  /** Share (0..1) of rows whose arg-max equals the label (with labels only). */
  referenceAccuracy?: number;
  candidateAccuracy?: number;
  /** Name of the output compared (the reference's first output). */
  output: string;
  /** 'data' when inputs came from a file, 'generated' otherwise. */
  inputs: 'data' | 'generated';
  /** The `.npy` file or folder the inputs came from, and the labels file, as given (compare only). */
  dataFile?: string;
  labelsFile?: string;
}

/** Fidelity of one output of a quantized model against the float model's. */
export interface OutputFidelity {
  output: string;
  /** null: identical (with identical true) or NaN/Inf where the float model had none. */
  sqnrDb: number | null;
  identical: boolean;
  /** Mean over samples of the cosine similarity. */
  cosine: number;
  /** Share (0..1) of rows whose arg-max over the last axis agrees. */
  agreement: number;
  maxAbsError: number;
}

/** The fidelity every quantization result carries (`quantize --json`: `fidelity`). */
export interface QuantizeFidelity {
  samples: number;
  /** What both models ran on. */
  inputs: 'calibration data' | 'data' | 'generated inputs';
  /** The inputs of one run and where symbolic dims got their values. */
  inputShapes?: string;
  outputs: OutputFidelity[];
  /** Below it (any output under sqnrDb or cosine), the run warns. */
  floor: { sqnrDb: number; cosine: number };
  belowFloor: boolean;
  /** When below the floor and the layers could not be ranked: why (a sample too large to rank). */
  layersNotRanked?: string;
  /** When below the floor: the layers adding the most error themselves, worst first. */
  worstLayers?: { node: string; opType: string; localSqnrDb: number | null; sqnrDb: number | null; exclude?: string[] }[];
}

/**
 * The speed check every quantization result carries (`quantize --json`: `speed`): float and
 * quantized model timed in alternation on the validation probe's inputs, with an A/A control.
 */
export interface QuantizeSpeed {
  floatP50Ms: number;
  quantizedP50Ms: number;
  /** Median over runs of float time / quantized time of the same round (>1: faster). */
  speedup: number;
  /**
   * Relative uncertainty of `speedup`: the larger of the A/A control's deviation from 1 (a second
   * float session in the same alternation) and the 95 % interval of the median ratio.
   */
  noise: number;
  /** Second float session p50 / float p50. */
  controlRatio: number;
  /** 'faster' / 'slower' beyond the noise, else 'same'. */
  verdict: 'faster' | 'slower' | 'same';
  runs: number;
  batch: number;
  threads: number;
  inputShapes: string;
  /** The CPU facts detected here (`AVX2, no AVX-512 VNNI, no AVX-VNNI`). */
  cpuFlags: string;
  /** One line for people: `2.31× faster than float (±1.2 %) …` or `slower than float on this CPU …`. */
  summary: string;
  /** Weight-only output not faster: the other accuracy levels and dynamic int8, each float p50 / its p50. */
  alternatives?: { label: string; speedup: number }[];
  /** `--require-speedup`: the groups kept float to reach it and each round's figure. */
  requirement?: SpeedRequirement;
}

/** How `--require-speedup X` was met: op groups kept float, one more per round, each round timed. */
export interface SpeedRequirement {
  /** X. */
  speedup: number;
  met: boolean;
  /** In the order they were kept float. */
  keptFloat: { group: string; opType: string; sizeClass: string; nodes: string[] }[];
  /** The first round is fully quantized; each later one keeps one more group float. */
  rounds: { keptFloat: string[]; quantizedNodes: number; speedup: number; verdict: 'faster' | 'slower' | 'same' }[];
}

/** Error of one intermediate float tensor both models share. */
export interface LayerError {
  /** Tensor name in the reference. */
  tensor: string;
  /** Reference node producing it, and its op type. */
  node: string;
  opType: string;
  /** The candidate tensor measured (for QDQ models, the DequantizeLinear output standing for `tensor`). */
  candidateTensor: string;
  sqnrDb: number | null;
  identical: boolean;
  /** Cosine similarity of the whole tensor (all samples flattened). */
  cosine: number;
  maxAbsError: number;
  /**
   * SQNR of the error this node adds on top of the error already in its inputs (relative noise
   * power of the output minus the worst input's). Lower means this node hurts more; null when it
   * adds none; -1000 when its output turns non-finite. Auto-exclusion picks the lowest value.
   */
  localSqnrDb: number | null;
  /**
   * The nodes to keep float so that this error goes (when the quantized nodes were known): the
   * node itself when it rounds weights of its own, else also, or instead, the quantized
   * consumers whose input quantization rounds its output (exclusion.ts).
   */
  exclude?: string[];
}

/** `onnx-quantizer compare --json`. */
export interface CompareResult {
  reference: string;
  candidate: string;
  size: SizeComparison;
  latency: LatencyComparison;
  accuracy: FidelityResult;
  /** With --per-layer: worst first (lowest localSqnrDb: the error the node adds itself; then SQNR, graph order). */
  layers?: LayerError[];
}

/** One node returned to float by auto-exclusion, and the numbers that chose it. */
export interface ExclusionStep {
  node: string;
  opType: string;
  tensor: string;
  /** The node's own added error (LayerError.localSqnrDb) and its tensor's SQNR when chosen. */
  localSqnrDb: number | null;
  sqnrDb: number | null;
  /** Final-output SQNR with the layers ranked before this one kept float (null when that set was not tried). */
  outputSqnrDb: number | null;
  candidateAccuracy?: number;
  /** The nodes this step kept float: the node itself, or the quantized consumers that round its output (LayerError.exclude). */
  exclude?: string[];
}

/** One set of layers kept float that auto-exclude quantized and measured: a point of the size/fidelity/speed trade-off. */
export interface AutoExcludePoint {
  /** The first `excludedCount` layers of the ranking (worst own added error first) kept float. */
  excludedCount: number;
  excluded: string[];
  /** Output model plus external data. */
  outputBytes: number;
  sqnrDb: number | null;
  candidateAccuracy?: number;
  /** Median latency of one sample of the evaluation data, milliseconds. */
  latencyMs: number;
  met: boolean;
}

export interface AutoExcludeSummary {
  /** As given: `sqnr:25` or `acc-drop:1`. */
  target: string;
  met: boolean;
  excluded: ExclusionStep[];
  /** Every candidate quantized, in the order tried (the first keeps nothing float). */
  points?: AutoExcludePoint[];
  /** Quantize passes and calibration passes (static mode; ranges are reused across passes) the search took. */
  quantizePasses?: number;
  calibrations?: number;
  /** Final-output SQNR and accuracy of the model finally written. */
  finalSqnrDb: number | null;
  referenceAccuracy?: number;
  finalAccuracy?: number;
  /** Why the search stopped when the target was not met. */
  stoppedBecause?: string;
}
