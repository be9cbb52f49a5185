/** Mapping between model paths, their `file:` URIs and their `onnx-text:` text-view URIs. */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { TEXT_SCHEME } from '../shared/lsp/documents';

export function fileUri(p: string): string {
  return pathToFileURL(p).href;
}

/** The text view of a model, `onnx-text:/x/model.onnx.txt`, spelled as the client's textViewUri parses back to. */
export function textViewUri(p: string): string {
  return `${TEXT_SCHEME}:${pathToFileURL(p).pathname}.txt`;
}

/** Model path of a `file:` URI ending in .onnx or an `onnx-text:` URI; undefined for anything else. */
export function modelPathOf(uri: string): string | undefined {
  try {
    if (uri.startsWith('file:')) {
      const p = fileURLToPath(uri);
      return /\.onnx$/i.test(p) ? p : undefined;
    }
    if (uri.startsWith(`${TEXT_SCHEME}:`)) {
      const rest = uri.slice(TEXT_SCHEME.length + 1).replace(/^\/\//, '');
      const p = fileURLToPath(`file://${rest.startsWith('/') ? '' : '/'}${rest}`);
      return p.endsWith('.txt') ? p.slice(0, -4) : undefined;
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/** Path of a `file:` URI (recipes, reports), or undefined. */
export function filePathOf(uri: string): string | undefined {
  try {
    return uri.startsWith('file:') ? fileURLToPath(uri) : undefined;
  } catch {
    return undefined;
  }
}
