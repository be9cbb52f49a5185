/**
 * Plain values of the LSP protocol both ends read without the protocol library: the text views'
 * scheme and language, the data the server attaches to node diagnostics, and the diagnostics settings.
 */

/** URI scheme of the read-only text views: `onnx-text:/path/to/model.onnx.txt`. */
export const TEXT_SCHEME = 'onnx-text';
export const TEXT_LANGUAGE = 'onnx-text';

/** Shape of `Diagnostic.data` for diagnostics about one node (the model editor matches rows by it). */
export interface NodeDiagnosticData {
  /** The node's key (core/onnx/graph-index.ts): the same in layer rows, recipes and --exclude-nodes. */
  node: string;
  /** Which rule produced it: lets code actions choose what to offer. */
  kind: 'layer' | 'risk' | 'accuracy';
}

/** Settings under `onnxQuantizer.diagnostics`: severity per kind of finding. */
export type SeveritySetting = 'error' | 'warning' | 'information' | 'hint' | 'off';
export interface DiagnosticsSettings {
  layerSeverity: SeveritySetting;
  riskSeverity: SeveritySetting;
  accuracySeverity: SeveritySetting;
  /** SQNR below this (dB) in a per-layer report gives an accuracy diagnostic. */
  sqnrThresholdDb: number;
}
export const DEFAULT_DIAGNOSTICS_SETTINGS: DiagnosticsSettings = {
  layerSeverity: 'information',
  riskSeverity: 'warning',
  accuracySeverity: 'warning',
  sqnrThresholdDb: 20,
};

/** Extension commands the server's lenses and quick fixes run: (model file URI, node key[, exclude = true]). */
export const SET_LAYER_EXCLUDED_COMMAND = 'onnxQuantizer.setLayerExcluded';
export const SET_LAYER_PER_CHANNEL_COMMAND = 'onnxQuantizer.setLayerPerChannel';

/** The graph view's command: `(model, nodeKey?)`, the model a Uri or a URI string. */
export const OPEN_GRAPH_COMMAND = 'onnxQuantizer.openGraph';

/**
 * A `command:` link that opens the model's graph on a node. Diagnostics carry it as their code's
 * target, so the Problems panel entry of a node finding jumps to the node in one click.
 */
export function showInGraphLink(modelUri: string, node: string): string {
  return `command:${OPEN_GRAPH_COMMAND}?${encodeURIComponent(JSON.stringify([modelUri, node]))}`;
}
