// The graph view of real models: every node appears once under its index key, edges follow the
// producer → consumer relation, the layout runs top to bottom without overlaps, Q/DQ units fold
// into one node, and a quantized model's tensors carry their scale and zero point.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { quantizeFile } from '../../../src/core/quantize';
import { loadModel } from '../../../src/core/onnx/model';
import { indexModel } from '../../../src/core/onnx/graph-index';
import { buildGraphView } from '../../../src/core/graph/graphView';
import { DAGRE_LIMIT, layoutGraph } from '../../../src/core/graph/layout';
import { isGraphDto } from '../../../src/shared/graphMessages';
import type { GraphDto } from '../../../src/shared/graphMessages';
import { makeGraph, makeModel, makeNode, makeValueInfo } from '../../../src/core/onnx/builder';
import { buildTransformer } from '../quantize/models';

const FIXTURES = path.join(__dirname, '../../fixtures');
const CNN = path.join(FIXTURES, 'digits_cnn.onnx');
const QDQ_CNN = path.join(FIXTURES, 'digits_cnn_static_qnnpack_torch.onnx');

function assertLaidOut(g: GraphDto): void {
  for (const e of g.edges) {
    const a = g.nodes[e.from];
    const b = g.nodes[e.to];
    assert.ok(a && b);
    assert.ok(b.y > a.y, `edge ${a.label} → ${b.label} points down (${a.y} → ${b.y})`);
    assert.ok(e.points.length >= 4);
  }
  // No two boxes overlap.
  const boxes = [...g.nodes].sort((p, q) => p.y - q.y);
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const p = boxes[i];
      const q = boxes[j];
      if (!p || !q) continue;
      if (q.y - q.height / 2 >= p.y + p.height / 2) break;
      const apart = Math.abs(p.x - q.x) >= (p.width + q.width) / 2;
      assert.ok(apart, `${p.label} and ${q.label} overlap`);
    }
  }
  for (const n of g.nodes) {
    assert.ok(n.x - n.width / 2 >= 0 && n.x + n.width / 2 <= g.width + 1e-6, `${n.label} inside the width`);
    assert.ok(n.y - n.height / 2 >= 0 && n.y + n.height / 2 <= g.height + 1e-6, `${n.label} inside the height`);
  }
}

test('digits_cnn: every node once under its index key, edges are the producer → consumer pairs', () => {
  const model = loadModel(CNN);
  const index = indexModel(model.proto);
  const g = layoutGraph(buildGraphView(model));
  assert.ok(isGraphDto(g), 'the DTO passes the webview validator');
  const ops = g.nodes.filter((n) => n.kind === 'op');
  assert.deepEqual(ops.map((n) => n.key), index.nodes.map((n) => n.key));
  assert.deepEqual(g.nodes.filter((n) => n.kind === 'input').map((n) => n.label), ['image']);
  assert.deepEqual(g.nodes.filter((n) => n.kind === 'output').map((n) => n.label), ['logits']);
  for (const e of g.edges) {
    const to = g.nodes[e.to];
    const from = g.nodes[e.from];
    assert.ok(to && from);
    if (from.kind === 'op') assert.equal(index.producer(e.tensor)?.key, from.key);
    assert.ok(to.inputs.includes(e.tensor));
  }
  // The residual Add reads two tensors, so two edges end there.
  const add = g.nodes.findIndex((n) => n.opType === 'Add');
  assert.equal(g.edges.filter((e) => e.to === add).length, 2);
  const conv = ops.find((n) => n.opType === 'Conv');
  assert.ok(conv?.modes.includes('static'));
  assert.equal(conv?.quantized, '');
  const weight = g.tensors.find((t) => t.name === conv?.inputs[1]);
  assert.equal(weight?.kind, 'initializer');
  assert.ok(weight?.stats && weight.stats.max > weight.stats.min);
  assertLaidOut(g);
  assert.equal(g.layoutEngine, 'dagre');
});

test('a QDQ model: units fold into one "int8 Conv" node and quantized tensors carry scale and zero point', () => {
  const model = loadModel(QDQ_CNN);
  const open = layoutGraph(buildGraphView(model));
  const folded = layoutGraph(buildGraphView(model, { collapsed: true }));
  const heads = open.nodes.filter((n, i) => n.unit === i);
  assert.ok(heads.length >= 4, 'the Convs and the Gemm head units');
  assert.ok(heads.every((n) => n.quantized === 'qdq'));
  const members = open.nodes.filter((n, i) => n.unit !== -1 && n.unit !== i);
  assert.ok(members.every((n) => n.opType === 'QuantizeLinear' || n.opType === 'DequantizeLinear'));
  assert.equal(folded.nodes.length, open.nodes.length - members.length);
  const conv = folded.nodes.find((n) => n.opType === 'Conv');
  assert.match(conv?.label ?? '', /^u?int8 Conv$/);
  assert.ok(!folded.nodes.some((n, i) => n.unit !== -1 && n.unit !== i), 'no member left once folded');
  const quantized = folded.tensors.filter((t) => t.quant);
  assert.ok(quantized.length > 0);
  for (const t of quantized) assert.ok(Number.isFinite(Number(t.quant?.scale)) || /values in/.test(t.quant?.scale ?? ''), `${t.name} scale ${t.quant?.scale}`);
  assertLaidOut(folded);
});

