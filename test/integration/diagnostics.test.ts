// The language server: "Show as Text" opens an `onnx-text:` view of a model, and diagnostics about
// its quantizable nodes arrive for it (awaited through languages.onDidChangeDiagnostics), each
// naming its node in `data.node` and pointing at that node's line.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { activate, closeAllEditors, waitForDiagnostics, waitUntil, workspaceUri } from './helpers';
import { SOURCE, onnxNodes, showAsText, type NodeDiagnostic } from './textView';

suite('language server: text view and diagnostics', () => {
  suiteSetup(async () => { await activate(); });
  suiteTeardown(closeAllEditors);

  test('Show as Text renders every node of the model', async () => {
    const doc = await showAsText('digits_mlp.onnx');
    assert.match(doc.uri.toString(), /^onnx-text:.*digits_mlp\.onnx\.txt$/);
    const text = doc.getText();
    for (const n of onnxNodes(workspaceUri('digits_mlp.onnx').fsPath)) {
      assert.ok(text.includes(n.opType), `op ${n.opType} missing from the text view`);
    }
  });

  test('diagnostics arrive for the text view, one per quantizable Gemm, naming their node', async function () {
    this.timeout(60000);
    const doc = await showAsText('digits_mlp.onnx');
    const gemms = onnxNodes(workspaceUri('digits_mlp.onnx').fsPath).filter((n) => n.opType === 'Gemm');
    const diags = (await waitForDiagnostics(
      doc.uri,
      (ds) => ds.filter((d) => d.source === SOURCE && (d as NodeDiagnostic).data?.node).length >= gemms.length,
      `${gemms.length} node diagnostics from ${SOURCE}`,
    )) as NodeDiagnostic[];
    const known = new Set(gemms.flatMap((g) => [g.name, g.output]));
    const layerDiags = diags.filter((d) => d.source === SOURCE && d.data?.node && /Gemm/.test(d.message));
    assert.equal(new Set(layerDiags.map((d) => d.data!.node)).size, gemms.length, `expected one Gemm diagnostic per Gemm node: ${JSON.stringify(layerDiags.map((d) => d.message))}`);
    for (const d of layerDiags) {
      assert.ok(known.has(d.data!.node!), `diagnostic names unknown node ${d.data!.node}`);
      assert.match(doc.lineAt(d.range.start.line).text, /Gemm/, `diagnostic for ${d.data!.node} is not on a Gemm line`);
    }
  });

  test('an unreadable model gets an error diagnostic instead of a crash', async function () {
    this.timeout(60000);
    const bad = vscode.Uri.joinPath(workspaceUri('digits_mlp.onnx'), '..', 'broken.onnx');
    await vscode.workspace.fs.writeFile(bad, new TextEncoder().encode('this is not a protobuf'));
    try {
      await vscode.commands.executeCommand('onnxQuantizer.showAsText', bad);
      const doc = await waitUntil('an onnx-text: editor for broken.onnx', () => {
        const e = vscode.window.activeTextEditor;
        return e && e.document.uri.scheme === 'onnx-text' && e.document.uri.path.includes('broken.onnx') ? e.document : undefined;
      }, 30000);
      const ds = await waitForDiagnostics(doc.uri, (all) => all.some((d) => d.severity === vscode.DiagnosticSeverity.Error), 'an error diagnostic for broken.onnx');
      assert.ok(ds.length >= 1);
    } finally {
      await closeAllEditors();
      await vscode.workspace.fs.delete(bad);
    }
  });
});
