// A quantize job runs through the command → worker process → engine and writes a model that
// ONNX Runtime runs with predictions agreeing with the float model; cancelling a running job
// leaves nothing behind and the worker keeps serving jobs.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { readNpy, npyToFloat32 } from '../../src/core/data/npy';
import { createSession, ort } from '../../src/core/runtime/ort';
import type { QuantizeResult } from '../../src/core/quantize/types';
import type { TreeJson } from '../../src/extension/explorer/modelsProvider';
import { writeLargeMatMulModel } from '../../scripts/e2e/large-model';
import { activate, listFiles, onnxOpCounts, scratchPath, waitUntil, workspaceDir, workspaceUri } from './helpers';

interface Api { runningJobs(): string[]; workerPids(): number[] }

/** Arg-max class of each row of a [n, 10] logits output. */
async function predict(model: string, images: Float32Array, n: number): Promise<number[]> {
  const session = await createSession(model, { threads: 1 });
  try {
    const { Tensor } = ort();
    const out = await session.run({ image: new Tensor('float32', images, [n, 1, 8, 8]) });
    const logits = out.logits!.data as Float32Array;
    return Array.from({ length: n }, (_, i) => {
      const row = Array.from(logits.subarray(i * 10, i * 10 + 10));
      return row.indexOf(Math.max(...row));
    });
  } finally {
    await session.release();
  }
}

suite('quantize: command → worker → output file', () => {
  let api: Api;
  suiteSetup(async () => { api = (await activate()) as Api; });

  test('dynamic int8 of digits_mlp writes a smaller model that agrees with the float one', async function () {
    this.timeout(120000);
    const model = workspaceUri('digits_mlp.onnx');
    // Next to the model, so the explorer lists it as a derived file.
    const output = path.join(workspaceDir(), 'digits_mlp.it-dynamic.onnx');
    const result = await vscode.commands.executeCommand<QuantizeResult>('onnxQuantizer.quantizeModel', model, { mode: 'dynamic', output, force: true });
    assert.ok(result, 'quantizeModel returned nothing');
    assert.equal(result.output, output);
    assert.ok(fs.existsSync(output), 'output file missing');
    const inBytes = fs.statSync(model.fsPath).size;
    const outBytes = fs.statSync(output).size;
    assert.equal(result.outputBytes, outBytes, 'reported outputBytes differ from the file size');
    assert.ok(inBytes / outBytes > 3, `only ${(inBytes / outBytes).toFixed(2)}× smaller`);
    assert.ok(Math.abs(result.sizeRatio - inBytes / outBytes) < 0.01 * result.sizeRatio, 'sizeRatio inconsistent with the files');

    const ops = onnxOpCounts(output);
    assert.ok((ops.MatMulInteger ?? 0) + (ops.DynamicQuantizeLinear ?? 0) > 0, `no dynamic quantization ops in ${JSON.stringify(ops)}`);

    const x = readNpy(path.join(workspaceDir(), 'digits_test_x.npy'));
    const n = x.shape[0]!;
    const images = npyToFloat32(x);
    const [float, quant] = [await predict(model.fsPath, images, n), await predict(output, images, n)];
    const agree = float.filter((c, i) => c === quant[i]).length / n;
    assert.ok(agree >= 0.97, `top-1 agreement with the float model only ${(agree * 100).toFixed(1)} %`);

    // The explorer picks the new file up as a derived file of digits_mlp.onnx.
    await waitUntil('digits_mlp.it-dynamic.onnx under "Derived files"', async () => {
      const tree = await vscode.commands.executeCommand<TreeJson[]>('onnxQuantizer._test.getTree');
      const mlp = tree.find((t) => t.label === 'digits_mlp.onnx');
      return mlp?.children?.find((c) => c.label === 'Derived files')?.children?.some((c) => c.label === 'digits_mlp.it-dynamic.onnx');
    }, 30000, 250);
  });

  test('refuses to overwrite an existing output without force', async () => {
    const output = scratchPath('exists.onnx');
    fs.writeFileSync(output, 'keep me');
    await assert.rejects(
      Promise.resolve(vscode.commands.executeCommand('onnxQuantizer.quantizeModel', workspaceUri('digits_mlp.onnx'), { mode: 'dynamic', output })),
      /exist/i,
    );
    assert.equal(fs.readFileSync(output, 'utf8'), 'keep me');
  });

  test('cancelling a running job leaves no output or temp file, and the worker still works', async function () {
    this.timeout(180000);
    const big = scratchPath('large.onnx');
    const dir = path.dirname(big);
    writeLargeMatMulModel(big); // ~100 MB: seconds of work for the worker
    const before = listFiles(dir);
    const output = path.join(dir, 'large.int8.onnx');
    const job = Promise.resolve(vscode.commands.executeCommand('onnxQuantizer.quantizeModel', vscode.Uri.file(big), { mode: 'dynamic', output, force: true }));
    const settled = job.then(() => 'finished', (e: Error) => e);
    await waitUntil('the quantize job to show as running', () => api.runningJobs().length > 0, 20000, 20);
    await vscode.commands.executeCommand('onnxQuantizer.cancelJob');
    const outcome = await settled;
    assert.ok(outcome instanceof Error, `the job ${String(outcome)} instead of being cancelled (model too small to cancel in time?)`);
    assert.match(`${outcome.name} ${outcome.message}`, /cancel/i);
    await waitUntil('no running jobs', () => api.runningJobs().length === 0, 10000);
    assert.deepEqual(listFiles(dir), before, 'cancelled job left files behind');

    const again = scratchPath('after-cancel.onnx');
    const result = await vscode.commands.executeCommand<QuantizeResult>('onnxQuantizer.quantizeModel', workspaceUri('digits_cnn.onnx'), { mode: 'dynamic', output: again, force: true });
    assert.ok(result && fs.existsSync(again), 'a job after the cancellation did not produce its output');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