test('subgraphs appear when their owner is expanded', () => {
  const body = makeGraph([makeNode('Neg', ['x'], ['y_then'], {}, { name: 'neg' })], 'then', [], [makeValueInfo('y_then', 1, [2])]);
  const other = makeGraph([makeNode('Abs', ['x'], ['y_else'], {}, { name: 'abs' })], 'else', [], [makeValueInfo('y_else', 1, [2])]);
  const graph = makeGraph(
    [makeNode('If', ['c'], ['y'], { then_branch: body, else_branch: other }, { name: 'branch' })],
    'g',
    [makeValueInfo('c', 9, []), makeValueInfo('x', 1, [2])],
    [makeValueInfo('y', 1, [2])],
  );
  const model = { proto: makeModel(graph), path: 'if.onnx' };
  const closed = buildGraphView(model);
  assert.deepEqual(closed.nodes.filter((n) => n.kind === 'op').map((n) => n.key), ['branch']);
  assert.ok(closed.nodes.find((n) => n.key === 'branch')?.expandable);
  const open = layoutGraph(buildGraphView(model, { expanded: ['branch'] }));
  assert.deepEqual(open.nodes.filter((n) => n.kind === 'op').map((n) => n.key), ['branch', 'branch/then_branch/neg', 'branch/else_branch/abs']);
  // The bodies read x from the outer scope: its input marker feeds them.
  const x = open.nodes.findIndex((n) => n.kind === 'input' && n.label === 'x');
  const neg = open.nodes.findIndex((n) => n.key === 'branch/then_branch/neg');
  assert.ok(open.edges.some((e) => e.from === x && e.to === neg));
  assert.deepEqual(open.expanded, ['branch']);
  assertLaidOut(open);
});

test('graphs above the dagre limit get the layered layout, still top to bottom without overlaps', () => {
  const n = DAGRE_LIMIT + 500;
  const nodes = [];
  for (let i = 0; i < n; i++) {
    const skip = i >= 3 && i % 3 === 0 ? [`t${i - 3}`] : [];
    nodes.push(makeNode(i % 3 === 0 ? 'Add' : 'Relu', [i === 0 ? 'x' : `t${i - 1}`, ...skip], [`t${i}`], {}, { name: `n${i}` }));
  }
  const graph = makeGraph(nodes, 'chain', [makeValueInfo('x', 1, [4])], [makeValueInfo(`t${n - 1}`, 1, [4])]);
  const g = layoutGraph(buildGraphView({ proto: makeModel(graph), path: 'chain.onnx' }, { stats: false }));
  assert.equal(g.layoutEngine, 'layered');
  assert.equal(g.nodes.length, n + 2);
  assertLaidOut(g);
});

test('a transformer encoder: every node shown and laid out; projections quantizable dynamically, attention MatMuls between activations not', () => {
  const proto = buildTransformer({ vocab: 120, dim: 32, layers: 4, seed: 5 });
  const index = indexModel(proto);
  const g = layoutGraph(buildGraphView({ proto, path: 'encoder.onnx' }));
  const ops = g.nodes.filter((n) => n.kind === 'op');
  assert.deepEqual(ops.map((n) => n.key), index.nodes.map((n) => n.key));
  const matmuls = ops.filter((n) => n.opType === 'MatMul');
  const withWeight = matmuls.filter((n) => index.initializer(n.inputs[1] ?? ''));
  const betweenActivations = matmuls.filter((n) => !index.initializer(n.inputs[1] ?? ''));
  assert.ok(withWeight.length >= 4 * 6 && betweenActivations.length >= 4 * 2, `${withWeight.length} projections, ${betweenActivations.length} attention MatMuls`);
  for (const n of withWeight) assert.ok(n.modes.includes('dynamic'), `${n.key} quantizable dynamically`);
  for (const n of betweenActivations) assert.ok(!n.modes.includes('dynamic'), `${n.key} has no constant weight`);
  assertLaidOut(g);
});

