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

  test('benchmark is refused too', async () => {
    await assert.rejects(
      Promise.resolve(vscode.commands.executeCommand('onnxQuantizer.benchmarkModel', workspaceUri('digits_mlp.onnx'), { runs: 1 })),
      /Restricted Mode/,
    );
  });
});
