// Text views of models (`onnx-text:`) and the language server's node diagnostics.
import { execFileSync } from 'node:child_process';
import * as vscode from 'vscode';
import { PYTHON, waitUntil, workspaceUri } from './helpers';

export const SOURCE = 'onnx-quantizer';
export type NodeDiagnostic = vscode.Diagnostic & { data?: { node?: string; kind?: string } };

/** Node names and op types of a model according to the onnx Python package (independent oracle). */
export function onnxNodes(model: string): { name: string; opType: string; output: string }[] {
  const script = 'import json, sys, onnx\nm = onnx.load(sys.argv[1], load_external_data=False)\n'
    + 'print(json.dumps([{"name": n.name, "opType": n.op_type, "output": n.output[0] if n.output else ""} for n in m.graph.node]))';
  return JSON.parse(execFileSync(PYTHON, ['-c', script, model], { encoding: 'utf8' }));
}

/** Open the text view of a fixture via the command; resolves with its document. */
export async function showAsText(name: string): Promise<vscode.TextDocument> {
  const model = workspaceUri(name);
  await vscode.commands.executeCommand('onnxQuantizer.showAsText', model);
  const editor = await waitUntil(`an onnx-text: editor for ${name}`, () => {
    const e = vscode.window.activeTextEditor;
    return e && e.document.uri.scheme === 'onnx-text' && e.document.uri.path.includes(name) ? e : undefined;
  }, 30000);
  return editor.document;
}
