/**
 * The opset converter (src/core/onnx/opset) on real artefacts: a sample of Debian's ONNX backend
 * test models below opset 13, converted to 13 and 11 and run in ONNX Runtime against the test's
 * expected outputs (the full sweep is `npm run sweep:opset`); and small built models for the
 * adapters no backend model exercises, each compared with the original in ONNX Runtime or with
 * values computed here. Refusals name the op, the node and the opsets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toBinary } from '@bufbuild/protobuf';
import { InputError } from '../../../src/core/errors';
import { makeGraph, makeModel, makeNode, makeValueInfo, opsetVersion } from '../../../src/core/onnx/builder';
import { DataType } from '../../../src/core/onnx/dtype';
import { convertOpset } from '../../../src/core/onnx/opset';
import { ModelProtoSchema, type ModelProto } from '../../../src/core/onnx/schema';
import { floatTensor } from '../../../src/core/onnx/tensor';
import { ort, type OrtTensor } from '../../../src/core/runtime/ort';
import { checkCase } from '../../sweep/opsetSweep';
import { runProto, testdataInstalled } from '../../sweep/backendCases';
import { defined } from '../../defined';

/** One backend case per adapter family the backend models exercise (coerced-2D softmaxes, attributes that became inputs, Upsample → Resize...). */
const SAMPLE = [
  'node/test_dropout_default_old', 'node/test_scatter_with_axis', 'node/test_upsample_nearest', 'node/test_unsqueeze_axis_3', 'node/test_loop11',
  'node/test_scan9_sum', 'pytorch-converted/test_AvgPool1d', 'pytorch-converted/test_BatchNorm2d_eval', 'pytorch-converted/test_ConstantPad2d',
  'pytorch-converted/test_ReflectionPad2d', 'pytorch-converted/test_Linear', 'pytorch-converted/test_log_softmax_dim3', 'pytorch-converted/test_PReLU_2d_multiparam',
  'pytorch-converted/test_Softmax', 'pytorch-converted/test_softmax_functional_dim3', 'pytorch-converted/test_Conv2d', 'pytorch-operator/test_operator_add_broadcast',
  'pytorch-operator/test_operator_chunk', 'pytorch-operator/test_operator_clip', 'pytorch-operator/test_operator_index', 'pytorch-operator/test_operator_reduced_sum_keepdim',
  'simple/test_single_relu_model',
];

test('backend test models below opset 13: converted to 13 and 11, outputs equal the expected ones', { skip: !testdataInstalled() && 'libonnx-testdata not installed' }, async () => {
  const bad: string[] = [];
  let converted = 0;
  for (const id of SAMPLE) {
    for (const o of await checkCase(id, [13, 11])) {
      if (o.verdict === 'converted') converted++;
      else bad.push(`${o.id} → ${o.target}: ${o.verdict} ${o.detail ?? ''}`);
    }
  }
  assert.deepEqual(bad, []);
  assert.ok(converted >= SAMPLE.length, `${converted} conversions checked`);
});

test('a batched opset-8 Scan is refused with the op, node and opsets named', { skip: !testdataInstalled() && 'libonnx-testdata not installed' }, async () => {
  const [o] = await checkCase('node/test_scan_sum', [13]);
  assert.equal(defined(o, 'outcome').verdict, 'refused');
  assert.match(defined(o?.detail, 'refusal detail'), /cannot convert the model from opset 8 to 13: Scan node 'y' is the batched Scan of opset 8/);
});

const f32 = (values: number[], dims: number[]) => new (ort().Tensor)('float32', Float32Array.from(values), dims);
const values = (t: OrtTensor) => Array.from(t.data as ArrayLike<number | bigint>, Number);

function model(nodes: ReturnType<typeof makeNode>[], opset: number, inputs: [string, number[]][], outputs: (string | [string, number])[], inits = [] as ReturnType<typeof floatTensor>[], ir = 3): ModelProto {
  const graph = makeGraph(
    nodes,
    'g',
    inputs.map(([n, d]) => makeValueInfo(n, DataType.FLOAT, d)),
    outputs.map((o) => (typeof o === 'string' ? makeValueInfo(o, DataType.FLOAT) : makeValueInfo(o[0], o[1]))),
    inits,
  );
  return makeModel(graph, { '': opset }, { irVersion: ir });
}

/** Original and converted outputs in ONNX Runtime (both must run). */
async function sameInOrt(proto: ModelProto, target: number, feeds: Record<string, OrtTensor>): Promise<number> {
  const before = await runProto(proto, feeds);
  const { proto: after, conversion } = convertOpset(proto, target);
  assert.equal(opsetVersion(after, ''), target);
  const out = await runProto(after, feeds);
  before.forEach((t, i) => assert.deepEqual(values(defined(out[i], `output ${i}`)), values(t), `output ${i}`));
  return conversion.rewrittenNodes;
}

test('Upsample-7 (scales attribute, linear) → Resize-13 with asymmetric coordinates: same outputs', async () => {
  const m = model([makeNode('Upsample', ['x'], ['y'], { scales: { floats: [1, 1, 2, 3] }, mode: 'linear' })], 7, [['x', [1, 1, 2, 2]]], ['y']);
  assert.equal(await sameInOrt(m, 13, { x: f32([1, 2, 3, 4], [1, 1, 2, 2]) }), 1);
  assert.equal(defined(convertOpset(m, 13).proto.graph?.node.at(-1), 'last node').opType, 'Resize');
});

