// The model editor (custom editor for *.onnx) opens fixtures as the default editor and by viewType.
// Its webview content is checked by the Playwright e2e suite (test/e2e/model-editor.e2e.mjs).
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { activate, closeAllEditors, waitForActiveTab, within, workspaceUri } from './helpers';

const VIEW_TYPE = 'onnxQuantizer.modelEditor';

function isModelEditorFor(uri: vscode.Uri) {
  return (tab: vscode.Tab): boolean =>
    tab.input instanceof vscode.TabInputCustom && tab.input.viewType === VIEW_TYPE && tab.input.uri.toString() === uri.toString();
}

suite('model editor: custom editor for *.onnx', () => {
  suiteSetup(async () => { await activate(); });
  teardown(closeAllEditors);

  test('vscode.openWith opens a fixture in the model editor', async () => {
    const uri = workspaceUri('digits_cnn.onnx');
    await within(vscode.commands.executeCommand('vscode.openWith', uri, VIEW_TYPE), `vscode.openWith(digits_cnn.onnx, ${VIEW_TYPE}) (is the provider registered?)`);
    const tab = await waitForActiveTab(isModelEditorFor(uri), `a ${VIEW_TYPE} tab for digits_cnn.onnx`);
    assert.equal(tab.label, 'digits_cnn.onnx');
  });

  test('vscode.open uses the model editor by default for .onnx', async () => {
    const uri = workspaceUri('digits_lstm.onnx');
    await within(vscode.commands.executeCommand('vscode.open', uri), 'vscode.open(digits_lstm.onnx)');
    await waitForActiveTab(isModelEditorFor(uri), `digits_lstm.onnx opened in ${VIEW_TYPE} (priority default)`);
  });

  test('two models open side by side in two tabs', async () => {
    const a = workspaceUri('digits_mlp.onnx');
    const b = workspaceUri('digits_cnn_static_qnnpack_torch.onnx');
    await within(vscode.commands.executeCommand('vscode.openWith', a, VIEW_TYPE), 'vscode.openWith(digits_mlp.onnx)');
    await waitForActiveTab(isModelEditorFor(a), 'digits_mlp.onnx in the model editor');
    await within(vscode.commands.executeCommand('vscode.openWith', b, VIEW_TYPE, vscode.ViewColumn.Beside), 'vscode.openWith(digits_cnn_static_qnnpack_torch.onnx, Beside)');
    await waitForActiveTab(isModelEditorFor(b), 'digits_cnn_static_qnnpack_torch.onnx beside it');
    const open = vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.input instanceof vscode.TabInputCustom).map((t) => t.label).sort();
    assert.deepEqual(open, ['digits_cnn_static_qnnpack_torch.onnx', 'digits_mlp.onnx']);
  });
});
