// The language server's code action "Exclude this node from quantization" on a node diagnostic
// writes the node into MODEL.quant.json (the recipe) next to the model.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import type { QuantizeResult } from '../../src/core/quantize/types';
import { PYTHON, activate, closeAllEditors, waitForDiagnostics, waitUntil, workspaceUri } from './helpers';
import { execFileSync } from 'node:child_process';
import { SOURCE, showAsText, type NodeDiagnostic } from './textView';

const EXCLUDE = /Exclude .*from quantization/i;

/** Nodes of a model with the element type of their second input when it is an initializer (onnx package). */
function onnxNodesWithWeights(model: string): { name: string; output: string; opType: string; weightType: string | null }[] {
  const script = [
    'import json, sys, onnx',
    'm = onnx.load(sys.argv[1], load_external_data=False)',
    'inits = {t.name: onnx.TensorProto.DataType.Name(t.data_type) for t in m.graph.initializer}',
    'print(json.dumps([{"name": n.name, "output": n.output[0] if n.output else "", "opType": n.op_type,',
    '  "weightType": inits.get(n.input[1]) if len(n.input) > 1 else None} for n in m.graph.node]))',
  ].join('\n');
  return JSON.parse(execFileSync(PYTHON, ['-c', script, model], { encoding: 'utf8' }));
}

async function applyAction(action: vscode.CodeAction): Promise<void> {
  if (action.edit) assert.ok(await vscode.workspace.applyEdit(action.edit), 'workspace.applyEdit refused the edit');
  if (action.command) await vscode.commands.executeCommand(action.command.command, ...(action.command.arguments ?? []));
}

suite('language server: code actions', () => {
  suiteSetup(async () => { await activate(); });
  // The recipe is the exclusion state every later quantize honours: leave none behind.
  const recipeFile = (): string => workspaceUri('digits_mlp.quant.json').fsPath;
  suiteTeardown(async () => {
    await closeAllEditors();
    fs.rmSync(recipeFile(), { force: true });
  });

  test('"Exclude this node from quantization" writes MODEL.quant.json, and Quantize with Recipe honours it', async function () {
    this.timeout(120000);
    const model = workspaceUri('digits_mlp.onnx');
    const recipe = model.fsPath.replace(/\.onnx$/, '.quant.json');
    fs.rmSync(recipe, { force: true });
    const doc = await showAsText('digits_mlp.onnx');
    const diags = (await waitForDiagnostics(doc.uri, (ds) => ds.some((d) => d.source === SOURCE && (d as NodeDiagnostic).data?.node),
      'a node diagnostic for digits_mlp.onnx')) as NodeDiagnostic[];
    // The Gemm: dynamic mode would quantize it, so excluding it must make a difference.
    const target = diags.find((d) => d.source === SOURCE && d.data?.node && /Gemm/.test(d.message));
    assert.ok(target, `no Gemm node diagnostic among ${JSON.stringify(diags.map((d) => d.message))}`);
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
      const key = target.data!.node!;
      return json.nodes?.[key]?.exclude === true ? json : undefined;
    }, 20000);
    assert.equal(written.mode !== undefined, true, 'recipe has no mode');
    assert.match(String(written.model), /digits_mlp\.onnx$/);

    // Quantizing with the recipe keeps that node in float and still quantizes the rest.
    const result = await vscode.commands.executeCommand<QuantizeResult | undefined>('onnxQuantizer.quantizeWithRecipe', vscode.Uri.file(recipe));
    assert.ok(result && fs.existsSync(result.output), 'Quantize with Recipe produced no output (see the ONNX Quantizer log)');
    const nodes = onnxNodesWithWeights(result.output);
    const name = target.data!.node!;
    const kept = nodes.find((n) => n.name === name || n.output === name);
    assert.ok(kept, `excluded node ${name} missing from the output`);
    assert.equal(kept.opType, 'Gemm');
    assert.equal(kept.weightType, 'FLOAT', `excluded node ${name} has ${kept.weightType} weights`);
    assert.ok(nodes.some((n) => /Integer$|QuantizeLinear$|^QLinear/.test(n.opType)), 'nothing else was quantized either');
    fs.rmSync(result.output, { force: true });
  });
});
