/**
 * Special files and huge declarations through the real CLI: a FIFO or a character device given as
 * model, external data, calibration data, evaluation data, labels or output is refused at once
 * (never read without bound, never blocked on, never replaced), tiny models declaring huge inputs
 * ask for data instead of allocating it, and Ctrl-C ends a run blocked in native code.
 * Every run is killed after a hang bound, so a regression fails instead of hanging the suite.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { create } from '@bufbuild/protobuf';
import { makeGraph, makeModel, makeNode, makeValueInfo } from '../../../src/core/onnx/builder';
import { DataType } from '../../../src/core/onnx/dtype';
import { floatTensor, int64Tensor } from '../../../src/core/onnx/tensor';
import { StringStringEntryProtoSchema, TensorProto_DataLocation, TensorProtoSchema } from '../../../src/core/onnx/schema';
import { makeTempDir, writeModelFile } from '../../fixtures/build';
import { ROOT, buildCli, cliEnv, cliPath, runCli, type CliResult } from './inspect-helpers';

const FIXTURES = path.join(ROOT, 'test/fixtures');
const MLP = path.join(FIXTURES, 'digits_mlp.onnx');
const CALIB = path.join(FIXTURES, 'digits_calib_x.npy');
const TEST_X = path.join(FIXTURES, 'digits_test_x.npy');
const TEST_Y = path.join(FIXTURES, 'digits_test_y.npy');
const tmp = makeTempDir('onnxq-special-');
process.on('exit', tmp.cleanup);

/** A run must end by itself well within this; it is killed at HANG_MS. */
const REFUSE_MS = 2000;
const HANG_MS = 15000;

before(() => buildCli());

function fifo(name: string): string {
  const p = path.join(tmp.dir, name);
  execFileSync('mkfifo', [p]);
  return p;
}

function folder(name: string): string {
  const d = path.join(tmp.dir, name);
  fs.mkdirSync(d);
  return d;
}

function assertRefused(r: CliResult, what: string, message: RegExp): void {
  assert.notEqual(r.signal, 'SIGKILL', `${what}: hung (killed after ${HANG_MS} ms)`);
  assert.equal(r.code, 2, `${what}: exit ${r.code}\n${r.stderr}`);
  assert.match(r.stderr, message, what);
  const ms = r.ms ?? Infinity;
  assert.ok(ms < REFUSE_MS, `${what}: refused after ${ms.toFixed(0)} ms`);
}

const notRegular = /is a (FIFO \(named pipe\)|character device), not a regular file/;

test('a FIFO or the zero device as the model is refused, also through a symlink', () => {
  const dir = folder('model');
  const pipe = fifo('model/pipe.onnx');
  fs.symlinkSync('/dev/zero', path.join(dir, 'zero.onnx'));
  for (const model of [pipe, '/dev/zero', path.join(dir, 'zero.onnx')]) {
    assertRefused(runCli(['inspect', model], { timeoutMs: HANG_MS }), `inspect ${model}`, notRegular);
    assertRefused(runCli(['quantize', model, '-o', path.join(dir, 'out.onnx')], { timeoutMs: HANG_MS }), `quantize ${model}`, notRegular);
  }
  assert.deepEqual(fs.readdirSync(dir).sort(), ['pipe.onnx', 'zero.onnx'], 'nothing written');
});

/** A MatMul model whose weight W lives in `weights.bin` next to it (written by `makeData`), with or without `length`. */
function externalModel(dir: string, makeData: (file: string) => void, withLength: boolean): string {
  makeData(path.join(dir, 'weights.bin'));
  const w = create(TensorProtoSchema, { name: 'W', dataType: DataType.FLOAT, dims: [16n, 8n], dataLocation: TensorProto_DataLocation.EXTERNAL });
  w.externalData = [
    create(StringStringEntryProtoSchema, { key: 'location', value: 'weights.bin' }),
    create(StringStringEntryProtoSchema, { key: 'offset', value: '0' }),
    ...(withLength ? [create(StringStringEntryProtoSchema, { key: 'length', value: String(16 * 8 * 4) })] : []),
  ];
  const g = makeGraph([makeNode('MatMul', ['x', 'W'], ['y'])], 'ext', [makeValueInfo('x', DataType.FLOAT, [1, 16])], [makeValueInfo('y', DataType.FLOAT, [1, 8])], [w]);
  return writeModelFile(dir, 'model.onnx', makeModel(g));
}

/** A zero device node inside the folder needs root (mknod); elsewhere the FIFO case stands alone. */
const canMknod = process.getuid?.() === 0;

