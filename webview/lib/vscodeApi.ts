/**
 * Typed access to the webview API: post validated-shape messages, receive only messages that
 * pass the given validator (others are dropped with a console warning), persist UI state.
 */
interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

export interface HostChannel<TOut, TIn> {
  post(message: TOut): void;
  onMessage(handler: (message: TIn) => void): void;
  getState<S>(isState: (x: unknown) => x is S): S | undefined;
  setState(state: unknown): void;
}

export function connect<TOut, TIn>(isIncoming: (x: unknown) => x is TIn): HostChannel<TOut, TIn> {
  const api = acquireVsCodeApi();
  return {
    post: (message) => api.postMessage(message),
    onMessage(handler) {
      window.addEventListener('message', (event: MessageEvent) => {
        if (isIncoming(event.data)) handler(event.data);
        else console.warn('onnx-quantizer: ignored malformed host message');
      });
    },
    getState(isState) {
      const s = api.getState();
      return isState(s) ? s : undefined;
    },
    setState: (state) => api.setState(state),
  };
}
