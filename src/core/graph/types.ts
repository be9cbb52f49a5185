/** The graph view's data as the worker builds it (core/graph/graphView.ts) and the webview draws it. */

/** What quantization did or can do to a node (see core/graph/graphView.ts for the rules). */
export type NodeQuantState = 'quantized' | 'float' | 'none';

export interface GraphAttributeDto {
  name: string;
  /** One-line rendering (long lists and tensors are summarised). */
  value: string;
}

export interface GraphNodeDto {
  /** The node's key (core/onnx/graph-index.ts); '' for the graph's input and output markers. */
  key: string;
  label: string;
  /** 'Input' / 'Output' for the markers of graph inputs and outputs. */
  opType: string;
  kind: 'op' | 'input' | 'output';
  domain: string;
  /** 0 for the main graph, deeper for expanded bodies. */
  depth: number;
  inputs: string[];
  outputs: string[];
  attributes: GraphAttributeDto[];
  /** Has If/Loop/Scan bodies (the view can expand it). */
  expandable: boolean;
  /** Modes that can quantize the node (the layer rules), empty when none. */
  modes: string[];
  /** Set when the node is already an integer kernel or part of a Q/DQ unit: the family. */
  quantized: string;
  /** Risks of the layer rules, one line each. */
  notes: string[];
  /**
   * Index of the unit head when this node belongs to a unit ONNX Runtime runs as one integer kernel
   * (Q/DQ around an op, a QOperator op with the Q/DQ entering and leaving its chain, a dynamic
   * MatMulInteger with its quantize and rescale nodes; the head itself included), else -1.
   */
  unit: number;
  /** Key of the same node in the model shown beside (float ↔ quantized, core/graph/pairing.ts), '' when none. */
  pair: string;
  /** What quantization did to the node, when the graph has a peer: integer kernel, fused, kept float (why), removed. */
  outcome: NodeOutcome | null;
  /** What ONNX Runtime makes of the node when it loads the model (core/graph/fusion.ts), null when not looked at. */
  runtime: RuntimeFate | null;
  /** Layout box: centre and size, in graph units. */
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface RuntimeFate {
  /** Fused into another op (or folded away) rather than run as its own kernel. */
  fused: boolean;
  /** One line: "runs as is in ONNX Runtime", "fused by ONNX Runtime into FusedConv". */
  text: string;
}

export interface NodeOutcome {
  kind: 'integer' | 'fused' | 'float' | 'removed';
  /** One line: "became QLinearConv", "not quantizable in dynamic mode", the quantizer's reason. */
  text: string;
}

/** The model shown beside: the float model of a quantized one, or the quantized variant of a float one. */
export interface GraphPeerDto {
  file: string;
  fileName: string;
  role: 'float' | 'quantized';
}

export interface GraphEdgeDto {
  from: number;
  to: number;
  /** Tensor carried ('' for the owner → body link of an expanded node). */
  tensor: string;
  /** Route as flat x,y pairs (start at the producer, end at the consumer). */
  points: number[];
}

export interface GraphTensorDto {
  name: string;
  dtype: string;
  shape: (number | string)[] | null;
  kind: 'initializer' | 'constant' | 'activation' | 'input' | 'output';
  /** Initializer statistics when it is a float constant: min, max, mean, std. */
  stats: { min: number; max: number; mean: number; std: number } | null;
  /** Quantization parameters when the tensor is quantized (scale, zero point, axis as text). */
  quant: { scale: string; zeroPoint: string; axis: string; type: string } | null;
}

export interface GraphDto {
  fileName: string;
  nodes: GraphNodeDto[];
  edges: GraphEdgeDto[];
  tensors: GraphTensorDto[];
  width: number;
  height: number;
  /** Keys of the expanded nodes. */
  expanded: string[];
  /** Every unit drawn as one node. */
  collapsed: boolean;
  /** Keys of the unit heads drawn as one node one by one (when not `collapsed`). */
  units: string[];
  /** Time spent laying out, in ms (shown in the status line and by the bench). */
  layoutMs: number;
  /** Which engine laid it out: 'dagre', or 'layered' for graphs too large for it. */
  layoutEngine: string;
  /**
   * Per-layer error of the model's latest comparison (`MODEL.quant-report.json` next to it, a
   * `compare --per-layer` output), by node key: the SQNR (dB) of the error the node adds itself.
   */
  errors: { node: string; sqnrDb: number }[];
  /** File name of that report, '' when there is none. */
  errorReport: string;
  /** The model to show beside this one, when found (core/report/locate.ts: floatModelOf, variantsOf). */
  peer: GraphPeerDto | null;
}
