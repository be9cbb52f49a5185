// The Models explorer lists every workspace model, with details computed by the worker.
// Read through the test hook `onnxQuantizer._test.getTree` (the tree as JSON, all expanded).
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { TreeJson } from '../../src/extension/explorer/modelsProvider';
import { activate, onnxOpCounts, waitUntil, workspaceDir, workspaceModels } from './helpers';

const getTree = (): Thenable<TreeJson[]> => vscode.commands.executeCommand<TreeJson[]>('onnxQuantizer._test.getTree');
const child = (node: TreeJson | undefined, label: string): TreeJson | undefined => node?.children?.find((c) => c.label === label);

suite('explorer: the Models view', () => {
  let tree: TreeJson[];

  suiteSetup(async function () {
    this.timeout(120000); // the worker summarizes every fixture on first expand
    await activate();
    tree = await getTree();
  });

  test('lists exactly the .onnx files of the workspace', () => {
    const expected = workspaceModels().map((p) => path.basename(p)).sort();
    assert.deepEqual(tree.map((n) => n.label).sort(), expected);
    assert.ok(expected.includes('digits_mlp.onnx') && expected.includes('digits_cnn.onnx'), 'fixtures missing from the workspace');
  });

  test('digits_mlp.onnx: inputs, outputs and operator counts match the onnx package', () => {
    const model = tree.find((n) => n.label === 'digits_mlp.onnx');
    assert.ok(model?.children, 'digits_mlp.onnx has no children (summarize job failed?)');
    assert.deepEqual(child(model, 'Inputs')?.children?.map((c) => c.label), ['image']);
    assert.deepEqual(child(model, 'Outputs')?.children?.map((c) => c.label), ['logits']);
    const ops = child(model, 'Operators')?.children ?? [];
    const shown = Object.fromEntries(ops.map((o) => [o.label, Number(/×(\d+)/.exec(o.description ?? '')?.[1])]));
    assert.deepEqual(shown, onnxOpCounts(path.join(workspaceDir(), 'digits_mlp.onnx')));
    assert.equal(ops.find((o) => o.label === 'Gemm')?.contextValue, 'operator.quantizable', 'Gemm should be marked quantizable');
  });

  test('layer checkboxes follow the chosen mode: in dynamic mode (the default) digits_cnn\'s Convs have none and say why, its Gemm has one', () => {
    const model = tree.find((n) => n.label === 'digits_cnn.onnx');
    const ops = child(model, 'Operators')?.children ?? [];
    const convs = child({ label: '', children: ops }, 'Conv')?.children ?? [];
    assert.equal(convs.length, 4, JSON.stringify(ops));
    for (const c of convs) {
      assert.equal(c.checked, undefined, `${c.label} has a checkbox in dynamic mode`);
      assert.match(c.description ?? '', /dynamic mode does not quantize it$/);
    }
    const gemm = child({ label: '', children: ops }, 'Gemm')?.children?.[0];
    assert.equal(gemm?.checked, true, JSON.stringify(gemm));
  });

  test('every fixture model is summarized (no "Cannot read this model" row)', () => {
    const broken = tree.filter((n) => !n.children || n.children.some((c) => c.contextValue === 'error')).map((n) => n.label);
    assert.deepEqual(broken, []);
  });

  test('the already quantized fixture shows its QDQ format', () => {
    const q = tree.find((n) => n.label === 'digits_cnn_static_qnnpack_torch.onnx');
    const format = child(q, 'Quantization')?.children?.find((c) => c.label === 'Format')?.description ?? '';
    assert.match(format, /QDQ/i);
  });

  test('a model added to the workspace appears after the file watcher fires', async () => {
    const copy = path.join(workspaceDir(), 'explorer_added_copy.onnx');
    await vscode.workspace.fs.copy(vscode.Uri.file(path.join(workspaceDir(), 'digits_mlp.onnx')), vscode.Uri.file(copy));
    try {
      await waitUntil('explorer_added_copy.onnx in the Models tree', async () => (await getTree()).some((n) => n.label === 'explorer_added_copy.onnx'), 30000, 200);
    } finally {
      await vscode.workspace.fs.delete(vscode.Uri.file(copy));
    }
    await waitUntil('explorer_added_copy.onnx gone from the tree', async () => !(await getTree()).some((n) => n.label === 'explorer_added_copy.onnx'), 30000, 200);
  });
});