test('external data that is a FIFO or a device (with or without length) is refused', () => {
  let i = 0;
  const makers: ((file: string) => void)[] = [(f) => execFileSync('mkfifo', [f])];
  if (canMknod) makers.push((f) => execFileSync('mknod', [f, 'c', '1', '5']));
  for (const withLength of [true, false]) {
    for (const makeData of makers) {
      const dir = folder(`ext-${i++}`);
      const model = externalModel(dir, makeData, withLength);
      assertRefused(runCli(['inspect', model], { timeoutMs: HANG_MS }), `inspect, data ${i}`, notRegular);
      assertRefused(runCli(['quantize', model, '-o', path.join(dir, 'q.onnx'), '--mode', 'weight-only'], { timeoutMs: HANG_MS }), `quantize, data ${i}`, notRegular);
      assert.ok(!fs.existsSync(path.join(dir, 'q.onnx')));
    }
  }
});

test('external data whose length disagrees with the tensor is refused before anything is allocated', () => {
  const dir = folder('ext-huge');
  // A sparse 2 GB file: on disk it costs nothing, read it would cost 1.95 GB for a 4×4 tensor.
  const data = path.join(dir, 'weights.bin');
  fs.writeFileSync(data, '');
  fs.truncateSync(data, 2e9);
  const w = create(TensorProtoSchema, { name: 'W', dataType: DataType.FLOAT, dims: [4n, 4n], dataLocation: TensorProto_DataLocation.EXTERNAL });
  w.externalData = [
    create(StringStringEntryProtoSchema, { key: 'location', value: 'weights.bin' }),
    create(StringStringEntryProtoSchema, { key: 'offset', value: '0' }),
    create(StringStringEntryProtoSchema, { key: 'length', value: '1950000000' }),
  ];
  const g = makeGraph([makeNode('MatMul', ['x', 'W'], ['y'])], 'ext', [makeValueInfo('x', DataType.FLOAT, [1, 4])], [makeValueInfo('y', DataType.FLOAT, [1, 4])], [w]);
  const model = writeModelFile(dir, 'model.onnx', makeModel(g));
  assertRefused(runCli(['inspect', model], { timeoutMs: HANG_MS }), 'inspect', /holds 1950000000 bytes, but its shape and type need 64/);
});

