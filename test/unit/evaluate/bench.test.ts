import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { benchModel } from '../../../src/core/evaluate/bench';
import { generateInputData, modelInputs } from '../../../src/core/evaluate/data';
import { InputError } from '../../../src/core/errors';
import { makeGraph, makeModel, makeNode, makeValueInfo } from '../../../src/core/onnx/builder';
import { saveModel } from '../../../src/core/onnx/save';
import { floatTensor } from '../../../src/core/onnx/tensor';
import { fixture, tempDir, TEST_X } from './helpers';

const dir = tempDir('bench');

test('bench on generated inputs: the cli.md keys, ordered percentiles, the threads asked for', async () => {
  const r = await benchModel(fixture('digits_mlp.onnx'), { runs: 30, warmup: 3, threads: 1, batch: 4 });
  for (const k of ['runs', 'batch', 'threads', 'meanMs', 'p50Ms', 'p90Ms', 'p99Ms', 'minMs', 'maxMs']) assert.equal(typeof (r as unknown as Record<string, unknown>)[k], 'number', k);
  assert.equal(r.runs, 30);
  assert.equal(r.batch, 4);
  assert.equal(r.threads, 1);
  assert.equal(r.inputs, 'generated');
  assert.ok(r.minMs > 0 && r.minMs <= r.p50Ms && r.p50Ms <= r.p90Ms && r.p90Ms <= r.p99Ms && r.p99Ms <= r.maxMs);
  assert.ok(r.minMs <= r.meanMs && r.meanMs <= r.maxMs);
});

test('bench on data: the batch comes from the file', async () => {
  const r = await benchModel(fixture('digits_lstm.onnx'), { data: TEST_X, batch: 8, runs: 5, warmup: 1 });
  assert.equal(r.batch, 8);
  assert.equal(r.inputs, 'data');
});

test('token ids are generated inside the embedding table, so Gather never goes out of range', async () => {
  const vocab = 37;
  const graph = makeGraph(
    [makeNode('Gather', ['emb', 'ids'], ['vectors'], {}, { name: 'embed' }), makeNode('ReduceMean', ['vectors'], ['pooled'], { axes: [1], keepdims: 0 }, { name: 'pool' })],
    'tokens',
    [makeValueInfo('ids', 7, ['batch', 'sequence'])],
    [makeValueInfo('pooled', 1, ['batch', 8])],
    [floatTensor('emb', [vocab, 8], Array.from({ length: vocab * 8 }, (_, i) => i / 100))],
  );
  const model = makeModel(graph, { '': 13 });
  const file = path.join(dir, 'tokens.onnx');
  saveModel(model, file, { force: true });
  const data = generateInputData(model, modelInputs(model), 16, { shapes: { ids: [16, 16] } });
  const ids = new BigInt64Array(new Uint8Array(data.arrays.get('ids')!.data).buffer);
  assert.equal(ids.length, 16 * 16);
  assert.ok(ids.every((v) => v >= 0n && v < BigInt(vocab)));
  assert.ok(new Set(ids).size > 10, 'ids spread over the vocabulary');
  const r = await benchModel(file, { batch: 16, runs: 3, warmup: 1 });
  assert.equal(r.batch, 16);
});

test('bad options are input errors', async () => {
  await assert.rejects(benchModel(fixture('digits_mlp.onnx'), { runs: 0 }), InputError);
  await assert.rejects(benchModel(fixture('digits_mlp.onnx'), { data: fixture('digits_test_y.npy') }), InputError);
  await assert.rejects(benchModel(path.join(dir, 'missing.onnx')), InputError);
});
