import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { makeGraph, makeNode, makeValueInfo } from '../../../../src/core/onnx/builder';
import { DataType } from '../../../../src/core/onnx/dtype';
import { loadModel } from '../../../../src/core/onnx/model';
import { int64Tensor } from '../../../../src/core/onnx/tensor';
import { inferElemTypes } from '../../../../src/core/quantize/static/inferTypes';

test('element types propagate through float, shape and cast ops; unknown ops stay untyped', () => {
  const g = makeGraph(
    [
      makeNode('Relu', ['x'], ['r']),
      makeNode('Shape', ['r'], ['s']),
      makeNode('Gather', ['s', 'idx'], ['d']),
      makeNode('Cast', ['d'], ['df'], { to: DataType.FLOAT }),
      makeNode('Greater', ['r', 'df'], ['mask']),
      makeNode('Where', ['mask', 'r', 'df'], ['w']),
      makeNode('MaxPool', ['r'], ['mp', 'ind'], { kernel_shape: [2] }),
      makeNode('Mystery', ['w'], ['m'], {}, { domain: 'custom' }),
    ],
    'g',
    [makeValueInfo('x', DataType.FLOAT, ['n', 4])],
    [makeValueInfo('m', 0)],
    [int64Tensor('idx', [], [0])],
  );
  const t = inferElemTypes(g);
  assert.equal(t.get('r'), DataType.FLOAT);
  assert.equal(t.get('s'), DataType.INT64);
  assert.equal(t.get('d'), DataType.INT64);
  assert.equal(t.get('df'), DataType.FLOAT);
  assert.equal(t.get('mask'), DataType.BOOL);
  assert.equal(t.get('w'), DataType.FLOAT);
  assert.equal(t.get('mp'), DataType.FLOAT);
  assert.equal(t.get('ind'), DataType.INT64);
  assert.equal(t.get('m'), undefined);
});

test('every tensor of the digits LSTM model gets a type (shape arithmetic is int64, activations float)', () => {
  const model = loadModel(path.join(__dirname, '../../../fixtures/digits_lstm.onnx'));
  const t = inferElemTypes(model.proto.graph!);
  for (const n of model.proto.graph!.node) for (const o of n.output) if (o) assert.ok(t.has(o), `${n.opType} output ${o} untyped`);
  assert.equal(t.get('/lstm/Concat_output_0'), DataType.INT64);
  assert.equal(t.get('/lstm/LSTM_1_output_0'), DataType.FLOAT);
  assert.equal(t.get('/Gather_output_0'), DataType.FLOAT);
});
