import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { quantizeFile } from '../../../src/core/quantize/index';
import { CancelledError, InputError, WorkError } from '../../../src/core/errors';
import { makeGraph, makeModel, makeNode, makeValueInfo } from '../../../src/core/onnx/builder';
import { DataType } from '../../../src/core/onnx/dtype';
import { saveModel } from '../../../src/core/onnx/save';
import { floatTensor } from '../../../src/core/onnx/tensor';
import type { Progress } from '../../../src/core/progress';
import { fixture, tempDir } from './helpers';
import { buildTransformer } from './models';

const dir = tempDir('entry');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function copyFixture(name: string, to: string): string {
  fs.copyFileSync(fixture(name), to);
  return to;
}

test('the input is never the output: same path, another spelling, or a symlink to it', async () => {
  const input = copyFixture('digits_mlp.onnx', path.join(dir, 'mlp.onnx'));
  const bytes = fs.readFileSync(input);
  const link = path.join(dir, 'link.onnx');
  fs.symlinkSync(input, link);
  for (const out of [input, path.join(dir, '.', 'sub', '..', 'mlp.onnx'), link]) {
    await assert.rejects(quantizeFile(input, out, { mode: 'dynamic', force: true }), (e: unknown) => e instanceof InputError && /is the input model/.test((e as Error).message));
  }
  assert.ok(fs.readFileSync(input).equals(bytes), 'input untouched');
});

test('an existing output is replaced only with force', async () => {
  const out = path.join(dir, 'exists.onnx');
  fs.writeFileSync(out, 'keep me');
  await assert.rejects(quantizeFile(fixture('digits_mlp.onnx'), out, { mode: 'dynamic' }), (e: unknown) => e instanceof InputError && /already exists/.test((e as Error).message));
  assert.equal(fs.readFileSync(out, 'utf8'), 'keep me');
  const r = await quantizeFile(fixture('digits_mlp.onnx'), out, { mode: 'dynamic', force: true, speedCheck: false });
  assert.equal(r.quantizedNodes, 3);
  assert.notEqual(fs.readFileSync(out, 'utf8'), 'keep me');
});

test('bad input is an InputError: missing file, not a model', async () => {
  await assert.rejects(quantizeFile(path.join(dir, 'missing.onnx'), path.join(dir, 'o.onnx'), { mode: 'dynamic' }), InputError);
  const junk = path.join(dir, 'junk.onnx');
  fs.writeFileSync(junk, 'this is not protobuf at all');
  await assert.rejects(quantizeFile(junk, path.join(dir, 'o.onnx'), { mode: 'dynamic' }), InputError);
  await assert.rejects(quantizeFile(fixture('digits_mlp.onnx'), path.join(dir, 'o.onnx'), { mode: 'weight-only', blockSize: 48 }), /power of 2/);
});

test('cancel mid-run (external data being streamed) leaves nothing on disk', async () => {
  const sub = path.join(dir, 'cancel');
  fs.mkdirSync(sub);
  const src = path.join(sub, 'model.onnx');
  saveModel(buildTransformer({ vocab: 400, dim: 64, layers: 3, seed: 3 }), src, { externalData: 'always' });
  const before = fs.readdirSync(sub).sort();
  const controller = new AbortController();
  const stages: Progress[] = [];
  await assert.rejects(
    quantizeFile(src, path.join(sub, 'out.onnx'), { mode: 'dynamic' }, {
      signal: controller.signal,
      onProgress: (p) => {
        stages.push(p);
        if (p.stage === 'quantizing' && (p.fraction ?? 0) > 0) controller.abort();
      },
    }),
    CancelledError,
  );
  assert.ok(stages.some((p) => p.stage === 'quantizing' && (p.fraction ?? 0) > 0), 'cancelled mid-run, not before');
  assert.deepEqual(fs.readdirSync(sub).sort(), before);

  // Cancelling while validating removes the already-saved output too.
  const c2 = new AbortController();
  await assert.rejects(
    quantizeFile(src, path.join(sub, 'out.onnx'), { mode: 'dynamic' }, { signal: c2.signal, onProgress: (p) => p.stage === 'validating' && c2.abort() }),
    CancelledError,
  );
  assert.deepEqual(fs.readdirSync(sub).sort(), before);
});

test('a probe the float model fails on is the probe\'s fault: InputError naming the input, nothing written', async () => {
  // Embedding with one row: stated ids 0, 1 index out of range in the float model already.
  const graph = makeGraph(
    [makeNode('Gather', ['table', 'ids'], ['y'], { axis: 0 }, { name: 'embed' })],
    'g',
    [makeValueInfo('ids', DataType.INT64, [2])],
    [makeValueInfo('y', DataType.FLOAT, [2, 16])],
    [floatTensor('table', [1, 16], new Float32Array(16).fill(0.5))],
  );
  const src = path.join(dir, 'bad_gather.onnx');
  saveModel(makeModel(graph, { '': 13 }), src);
  const out = path.join(dir, 'bad_gather_q.onnx');
  await assert.rejects(
    quantizeFile(src, out, { mode: 'dynamic', inputs: { values: { ids: '0,1' } } }),
    (e: unknown) => e instanceof InputError && /float model itself fails/.test((e as Error).message) && /'ids'/.test((e as Error).message),
  );
  assert.equal(fs.existsSync(out), false);
  // The generated probe keeps ids inside the table: validated and written.
  const r = await quantizeFile(src, out, { mode: 'dynamic', speedCheck: false });
  assert.equal(r.quantizedNodes, 1);
  assert.match(r.inputShapes ?? '', /ids \[2\]/);
  assert.ok(!fs.readdirSync(dir).some((f) => f.includes('.tmp-')), 'no temp files left');
});

const ROOT = path.join(__dirname, '../../..');
function cli(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), ...args], { encoding: 'utf8', cwd: ROOT });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

test('CLI quantize: JSON keys of cli.md, exit codes 0 / 2, progress on stderr only', () => {
  const out = path.join(dir, 'cli.onnx');
  let r = cli(['quantize', fixture('digits_mlp.onnx'), '-o', out, '--json', '--no-speed-check', '--exclude-nodes', '/fc3/Gemm']);
  assert.equal(r.code, 0, r.stderr);
  const json = JSON.parse(r.stdout);
  for (const k of ['output', 'inputBytes', 'outputBytes', 'sizeRatio', 'quantizedNodes', 'skippedNodes', 'seconds']) assert.ok(k in json, k);
  assert.equal(json.quantizedNodes, 2);
  assert.deepEqual(json.skippedNodes, [{ node: '/fc3/Gemm', reason: 'excluded by --exclude-nodes' }]);
  assert.match(r.stderr, /quantizing/);

  r = cli(['quantize', fixture('digits_mlp.onnx'), '-o', out, '--json']);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^error: .*already exists/m);

  r = cli(['quantize', fixture('digits_mlp.onnx'), '-o', out, '--mode', 'int3']);
  assert.equal(r.code, 2);
  r = cli(['quantize', fixture('digits_mlp.onnx'), '-o', out, '--force', '--mode', 'weight-only', '--weight-bits', '8', '--block-size', '16', '--no-speed-check']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /quantized nodes\s+3/);
});
