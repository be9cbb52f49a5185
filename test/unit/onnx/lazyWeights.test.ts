import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { toBinary } from '@bufbuild/protobuf';
import { InputError } from '../../../src/core/errors';
import { loadModel } from '../../../src/core/onnx/model';
import { LAZY_RAW_DATA_BYTES } from '../../../src/core/onnx/lazyWeights';
import { saveModel } from '../../../src/core/onnx/save';
import { ModelProtoSchema, type TensorProto } from '../../../src/core/onnx/schema';
import { summarizeModel } from '../../../src/core/analysis/summary';
import { mlpModel } from '../../fixtures/build/models';
import { makeTempDir, writeModelFile } from '../../fixtures/build/files';

const { dir, cleanup } = makeTempDir('onnxq-lazy-');
after(cleanup);

const bytesOf = (file: string, lazyWeights: boolean) => toBinary(ModelProtoSchema, loadModel(file, { lazyWeights }).proto);
const deferred = (t: TensorProto) => typeof Object.getOwnPropertyDescriptor(t, 'rawData')?.get === 'function';

// 256×256 float weights (256 KiB, read on demand) and a 256×10 one with biases (kept inline).
const proto = mlpModel({ widths: [256, 256, 256, 10] });
const pieces = path.join(dir, 'pieces.onnx');
saveModel(proto, pieces); // the graph written in pieces: one graph field per initializer
const whole = writeModelFile(dir, 'whole.onnx', proto); // one graph field

test('lazy weights: the same model as a full load (graph in one piece or in many), large raw_data deferred', () => {
  for (const file of [pieces, whole]) {
    assert.deepEqual(bytesOf(file, true), bytesOf(file, false), file);
    const inits = loadModel(file, { lazyWeights: true }).proto.graph?.initializer ?? [];
    assert.deepEqual(inits.filter(deferred).map((t) => t.name), ['W0', 'W1']);
    assert.ok(inits.filter((t) => !deferred(t)).every((t) => t.rawData.length < LAZY_RAW_DATA_BYTES));
  }
});

test('lazy weights: the bytes are read from the file at first use, and inspect reports the same with statistics', () => {
  const file = path.join(dir, 'late.onnx');
  fs.copyFileSync(pieces, file);
  const lazy = loadModel(file, { lazyWeights: true });
  const full = loadModel(file);
  const w0 = lazy.proto.graph?.initializer.find((t) => t.name === 'W0');
  assert.ok(w0 && deferred(w0));
  assert.deepEqual(summarizeModel(lazy, { stats: true }), summarizeModel(full, { stats: true }));
  // Read once: rewriting the file afterwards changes nothing, assigning replaces the bytes.
  const before = Buffer.from(w0.rawData);
  fs.writeFileSync(file, Buffer.alloc(fs.statSync(file).size));
  assert.equal(Buffer.compare(Buffer.from(w0.rawData), before), 0);
  w0.rawData = new Uint8Array(4);
  assert.equal(w0.rawData.length, 4);
});

test('lazy weights: every fixture and Debian pytorch-converted model loads identically', () => {
  const fixtures = fs.readdirSync(path.join(__dirname, '../../fixtures')).filter((f) => f.endsWith('.onnx')).map((f) => path.join(__dirname, '../../fixtures', f));
  const debian = '/usr/share/libonnx-testdata/data/pytorch-converted';
  const converted = fs.existsSync(debian) ? fs.readdirSync(debian).map((d) => path.join(debian, d, 'model.onnx')).filter((f) => fs.existsSync(f)) : [];
  for (const file of [...fixtures, ...converted]) assert.deepEqual(bytesOf(file, true), bytesOf(file, false), file);
  assert.ok(fixtures.length >= 4);
});

test('lazy weights: a truncated or non-ONNX file gets the full parser\'s error', () => {
  const truncated = path.join(dir, 'truncated.onnx');
  const bytes = fs.readFileSync(whole);
  fs.writeFileSync(truncated, bytes.subarray(0, bytes.length - 1000));
  const junk = path.join(dir, 'junk.onnx');
  fs.writeFileSync(junk, 'not a model at all, just some text\n');
  for (const file of [truncated, junk]) {
    let fullError: Error | undefined;
    try {
      loadModel(file);
    } catch (e) {
      fullError = e as Error;
    }
    assert.ok(fullError instanceof InputError, file);
    assert.throws(() => loadModel(file, { lazyWeights: true }), (e: unknown) => e instanceof InputError && e.message === fullError?.message);
  }
});
