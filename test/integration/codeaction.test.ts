// The language server's code action "Exclude this node from quantization" on a node diagnostic
// writes the node into MODEL.quant.json (the recipe) next to the model.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { activate, closeAllEditors, waitForDiagnostics, waitUntil, workspaceUri } from './helpers';
import { SOURCE, showAsText, type NodeDiagnostic } from './textView';

const EXCLUDE = /Exclude .*from quantization/i;

async function applyAction(action: vscode.CodeAction): Promise<void> {
  if (action.edit) assert.ok(await vscode.workspace.applyEdit(action.edit), 'workspace.applyEdit refused the edit');
  if (action.command) await vscode.commands.executeCommand(action.command.command, ...(action.command.arguments ?? []));
}

suite('language server: code actions', () => {
  suiteSetup(async () => { await activate(); });
  suiteTeardown(closeAllEditors);

  test('"Exclude this node from quantization" writes the node into MODEL.quant.json', async function () {
    this.timeout(60000);
    const model = workspaceUri('digits_cnn.onnx');
    const recipe = model.fsPath.replace(/\.onnx$/, '.quant.json');
    fs.rmSync(recipe, { force: true });
    const doc = await showAsText('digits_cnn.onnx');
    const diags = (await waitForDiagnostics(doc.uri, (ds) => ds.some((d) => d.source === SOURCE && (d as NodeDiagnostic).data?.node),
      'a node diagnostic for digits_cnn.onnx')) as NodeDiagnostic[];
    const target = diags.find((d) => d.source === SOURCE && d.data?.node)!;
    const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', doc.uri, target.range,
      vscode.CodeActionKind.QuickFix.value);
    const exclude = actions.find((a) => EXCLUDE.test(a.title));
    assert.ok(exclude, `no exclude action among ${JSON.stringify(actions.map((a) => a.title))}`);
    await applyAction(exclude);
    // An edit on the recipe document may still be unsaved: save what is open.
    await vscode.workspace.saveAll(false);
    const written = await waitUntil(`${recipe} listing the node`, () => {
      if (!fs.existsSync(recipe)) return undefined;
      const json = JSON.parse(fs.readFileSync(recipe, 'utf8'));
      const key = target.data!.recipeNode ?? target.data!.node!;
      return json.nodes?.[key]?.exclude === true ? json : undefined;
    }, 20000);
    assert.equal(written.mode !== undefined, true, 'recipe has no mode');
    assert.match(String(written.model), /digits_cnn\.onnx$/);
  });
});
