/**
 * Custom LSP messages between the extension (src/extension/languageClient.ts) and the language
 * server. Types and names only: imported by both sides.
 */

/** URI scheme of the read-only text views: `onnx-text:/path/to/model.onnx.txt`. */
export const TEXT_SCHEME = 'onnx-text';
export const TEXT_LANGUAGE = 'onnx-text';

/** Request: the model's text (rendered by the server, which keeps the line map for hovers). */
export const RenderTextRequest = 'onnxQuantizer/renderText';
export interface RenderTextParams {
  /** `file:` URI of the .onnx model. */
  uri: string;
}
export interface RenderTextResult {
  text: string;
  /** Set when the model could not be read: `text` then explains why in a comment. */
  error?: string;
}

/** Notification (client → server): a model is shown somewhere (custom editor): keep its diagnostics published. */
export const TrackModelNotification = 'onnxQuantizer/trackModel';
/** Notification (client → server): no editor shows it any more: clear its diagnostics. */
export const UntrackModelNotification = 'onnxQuantizer/untrackModel';
export interface TrackModelParams {
  uri: string;
}

/** Notification (server → client): a model's rendering changed (file changed on disk). */
export const ModelChangedNotification = 'onnxQuantizer/modelChanged';
export interface ModelChangedParams {
  uri: string;
}

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
