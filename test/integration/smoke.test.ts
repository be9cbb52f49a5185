// The extension loads in a real VS Code, activates, and registers everything it contributes.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { activate, extension, manifest } from './helpers';

/** Commands other parts of the product rely on (CLI contract, explorer, language server). */
const REQUIRED_COMMANDS = [
  'onnxQuantizer.quantizeModel',
  'onnxQuantizer.benchmarkModel',
  'onnxQuantizer.compareModels',
  'onnxQuantizer.refreshModels',
  'onnxQuantizer.showAsText',
];

suite('smoke: extension loads and registers its contributions', () => {
  test('runs in a Node extension host', () => {
    assert.equal(typeof process.versions.node, 'string');
    console.log(`    (vscode ${vscode.version}, uiKind ${vscode.UIKind[vscode.env.uiKind]}, node ${process.versions.node})`);
  });

  test('extension is present and activates', async () => {
    await activate();
    assert.ok(extension().isActive, 'extension did not become active');
  });

  test('every contributed command is registered', async () => {
    const contributed = (manifest().contributes?.commands ?? []).map((c) => c.command);
    for (const id of REQUIRED_COMMANDS) assert.ok(contributed.includes(id), `package.json does not contribute ${id}`);
    const registered = new Set(await vscode.commands.getCommands(true));
    const missing = contributed.filter((id) => !registered.has(id));
    assert.deepEqual(missing, [], `contributed but not registered: ${missing.join(', ')}`);
  });

  test('contributed commands carry the "ONNX Quantizer" category', () => {
    const commands = manifest().contributes?.commands ?? [];
    assert.ok(commands.length > 0, 'package.json contributes no commands');
    const wrong = commands.filter((c) => c.category !== 'ONNX Quantizer').map((c) => c.command);
    assert.deepEqual(wrong, []);
  });

  test('the model editor is contributed for *.onnx', () => {
    const editors = manifest().contributes?.customEditors ?? [];
    assert.ok(editors.some((e) => e.viewType === 'onnxQuantizer.modelEditor'), 'no customEditors entry onnxQuantizer.modelEditor');
  });
});
