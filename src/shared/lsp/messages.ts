/**
 * The custom LSP messages between the extension's language client (src/extension/languageClient.ts)
 * and the language server (src/server/server.ts), each defined once with its parameter and result
 * types, so `sendRequest`/`onRequest`/`onNotification` are typed at both ends.
 *
 * The extension host's activation bundle only imports types from here (a value import would bundle
 * the protocol library into it); the plain values it needs are in ./documents.
 */
import { NotificationType, RequestType } from 'vscode-languageserver-protocol';

export interface RenderTextParams {
  /** `file:` URI of the .onnx model. */
  uri: string;
}
export interface RenderTextResult {
  text: string;
  /** Set when the model could not be read: `text` then explains why in a comment. */
  error?: string;
}
/** Request: the model's text (rendered by the server, which keeps the line map for hovers). */
export const RenderTextRequest = new RequestType<RenderTextParams, RenderTextResult, void>('onnxQuantizer/renderText');

export interface TrackModelParams {
  uri: string;
}
/** Notification (client → server): a model is shown somewhere (custom editor): keep its diagnostics published. */
export const TrackModelNotification = new NotificationType<TrackModelParams>('onnxQuantizer/trackModel');
/** Notification (client → server): no editor shows it any more: clear its diagnostics. */
export const UntrackModelNotification = new NotificationType<TrackModelParams>('onnxQuantizer/untrackModel');

export interface ModelChangedParams {
  uri: string;
}
/** Notification (server → client): a model's rendering changed (file changed on disk). */
export const ModelChangedNotification = new NotificationType<ModelChangedParams>('onnxQuantizer/modelChanged');

/**
 * What the client says at initialize (`initializationOptions`). Without `trusted: true` the
 * server reads no path a recipe names (Restricted Mode, or a client that does not say).
 */
export interface ServerInitOptions {
  trusted?: boolean;
}
/** Notification (client → server): the user trusted the workspace; recipes' paths may be read now. */
export const WorkspaceTrustedNotification = new NotificationType<Record<string, never>>('onnxQuantizer/workspaceTrusted');
