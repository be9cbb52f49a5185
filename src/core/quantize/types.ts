/**
 * The quantizer's public contract, shared by CLI, worker, UI and evaluation (auto-exclude).
 * Option names mirror the CLI flags in the cli.md contract.
 */
import type { InputOverrides } from '../data/probe';
import type { QuantizeFidelity, QuantizeSpeed } from '../evaluate/types';

/** The quantization modes, in the order menus and messages list them: the one list every part uses. */
export const QUANT_MODES = ['dynamic', 'static', 'weight-only', 'fp16'] as const;
export type QuantMode = (typeof QUANT_MODES)[number];
export type QuantFormat = 'qdq' | 'qoperator';
export type CalibrationMethod = 'minmax' | 'percentile' | 'entropy';
export type Preset = 'x86' | 'arm' | 'gpu';

/** Per-node settings that replace the global ones for one node (see QuantizeOptions.nodeOverrides). */
export interface QuantNodeOverride {
  /** Per-channel (true) or per-tensor (false) weight scales for this node; dynamic and static modes. */
  perChannel?: boolean;
  /** Weight bits for this node; weight-only mode (MatMulNBits / GatherBlockQuantized). */
  bits?: 4 | 8;
}

export interface QuantizeOptions {
  mode: QuantMode;
  /** Static only; default 'qdq'. */
  format?: QuantFormat;
  /** `.npy` file (single-input model) or folder of `INPUTNAME.npy`; first axis = samples. */
  calibrationData?: string;
  calibrationMethod?: CalibrationMethod;
  /** Percentile calibration; default 99.99. */
  percentile?: number;
  /** Histogram bins for percentile/entropy; default 2048. */
  histogramBins?: number;
  /** Largest calibration batch (samples per ONNX Runtime run); default 16, lowered to fit `memoryBudget`. */
  calibrationBatch?: number;
  /**
   * MiB calibration may add to the process's resident memory (ONNX Runtime's session and buffers,
   * the exposed tensors); batches shrink and big graphs are calibrated in slices of tensors to fit. Default 512.
   */
  memoryBudget?: number;
  /** Moving-average MinMax (constant 0.01 by default when enabled). */
  movingAverage?: boolean;
  perChannel?: boolean;
  /** 7-bit weights. */
  reduceRange?: boolean;
  symmetricActivations?: boolean;
  /** Activation integer type for static mode; preset decides by default (x86: uint8). */
  activationType?: 'uint8' | 'int8';
  /** Weight-only: 4 or 8; default 4. */
  weightBits?: 4 | 8;
  /** Weight-only block size (power of 2, 16..256); default 32. */
  blockSize?: number;
  /**
   * Weight-only: MatMulNBits `accuracy_level`, the lowest precision its kernel may compute in
   * (0 unset = float32, 1 float32, 2 float16, 4 int8 activations); default 0.
   */
  accuracyLevel?: 0 | 1 | 2 | 4;
  /** Weight-only: each block's range by min/max ('none', round-to-nearest) or shrunk to the least squared error ('mse', default). */
  weightClipping?: 'none' | 'mse';
  /**
   * Weight-only: each weight rounded to the nearest level ('nearest', default) or with GPTQ error
   * compensation from calibrationData ('gptq').
   */
  weightRounding?: 'nearest' | 'gptq';
  preset?: Preset;
  /** Dynamic mode: also quantize Conv (ConvInteger); off by default, it is rarely faster. */
  quantizeConv?: boolean;
  opTypes?: string[];
  nodes?: string[];
  excludeNodes?: string[];
  /**
   * Per-node settings by node name, as the quantizer names nodes in lists and reports (the node's
   * name, else its first output: `nodeName` in quantize/selection.ts; recipe `nodes` keys use the
   * same names). Unset fields fall back to the global option. Names matching no node are warned about.
   */
  nodeOverrides?: Record<string, QuantNodeOverride>;
  /**
   * Shapes for symbolic dims and fixed input values (`--input-shape`, `--input`): used by the
   * validation probe, the fidelity measurement and the speed check when no data says otherwise.
   */
  inputs?: InputOverrides;
  /**
   * Measure the output against the float model on every output (SQNR, cosine, arg-max
   * agreement) before reporting success; default true. Runs on `fidelityData`, else the
   * calibration data (static), else generated inputs.
   */
  fidelity?: boolean;
  /** `.npy` file or folder of `INPUTNAME.npy` for the fidelity measurement (`--data`). */
  fidelityData?: string;
  /** Warn below this: any output under `sqnrDb` or under `cosine`; default 20 dB, 0.99. */
  fidelityFloor?: { sqnrDb?: number; cosine?: number };
  /** Fail (WorkError, nothing written) when an output's SQNR is below this many dB (`--min-sqnr`). */
  minSqnrDb?: number;
  /**
   * Time float against quantized in alternation on the probe's inputs (a few seconds) and say
   * when the output is slower; default true (`--no-speed-check` turns it off).
   */
  speedCheck?: boolean;
  /**
   * `--require-speedup`: below this measured speedup, op groups are kept float and the output
   * re-quantized and timed (at most 3 more rounds); fails (WorkError, nothing written) when none reaches it.
   */
  requireSpeedup?: number;
  /** Load and run the output once in ONNX Runtime before reporting success; default true. */
  validate?: boolean;
  /**
   * Folders, besides a data folder itself, that its entries may lead into through links (the
   * workspace folders in the editor); default: the model's folder. A file given directly is not confined.
   */
  dataRoots?: string[];
  /** Replace an existing output. */
  force?: boolean;
  /** 'auto' (default) externalises only past 2 GiB or when the input used external data. */
  externalData?: 'auto' | 'always' | 'never';
}

export interface SkippedNode {
  node: string;
  reason: string;
  /** For a node inside an If/Loop/Scan body: the body's path, `owner/attribute` segments joined by '/' (`if_out/then_branch`). */
  subgraph?: string;
}

export interface QuantizeResult {
  output: string;
  /** Input model plus its external data. */
  inputBytes: number;
  /** Output model plus its external data. */
  outputBytes: number;
  /** inputBytes / outputBytes. */
  sizeRatio: number;
  quantizedNodes: number;
  skippedNodes: SkippedNode[];
  seconds: number;
  mode: QuantMode;
  /** Options actually used after the preset was applied. */
  effectiveOptions: QuantizeOptions;
  /** Non-fatal notes for the user (e.g. "already quantized", "7-bit weights chosen"). */
  warnings: string[];
  /** The validation probe's input shapes and where symbolic dims got their values (when validated). */
  inputShapes?: string;
  /** Set when the model was below the opset the mode needs: "converted opset 9 → 13: 14 nodes rewritten". */
  conversion?: string;
  /** Weight-only with calibration data: keys of the nodes whose weights got GPTQ error compensation. */
  compensatedNodes?: string[];
  /** The output against the float model (unless `fidelity: false`). */
  fidelity?: QuantizeFidelity;
  /** Float vs quantized latency on this CPU (unless `speedCheck: false` or nothing was quantized). */
  speed?: QuantizeSpeed;
}
