import { test } from 'node:test';
import assert from 'node:assert/strict';
import { indexModel } from '../../../src/core/onnx/graph-index';
import { makeGraph, makeModel, makeNode, makeValueInfo } from '../../../src/core/onnx/builder';
import { DataType } from '../../../src/core/onnx/dtype';
import { floatTensor } from '../../../src/core/onnx/tensor';
import { mlpModel, subgraphModel } from '../../fixtures/build';

test('node keys: unique names kept; unnamed and duplicate-named nodes take their first output; labels show the name', () => {
  const graph = makeGraph(
    [
      makeNode('MatMul', ['x', 'W'], ['mm'], {}, { name: '' }),
      makeNode('Relu', ['mm'], ['r1'], {}, { name: 'dup' }),
      makeNode('Relu', ['r1'], ['r2'], {}, { name: 'dup' }),
      // An unnamed node whose output equals a unique name elsewhere does not steal it.
      makeNode('Identity', ['r2'], ['keep'], {}, { name: '' }),
      makeNode('Identity', ['keep'], ['y'], {}, { name: 'keep' }),
      makeNode('Constant', [], [''], { value: floatTensor('c', [1], [1]) }, { name: '' }),
    ],
    'g',
    [makeValueInfo('x', DataType.FLOAT, [1, 2])],
    [makeValueInfo('y', DataType.FLOAT, [1, 2])],
    [floatTensor('W', [2, 2], [1, 0, 0, 1])],
  );
  const index = indexModel(makeModel(graph, { '': 17 }));
  assert.deepEqual(
    index.nodes.map((n) => n.key),
    ['mm', 'r1', 'r2', 'Identity_3', 'keep', 'Constant_5'],
  );
  assert.deepEqual(
    index.nodes.map((n) => n.label),
    ['mm', 'dup', 'dup', 'Identity_3', 'keep', 'Constant_5'],
  );
  assert.equal(new Set(index.nodes.map((n) => n.key)).size, index.nodes.length);
  for (const n of index.nodes) {
    assert.equal(index.keyOf(n.node), n.key);
    assert.equal(index.byKey(n.key), n);
  }
});

test('keys are a function of the graph: indexing a copy gives the same keys', () => {
  const a = indexModel(mlpModel()).nodes.map((n) => n.key);
  const b = indexModel(mlpModel()).nodes.map((n) => n.key);
  assert.deepEqual(a, b);
  assert.deepEqual(a, ['matmul_0', 'add_0', 'relu_0', 'matmul_1', 'add_1']);
});

test('producers, consumers, initializers and Constant values', () => {
  const graph = makeGraph(
    [
      makeNode('Constant', [], ['k'], { value: floatTensor('kval', [1], [2]) }, { name: 'const' }),
      makeNode('Mul', ['x', 'k'], ['m'], {}, { name: 'mul' }),
      makeNode('Add', ['m', 'm'], ['y'], {}, { name: 'add' }),
    ],
    'g',
    [makeValueInfo('x', DataType.FLOAT, [1])],
    [makeValueInfo('y', DataType.FLOAT, [1])],
    [floatTensor('unused', [1], [0])],
  );
  const index = indexModel(makeModel(graph, { '': 17 }));
  assert.equal(index.producer('m')?.key, 'mul');
  assert.equal(index.producer('x'), undefined);
  assert.deepEqual(index.consumers('m').map((n) => n.key), ['add'], 'a node reading a tensor twice is listed once');
  assert.deepEqual(index.consumers('k').map((n) => n.key), ['mul']);
  assert.equal(index.constant('k')?.kind, 'constant');
  assert.equal(index.constant('k')?.tensor.name, 'kval');
  assert.equal(index.initializer('k'), undefined);
  assert.equal(index.initializer('unused')?.name, 'unused');
  assert.ok(index.graphOutputs.has('y'));
});

test('subgraph scopes: bodies with their owner, path-carrying keys and outer-scope names', () => {
  const index = indexModel(subgraphModel());
  assert.deepEqual(
    index.scopes.map((s) => [s.depth, s.owner?.key ?? '', s.owner?.attribute ?? '', s.path]),
    [
      [0, '', '', ''],
      [1, 'if_node', 'then_branch', 'if_node/then_branch/'],
      [1, 'if_node', 'else_branch', 'if_node/else_branch/'],
      [1, 'loop_node', 'body', 'loop_node/body/'],
    ],
  );
  assert.deepEqual(
    index.nodes.map((n) => n.key),
    ['if_node', 'loop_node', 'if_node/then_branch/then_add', 'if_node/else_branch/else_mul', 'loop_node/body/body_cond', 'loop_node/body/body_add', 'loop_node/body/body_relu'],
  );
  assert.equal(index.byKey('if_node/then_branch/then_add')?.label, 'then_add');
  const [, thenScope, , body] = index.scopes;
  assert.deepEqual([...(thenScope?.outerNames ?? [])], ['x']);
  assert.deepEqual([...(body?.outerNames ?? ['missing'])], []);
  assert.deepEqual([...(index.scopes[0]?.outerNames ?? ['missing'])], []);
  // The If reads x through its branches: it consumes x, as do the branch nodes.
  assert.deepEqual(index.consumers('x').map((n) => n.key).sort(), ['if_node', 'if_node/else_branch/else_mul', 'if_node/then_branch/then_add']);
  assert.equal(index.initializer('c_then')?.name, 'c_then');
  assert.equal(index.constant('step')?.scope, body);
});

test('an empty model gives an empty index', () => {
  const index = indexModel(makeModel(makeGraph([], 'g', [], []), { '': 17 }));
  assert.equal(index.nodes.length, 0);
  assert.equal(index.scopes.length, 1);
});
