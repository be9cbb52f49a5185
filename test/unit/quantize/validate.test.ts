import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { quantizeFile } from '../../../src/core/quantize/index';
import { InputError } from '../../../src/core/errors';
import { makeGraph, makeModel, makeNode, makeValueInfo } from '../../../src/core/onnx/builder';
import { DataType } from '../../../src/core/onnx/dtype';
import { saveModel } from '../../../src/core/onnx/save';
import { floatTensor, int64Tensor } from '../../../src/core/onnx/tensor';
import { seededRandom } from '../../../src/core/util/random';
import { runModel, tempDir } from './helpers';
import { randomWeights } from './models';

const dir = tempDir('validate');
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const rand = seededRandom(5);

/** audio [1, length] → Pad(reflect, 8 each side) → frames of 16 → MatMul → Relu → MatMul. Length 1 cannot be reflect-padded. */
function padReflectModel(file: string): string {
  const graph = makeGraph(
    [
      makeNode('Pad', ['audio', 'pads'], ['padded'], { mode: 'reflect' }, { name: 'pad' }),
      makeNode('Reshape', ['padded', 'frame_shape'], ['frames'], {}, { name: 'frame' }),
      makeNode('MatMul', ['frames', 'w1'], ['h'], {}, { name: 'fc1' }),
      makeNode('Relu', ['h'], ['a'], {}, { name: 'relu' }),
      makeNode('MatMul', ['a', 'w2'], ['y'], {}, { name: 'fc2' }),
    ],
    'pad_reflect',
    [makeValueInfo('audio', DataType.FLOAT, [1, 'length'])],
    [makeValueInfo('y', DataType.FLOAT, [null, 4])],
    [
      int64Tensor('pads', [4], [0, 8, 0, 8]),
      int64Tensor('frame_shape', [2], [-1, 16]),
      floatTensor('w1', [16, 32], randomWeights(16 * 32, 0.3, rand)),
      floatTensor('w2', [32, 4], randomWeights(32 * 4, 0.3, rand)),
    ],
  );
  saveModel(makeModel(graph, { '': 18 }), file, { force: true });
  return file;
}

/** y = a / b (nothing to quantize); with `zero`, b − b is the divisor: NaN on any input. */
function divModel(file: string, zero = false): string {
  const nodes = zero
    ? [makeNode('Sub', ['b', 'b'], ['z'], {}, { name: 'zero' }), makeNode('Div', ['a', 'z'], ['y'], {}, { name: 'div' })]
    : [makeNode('Div', ['a', 'b'], ['y'], {}, { name: 'div' })];
  const graph = makeGraph(
    nodes,
    'div',
    [makeValueInfo('a', DataType.FLOAT, ['batch', 'n']), makeValueInfo('b', DataType.FLOAT, ['batch', 'n'])],
    [makeValueInfo('y', DataType.FLOAT, ['batch', 'n'])],
  );
  saveModel(makeModel(graph, { '': 17 }), file, { force: true });
  return file;
}

/** x [1, 16] → MatMul, scaled by sqrt(cutoff_hz − 8000): NaN unless the scalar int64 cutoff is realistic (not named as a sample rate, which the probe would default to 16000). */
function sampleRateModel(file: string): string {
  const graph = makeGraph(
    [
      makeNode('MatMul', ['x', 'w'], ['h'], {}, { name: 'fc' }),
      makeNode('Cast', ['cutoff_hz'], ['sr'], { to: DataType.FLOAT }, { name: 'cast' }),
      makeNode('Sub', ['sr', 'base'], ['excess'], {}, { name: 'sub' }),
      makeNode('Sqrt', ['excess'], ['scale'], {}, { name: 'sqrt' }),
      makeNode('Mul', ['h', 'scale'], ['y'], {}, { name: 'scale_out' }),
    ],
    'cutoff_hz',
    [makeValueInfo('x', DataType.FLOAT, [1, 16]), makeValueInfo('cutoff_hz', DataType.INT64, [])],
    [makeValueInfo('y', DataType.FLOAT, [1, 8])],
    [floatTensor('w', [16, 8], randomWeights(16 * 8, 0.3, rand)), floatTensor('base', [], [8000])],
  );
  saveModel(makeModel(graph, { '': 17 }), file, { force: true });
  return file;
}

const isProbeFault = (input: string) => (e: unknown) =>
  e instanceof InputError && /float model itself fails/.test(e.message) && new RegExp(`'${input}'`).test(e.message) && /Nothing was written/.test(e.message);

