// Language-server client paths in a real VS Code: hover, symbols, lenses, custom-editor tracking, refresh, recipes.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { activate, closeAllEditors, waitForDiagnostics, waitUntil, workspaceUri } from './helpers';
import { showAsText } from './textView';

suite('text view extras', () => {
  suiteSetup(async () => { await activate(); });
  suiteTeardown(closeAllEditors);

  test('language, hover, symbols, definition', async function () {
    this.timeout(60000);
    const doc = await showAsText('digits_mlp.onnx');
    assert.equal(doc.languageId, 'onnx-text');
    const line = doc.getText().split('\n').findIndex((l) => l.includes('["/fc1/Gemm"]'));
    const col = doc.lineAt(line).text.indexOf('"fc1.weight"') + 2;
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', doc.uri, new vscode.Position(line, col));
    const text = hovers.map((h) => h.contents.map((c) => (typeof c === 'string' ? c : (c as vscode.MarkdownString).value)).join('\n')).join('\n');
    assert.match(text, /zero point/);
    const symbols = await vscode.commands.executeCommand<vscode.DocumentSymbol[]>('vscode.executeDocumentSymbolProvider', doc.uri);
    assert.ok(symbols.some((s) => s.name === 'Gemm' && s.children.length === 3), JSON.stringify(symbols.map((s) => s.name)));
    const lenses = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', doc.uri);
    assert.ok(lenses.length >= 2, `lenses: ${lenses.length}`);
  });

  test('custom editor tab tracks the model: diagnostics once, on its text view (none on the binary .onnx)', async function () {
    this.timeout(60000);
    await closeAllEditors();
    const model = workspaceUri('digits_lstm.onnx');
    const view = model.with({ scheme: 'onnx-text', path: `${model.path}.txt` });
    await vscode.commands.executeCommand('vscode.openWith', model, 'onnxQuantizer.modelEditor');
    const ds = await waitForDiagnostics(view, (d) => d.some((x) => x.message.startsWith('LSTM →')), "diagnostics on the model's text view");
    assert.ok(ds.length >= 1);
    assert.deepEqual(vscode.languages.getDiagnostics(model), [], 'nothing on the binary .onnx');
    await closeAllEditors();
    await waitForDiagnostics(view, (d) => d.length === 0, 'cleared diagnostics');
  });

  test('text view refreshes when the model file changes', async function () {
    this.timeout(60000);
    const copy = vscode.Uri.joinPath(workspaceUri('digits_mlp.onnx'), '..', 'changing.onnx');
    fs.copyFileSync(workspaceUri('digits_mlp.onnx').fsPath, copy.fsPath);
    await vscode.commands.executeCommand('onnxQuantizer.showAsText', copy);
    const doc = await waitUntil('view', () => vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'onnx-text' && d.uri.path.includes('changing.onnx')));
    assert.match(doc.getText(), /= Gemm/);
    fs.copyFileSync(workspaceUri('digits_cnn.onnx').fsPath, copy.fsPath);
    await waitUntil('refreshed text', () => (doc.getText().includes('= Conv') ? true : undefined), 20000);
    await waitForDiagnostics(doc.uri, (d) => d.some((x) => x.message.startsWith('Conv')), 'Conv diagnostics on the view');
    await closeAllEditors();
    fs.rmSync(copy.fsPath);
  });

  test('Quantize with Recipe runs the quantizer with the recipe options', async function () {
    this.timeout(120000);
    const dir = vscode.Uri.joinPath(workspaceUri('digits_mlp.onnx'), '..').fsPath;
    const recipe = `${dir}/mlp-recipe.quant.json`;
    fs.writeFileSync(recipe, JSON.stringify({ model: 'digits_mlp.onnx', output: 'mlp-recipe-out.onnx', mode: 'dynamic', nodes: { '/fc2/Gemm': { exclude: true } } }));
    const result = (await vscode.commands.executeCommand('onnxQuantizer.quantizeWithRecipe', vscode.Uri.file(recipe))) as { output: string; quantizedNodes: number; skippedNodes: { node: string }[] };
    assert.ok(result, 'no result');
    assert.equal(result.quantizedNodes, 2);
    assert.ok(fs.existsSync(`${dir}/mlp-recipe-out.onnx`));
    assert.ok(result.skippedNodes.some((s) => s.node === '/fc2/Gemm'), JSON.stringify(result.skippedNodes));
  });

  test('recipe diagnostics and completion in a json editor', async function () {
    this.timeout(60000);
    const dir = vscode.Uri.joinPath(workspaceUri('digits_mlp.onnx'), '..').fsPath;
    const recipe = vscode.Uri.file(`${dir}/check.quant.json`);
    fs.writeFileSync(recipe.fsPath, '{\n  "model": "digits_mlp.onnx",\n  "mode": "dynamic",\n  "nodes": { "/nope": { "exclude": true } }\n}\n');
    const doc = await vscode.workspace.openTextDocument(recipe);
    await vscode.window.showTextDocument(doc);
    assert.equal(doc.languageId, 'json');
    const ds = await waitForDiagnostics(recipe, (d) => d.some((x) => /no node named '\/nope'/.test(x.message)), 'recipe diagnostics');
    assert.ok(ds.length >= 1);
    const list = await vscode.commands.executeCommand<vscode.CompletionList>('vscode.executeCompletionItemProvider', recipe, new vscode.Position(3, 14));
    assert.ok(list.items.some((i) => (typeof i.label === 'string' ? i.label : i.label.label) === '/fc1/Gemm'), list.items.slice(0, 10).map((i) => JSON.stringify(i.label)).join(','));
  });
});