/** digits_cnn quantized to QOperator and digits_mlp quantized dynamically by the project's engines (ONNX Runtime checks both). */
async function quantized(dir: string): Promise<{ qop: string; dyn: string }> {
  const qop = path.join(dir, 'cnn.qop.onnx');
  const dyn = path.join(dir, 'mlp.dyn.onnx');
  await quantizeFile(CNN, qop, { mode: 'static', format: 'qoperator', speedCheck: false, calibrationData: path.join(FIXTURES, 'digits_calib_x.npy') });
  await quantizeFile(path.join(FIXTURES, 'digits_mlp.onnx'), dyn, { mode: 'dynamic', speedCheck: false });
  return { qop, dyn };
}

test('QOperator and dynamic chains fold into one integer node per float op; units fold one by one too', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'graph-units-'));
  try {
    const { qop, dyn } = await quantized(dir);
    const floatConvs = indexModel(loadModel(CNN).proto).nodes.filter((n) => n.node.opType === 'Conv').length;
    const floatGemms = indexModel(loadModel(path.join(FIXTURES, 'digits_mlp.onnx')).proto).nodes.filter((n) => n.node.opType === 'Gemm').length;

    // QOperator: each QLinearConv is an "int8 Conv"; the QuantizeLinear entering the chain folds into the first one.
    const q = loadModel(qop);
    const open = layoutGraph(buildGraphView(q));
    const folded = layoutGraph(buildGraphView(q, { collapsed: true }));
    assert.ok(isGraphDto(folded));
    const heads = folded.nodes.filter((n, i) => n.unit === i);
    assert.equal(heads.filter((n) => /^u?int8 Conv$/.test(n.label)).length, floatConvs);
    assert.ok(heads.every((n) => n.quantized === 'qoperator'), 'every head is an integer operator');
    assert.ok(!folded.nodes.some((n) => n.opType === 'QuantizeLinear'), 'the entering QuantizeLinear folded');
    assert.equal(folded.nodes.length, open.nodes.length - open.nodes.filter((n, i) => n.unit !== -1 && n.unit !== i).length);
    // The first unit reads the float image through its folded QuantizeLinear: the input marker feeds it.
    const image = folded.nodes.findIndex((n) => n.kind === 'input');
    const first = folded.nodes.findIndex((n) => n.opType === 'QLinearConv');
    assert.ok(folded.edges.some((e) => e.from === image && e.to === first));
    assert.ok(folded.nodes[first]?.inputs.includes('image'), 'the folded unit lists the float input it reads');
    assertLaidOut(folded);

    // Dynamic: DynamicQuantizeLinear → MatMulInteger → Cast → Mul (with the scales' Mul) is one "int8 MatMul".
    const d = loadModel(dyn);
    const dOpen = buildGraphView(d);
    const dFolded = layoutGraph(buildGraphView(d, { collapsed: true }));
    const dHeads = dFolded.nodes.filter((n, i) => n.unit === i);
    assert.equal(dHeads.length, floatGemms);
    assert.ok(dHeads.every((n) => n.label === 'int8 MatMul' && n.quantized === 'dynamic'), dHeads.map((n) => n.label).join(', '));
    for (const op of ['DynamicQuantizeLinear', 'Cast', 'Mul']) assert.ok(!dFolded.nodes.some((n) => n.opType === op), `${op} folded`);
    // The bias Add stays outside: it reads the unit's float result.
    const add = dFolded.nodes.findIndex((n) => n.opType === 'Add');
    const addFrom = dFolded.edges.filter((e) => e.to === add).map((e) => dFolded.nodes[e.from]?.opType);
    assert.deepEqual(addFrom, ['MatMulInteger']);
    assert.ok(dFolded.nodes[dFolded.edges.find((e) => e.to === add)?.from ?? -1]?.outputs.every((o) => dFolded.nodes[add]?.inputs.includes(o)));
    assertLaidOut(dFolded);

    // One unit folded by its head's key: only its members go.
    const head = dOpen.nodes.find((n, i) => n.unit === i);
    assert.ok(head);
    const members = dOpen.nodes.filter((n) => n.unit !== -1 && dOpen.nodes[n.unit] === head).length;
    const one = layoutGraph(buildGraphView(d, { units: [head.key, 'no such node'] }));
    assert.equal(one.nodes.length, dOpen.nodes.length - (members - 1));
    assert.deepEqual(one.units, [head.key]);
    assert.equal(one.collapsed, false);
    assert.ok(one.nodes.every((n) => n.unit === -1 || one.nodes[n.unit]?.unit === n.unit), 'members point at their head after the fold');
    assertLaidOut(one);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