test('Pad(reflect) on a symbolic length: the default probe (length 128) validates; a stated length of 1 is the probe\'s fault', async () => {
  const src = padReflectModel(path.join(dir, 'pad.onnx'));
  const out = path.join(dir, 'pad.int8.onnx');
  const r = await quantizeFile(src, out, { mode: 'dynamic' });
  assert.equal(r.quantizedNodes, 2);
  assert.match(r.inputShapes!, /audio \[1, 128\] \(length=128/);
  // The quantized model runs and stays close to float on a real-length input.
  const audio = Float32Array.from({ length: 400 }, (_, i) => Math.sin(i / 7));
  const f = await runModel(src, { audio: { type: 'float32', data: audio, dims: [1, 400] } });
  const q = await runModel(out, { audio: { type: 'float32', data: audio, dims: [1, 400] } });
  assert.equal(q.length, f.length);
  assert.ok(q.every((v, i) => Math.abs(v - f[i]!) < 0.1));

  const bad = path.join(dir, 'pad.bad.onnx');
  await assert.rejects(quantizeFile(src, bad, { mode: 'dynamic', inputs: { shapes: { audio: [1, 1] } } }), isProbeFault('audio'));
  assert.equal(fs.existsSync(bad), false);
});

test('a Div model quantizes by default; one that gives NaN on every input has nothing quantized and is never refused', async () => {
  const r = await quantizeFile(divModel(path.join(dir, 'div.onnx')), path.join(dir, 'div.q.onnx'), { mode: 'dynamic' });
  assert.equal(r.quantizedNodes, 0);
  assert.match(r.inputShapes!, /a \[1, 128\]/);

  const nan = divModel(path.join(dir, 'div_nan.onnx'), true);
  const out = path.join(dir, 'div_nan.q.onnx');
  const n = await quantizeFile(nan, out, { mode: 'dynamic' });
  assert.equal(n.quantizedNodes, 0);
  assert.ok(fs.existsSync(out));
  assert.ok(n.warnings.some((w) => /validation skipped: nothing was quantized/.test(w)), n.warnings.join('\n'));
});

test('a scalar int64 input: the default probe value is the probe\'s fault (named), --input cutoff_hz=16000 quantizes', async () => {
  const src = sampleRateModel(path.join(dir, 'sr.onnx'));
  const out = path.join(dir, 'sr.int8.onnx');
  await assert.rejects(quantizeFile(src, out, { mode: 'dynamic' }), (e: unknown) => isProbeFault('cutoff_hz')(e) && !/'x'/.test((e as Error).message));
  assert.equal(fs.existsSync(out), false);
  const r = await quantizeFile(src, out, { mode: 'dynamic', inputs: { values: { cutoff_hz: '16000' } } });
  assert.equal(r.quantizedNodes, 1);
  const x = Float32Array.from({ length: 16 }, (_, i) => i / 16);
  const feeds = { x: { type: 'float32' as const, data: x, dims: [1, 16] }, cutoff_hz: { type: 'int64' as const, data: BigInt64Array.from([16000n]), dims: [] } };
  const f = await runModel(src, feeds);
  const q = await runModel(out, feeds);
  assert.ok(q.every((v, i) => Number.isFinite(v) && Math.abs(v - f[i]!) < 0.05 * Math.max(1, Math.abs(f[i]!))));
});

const ROOT = path.join(__dirname, '../../..');
const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), ...args], { encoding: 'utf8', cwd: ROOT });

test('CLI: a bad probe exits 2 naming the input and writes nothing; --input / --input-shape fix it', () => {
  const src = sampleRateModel(path.join(dir, 'sr_cli.onnx'));
  const out = path.join(dir, 'sr_cli.int8.onnx');
  let r = cli(['quantize', src, '-o', out]);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /^error: validation: .*input 'cutoff_hz' needs a real shape or value \(--input cutoff_hz=VALUE\)/m);
  assert.equal(fs.existsSync(out), false);
  r = cli(['quantize', src, '-o', out, '--input', 'cutoff_hz=16000', '--json']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(JSON.parse(r.stdout).inputShapes, /cutoff_hz \[\]/);

  const pad = padReflectModel(path.join(dir, 'pad_cli.onnx'));
  r = cli(['quantize', pad, '-o', path.join(dir, 'pad_cli.q.onnx'), '--input-shape', 'audio=1x1']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /'audio' needs a real shape or value/);
  r = cli(['quantize', pad, '-o', path.join(dir, 'pad_cli.q.onnx'), '--input-shape', 'audio=1x48']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /probe inputs\s+audio \[1, 48\] \(stated\)/);
  r = cli(['quantize', pad, '-o', path.join(dir, 'pad_cli.q2.onnx'), '--input-shape', 'voice=1x48']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /no input 'voice' \(its inputs: audio\)/);
});
