// Restricted Mode (issue 7 §5): in an untrusted workspace the extension still loads (viewing is
// safe) but refuses to run models: quantize and benchmark reject and write nothing.
// The harness runs this file in its own code-server pass with workspace trust ENABLED and the
// folder untrusted; under a trusted run it skips itself, so it can never pass vacuously there.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { activate, extension, manifest, workspaceDir, workspaceUri } from './helpers';

suite('restricted mode: untrusted workspace', () => {
  suiteSetup(function () {
    if (vscode.workspace.isTrusted) {
      console.log('    (workspace is trusted: the Restricted Mode suite runs in its own untrusted pass)');
      this.skip();
    }
  });

  test('the manifest declares limited support for untrusted workspaces', () => {
    const support = manifest().capabilities?.untrustedWorkspaces?.supported;
    assert.equal(support, 'limited', `capabilities.untrustedWorkspaces.supported is ${JSON.stringify(support)}`);
  });

  test('every menu entry of a command that runs a model requires isWorkspaceTrusted', () => {
    const runs = /^onnxQuantizer\.(quantizeModel|quantizeWithDefaults|quantizeWithRecipe|benchmarkModel|compareModels)$/;
    const menus = manifest().contributes?.menus ?? {};
    const entries = Object.entries(menus).flatMap(([menu, items]) => items.filter((i) => runs.test(i.command)).map((i) => ({ menu, ...i })));
    assert.ok(entries.some((e) => e.menu === 'commandPalette'), 'no commandPalette entries for the run commands');
    const ungated = entries.filter((e) => !/\bisWorkspaceTrusted\b/.test(e.when ?? '')).map((e) => `${e.menu}: ${e.command}`);
    assert.deepEqual(ungated, []);
  });

  test('the extension still activates in Restricted Mode', async () => {
    await activate();
    assert.ok(extension().isActive);
  });

  test('quantize is refused and writes nothing', async () => {
    const output = path.join(workspaceDir(), 'restricted-attempt.int8.onnx');
    const before = fs.readdirSync(workspaceDir()).sort();
    await assert.rejects(
      Promise.resolve(vscode.commands.executeCommand('onnxQuantizer.quantizeModel', workspaceUri('digits_mlp.onnx'), { mode: 'dynamic', output, force: true })),
      /Restricted Mode/,
    );
    assert.equal(fs.existsSync(output), false);
    assert.deepEqual(fs.readdirSync(workspaceDir()).sort(), before, 'the refused job changed the workspace');
  });

  test('quantize with a recipe is refused too', async () => {
    const recipe = path.join(workspaceDir(), 'digits_mlp.quant.json');
    fs.writeFileSync(recipe, JSON.stringify({ model: 'digits_mlp.onnx', mode: 'dynamic', output: 'restricted-recipe.onnx' }));
    try {
      await vscode.commands.executeCommand('onnxQuantizer.quantizeWithRecipe', vscode.Uri.file(recipe));
      assert.equal(fs.existsSync(path.join(workspaceDir(), 'restricted-recipe.onnx')), false, 'the recipe ran in Restricted Mode');
    } finally {
      fs.rmSync(recipe, { force: true });
    }
  });

  test('benchmark is refused too', async () => {
    await assert.rejects(
      Promise.resolve(vscode.commands.executeCommand('onnxQuantizer.benchmarkModel', workspaceUri('digits_mlp.onnx'), { runs: 1 })),
      /Restricted Mode/,
    );
  });
});