test('Resize-10 nearest downsampling (ceil of the source pixel) and Hardmax-11 on axis 1 of a 3-D input: same outputs at 13', async () => {
  const scales = floatTensor('scales', [4], [1, 1, 0.6, 0.6]);
  const resize = model([makeNode('Resize', ['x', 'scales'], ['y'], { mode: 'nearest' })], 10, [['x', [1, 1, 5, 5]]], ['y'], [scales], 5);
  assert.equal(await sameInOrt(resize, 13, { x: f32(Array.from({ length: 25 }, (_, i) => i), [1, 1, 5, 5]) }), 1);
  const hardmax = model([makeNode('Hardmax', ['x'], ['y'], { axis: 1 })], 11, [['x', [2, 3, 2]]], ['y'], [], 6);
  assert.equal(await sameInOrt(hardmax, 13, { x: f32([1, 5, 2, 0, 3, 9, 4, 4, 8, 1, 0, 2], [2, 3, 2]) }), 1);
});

test('opset 1 attribute forms (Reshape shape, Cast to "INT32", Concat default axis, TopK k) become opset-13 nodes that compute what they meant', async () => {
  const m = model(
    [
      makeNode('Reshape', ['x'], ['r'], { shape: [3, 2] }),
      makeNode('Concat', ['r', 'r'], ['c']),
      makeNode('TopK', ['c'], ['top', 'idx'], { k: 2 }),
      makeNode('Cast', ['top'], ['y'], { to: 'INT32' }),
    ],
    1,
    [['x', [2, 3]]],
    [['y', DataType.INT32]],
  );
  const { proto, conversion } = convertOpset(m, 13);
  assert.equal(conversion.rewrittenNodes, 4);
  const [y] = await runProto(proto, { x: f32([1.5, 6, 2, 8, 3, 4], [2, 3]) });
  // Reshape → [[1.5, 6], [2, 8], [3, 4]]; Concat on axis 1 → rows [1.5, 6, 1.5, 6] ...; top 2 per row, cast to int32.
  const out = defined(y, 'output y');
  assert.equal(out.type, 'int32');
  assert.deepEqual(out.dims, [3, 2]);
  assert.deepEqual(values(out), [6, 6, 8, 8, 4, 4]);
});

test('If branches (subgraphs) are converted too; ops of other domains are left alone; the input model is not modified', async () => {
  const branch = (name: string, axis: number) =>
    makeGraph([makeNode('Unsqueeze', ['x'], [`${name}_y`], { axes: [axis] })], name, [], [makeValueInfo(`${name}_y`, DataType.FLOAT)]);
  const graph = makeGraph(
    [
      makeNode('If', ['cond'], ['u'], { then_branch: branch('then', 0), else_branch: branch('else', 2) }),
      makeNode('Gelu', ['u'], ['g'], {}, { domain: 'com.microsoft' }),
      makeNode('ReduceSum', ['g'], ['y'], { axes: [0], keepdims: 0 }),
    ],
    'g',
    [makeValueInfo('cond', DataType.BOOL, []), makeValueInfo('x', DataType.FLOAT, [2, 2])],
    [makeValueInfo('y', DataType.FLOAT)],
  );
  const m = makeModel(graph, { '': 11, 'com.microsoft': 1 }, { irVersion: 6 });
  const bytes = toBinary(ModelProtoSchema, m);
  const { proto, conversion } = convertOpset(m, 13);
  assert.deepEqual(Buffer.from(toBinary(ModelProtoSchema, m)), Buffer.from(bytes), 'input untouched');
  assert.deepEqual(conversion.byOpType, { Unsqueeze: 2, ReduceSum: 1 });
  const gelu = defined(proto.graph?.node.find((n) => n.opType === 'Gelu'), 'Gelu node');
  assert.equal(gelu.domain, 'com.microsoft');
  assert.equal(defined(proto.opsetImport.find((o) => o.domain === 'com.microsoft'), 'com.microsoft opset').version, 1n);
  for (const cond of [true, false]) {
    const feeds = { cond: new (ort().Tensor)('bool', Uint8Array.of(cond ? 1 : 0), []), x: f32([1, -2, 3, 0.5], [2, 2]) };
    const [a] = await runProto(m, feeds);
    const [b] = await runProto(proto, feeds);
    assert.deepEqual(values(defined(b, 'converted output')), values(defined(a, 'original output')));
  }
});

test('no exact equivalent, no conversion: BatchNormalization spatial=0, an experimental op, split sizes computed at run time', () => {
  const bn = model(
    [makeNode('BatchNormalization', ['x', 's', 'b', 'm', 'v'], ['y'], { spatial: 0 })],
    7,
    [['x', [1, 2, 2]]],
    ['y'],
    ['s', 'b', 'm', 'v'].map((n) => floatTensor(n, [2, 2], [1, 1, 1, 1])),
  );
  assert.throws(() => convertOpset(bn, 13), (e: unknown) => e instanceof InputError && /from opset 7 to 13: BatchNormalization node 'y' uses spatial=0/.test((e as Error).message));
  const experimental = model([makeNode('ImageScaler', ['x'], ['y'], { scale: { float: 2 } })], 6, [['x', [1, 1, 2, 2]]], ['y']);
  assert.throws(() => convertOpset(experimental, 11), (e: unknown) => e instanceof InputError && /ImageScaler node 'y' is not an ai.onnx operator at opset 6/.test((e as Error).message));
  const split = model([makeNode('Split', ['x', 'sizes'], ['a', 'b'], { axis: 0 })], 1, [['x', [4]], ['sizes', [2]]], ['a', 'b']);
  assert.throws(() => convertOpset(split, 13), (e: unknown) => e instanceof InputError && /Split node 'a' takes its split sizes from a tensor computed at run time/.test((e as Error).message));
});