test('a FIFO or a device as -o is refused even with --force, and is left as it was', () => {
  const dir = folder('out');
  const model = path.join(dir, 'model.onnx');
  fs.copyFileSync(MLP, model);
  const pipe = fifo('out/q.onnx');
  // In the model's folder, so it is the file's kind that refuses it: a link to the null device, and
  // (as root) a null device node of its own.
  const link = path.join(dir, 'null.onnx');
  fs.symlinkSync('/dev/null', link);
  const node = path.join(dir, 'device.onnx');
  if (canMknod) execFileSync('mknod', [node, 'c', '1', '3']);
  for (const out of [pipe, link, ...(canMknod ? [node] : [])]) {
    assertRefused(runCli(['quantize', model, '-o', out, '--force'], { timeoutMs: HANG_MS }), `-o ${out}`, notRegular);
  }
  assertRefused(runCli(['quantize', model, '-o', '/dev/zero', '--force'], { timeoutMs: HANG_MS }), '-o /dev/zero', /not a regular file|outside the model's folder/);
  assert.ok(fs.statSync(pipe).isFIFO(), 'the FIFO is still a FIFO');
  if (canMknod) assert.ok(fs.statSync(node).isCharacterDevice(), 'the device node is still a device');
  assert.ok(fs.lstatSync(link).isSymbolicLink() && fs.statSync('/dev/null').isCharacterDevice());
  assert.ok(fs.statSync('/dev/zero').isCharacterDevice());
  assert.deepEqual(fs.readdirSync(dir).sort(), ['model.onnx', 'null.onnx', 'q.onnx', ...(canMknod ? ['device.onnx'] : [])].sort(), 'no temporary left');
});

test('calibration data as a FIFO, a device, or a folder whose file links to a device is refused', () => {
  const dir = folder('calib');
  const model = path.join(dir, 'model.onnx');
  fs.copyFileSync(MLP, model);
  const linked = folder('calib/linked');
  fs.symlinkSync('/dev/zero', path.join(linked, 'image.npy'));
  for (const calib of [fifo('calib/x.npy'), '/dev/zero', linked]) {
    const r = runCli(['quantize', model, '-o', path.join(dir, 'q.onnx'), '--mode', 'static', '--calibration-data', calib], { timeoutMs: HANG_MS });
    assertRefused(r, `calibration ${calib}`, notRegular);
  }
  assert.ok(!fs.existsSync(path.join(dir, 'q.onnx')));
});

test('evaluation data and labels as a FIFO or a device are refused by bench, compare and quantize', () => {
  const pipe = fifo('data.npy');
  for (const data of [pipe, '/dev/zero']) {
    assertRefused(runCli(['bench', MLP, '--data', data, '--runs', '1'], { timeoutMs: HANG_MS }), `bench --data ${data}`, notRegular);
    assertRefused(runCli(['compare', MLP, MLP, '--data', data, '--runs', '1'], { timeoutMs: HANG_MS }), `compare --data ${data}`, notRegular);
    assertRefused(runCli(['compare', MLP, MLP, '--data', TEST_X, '--labels', data, '--runs', '1'], { timeoutMs: HANG_MS }), `compare --labels ${data}`, notRegular);
    // quantize reads --data to measure fidelity, --auto-exclude to rank layers, --input FILE.npy to probe.
    const out = path.join(tmp.dir, 'data-q.onnx');
    assertRefused(runCli(['quantize', MLP, '-o', out, '--data', data, '--no-speed-check'], { timeoutMs: HANG_MS }), `quantize --data ${data}`, notRegular);
    assertRefused(runCli(['quantize', MLP, '-o', out, '--auto-exclude', 'sqnr:30', '--data', data, '--no-speed-check'], { timeoutMs: HANG_MS }), `quantize --auto-exclude --data ${data}`, notRegular);
    assert.ok(!fs.existsSync(out), 'no output left');
  }
});

test('--data FOLDER never follows an input name out of the folder', () => {
  const dir = folder('escape');
  // The model's input is named '../secret'; a file of that name sits next to the data folder.
  const g = makeGraph([makeNode('Relu', ['../secret'], ['y'])], 'g', [makeValueInfo('../secret', DataType.FLOAT, [1, 784])], [makeValueInfo('y', DataType.FLOAT, [1, 784])]);
  const model = writeModelFile(dir, 'model.onnx', makeModel(g));
  const data = folder('escape/data');
  fs.copyFileSync(TEST_X, path.join(dir, 'secret.npy'));
  const r = runCli(['bench', model, '--data', data, '--runs', '1'], { timeoutMs: HANG_MS });
  assertRefused(r, 'bench --data', /has no '\.\.\/secret\.npy'/);
});

test('a tiny model declaring a billion-element input asks for data instead of allocating it', () => {
  const dir = folder('huge-input');
  const w = floatTensor('W', [1, 1], [2]);
  const g = makeGraph([makeNode('Mul', ['x', 'W'], ['y'])], 'g', [makeValueInfo('x', DataType.FLOAT, [1, 1e9])], [makeValueInfo('y', DataType.FLOAT, [1, 1e9])], [w]);
  const model = writeModelFile(dir, 'model.onnx', makeModel(g));
  assertRefused(runCli(['bench', model, '--runs', '1'], { timeoutMs: HANG_MS }), 'bench', /too many to generate.*--data/);
  assertRefused(runCli(['compare', model, model, '--runs', '1'], { timeoutMs: HANG_MS }), 'compare', /too many to generate.*--data/);
  assertRefused(runCli(['quantize', model, '-o', path.join(dir, 'q.onnx'), '--mode', 'fp16'], { timeoutMs: HANG_MS }), 'quantize', /too many to generate.*--no-validate/);
  assert.ok(!fs.existsSync(path.join(dir, 'q.onnx')), 'no output left');
});

test('Ctrl-C and SIGTERM end a run blocked in ONNX Runtime within 1 s', async () => {
  // A Loop of 1e10 iterations: bench's first run never returns from the native call.
  const body = makeGraph(
    [makeNode('Add', ['acc_in', 'one'], ['acc_out']), makeNode('Identity', ['cond_in'], ['cond_out'])],
    'body',
    [makeValueInfo('i', DataType.INT64, []), makeValueInfo('cond_in', DataType.BOOL, []), makeValueInfo('acc_in', DataType.FLOAT, [1, 4])],
    [makeValueInfo('cond_out', DataType.BOOL, []), makeValueInfo('acc_out', DataType.FLOAT, [1, 4])],
    [floatTensor('one', [1, 4], [1, 1, 1, 1])],
  );
  const cond = create(TensorProtoSchema, { name: 'cond', dataType: DataType.BOOL, dims: [], rawData: new Uint8Array([1]) });
  const g = makeGraph([makeNode('Loop', ['trips', 'cond', 'x'], ['y'], { body })], 'loop', [makeValueInfo('x', DataType.FLOAT, [1, 4])], [makeValueInfo('y', DataType.FLOAT, [1, 4])], [
    int64Tensor('trips', [], [10_000_000_000n]),
    cond,
  ]);
  const model = writeModelFile(folder('blocked'), 'loop.onnx', makeModel(g));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const child = spawn(process.execPath, [cliPath(), 'bench', model, '--runs', '1', '--warmup', '0'], { env: cliEnv(), stdio: 'ignore' });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, sig) => resolve({ code, signal: sig })));
    await new Promise((r) => setTimeout(r, 2500)); // well inside the endless run
    assert.equal(child.exitCode, null, 'still running before the signal');
    const sent = performance.now();
    child.kill(signal);
    const hang = setTimeout(() => child.kill('SIGKILL'), 5000);
    const end = await exited;
    clearTimeout(hang);
    const ms = performance.now() - sent;
    assert.equal(end.signal, signal, `ended by ${signal} (got ${JSON.stringify(end)})`);
    assert.ok(ms < 1000, `${signal}: ended after ${ms.toFixed(0)} ms`);
  }
});
