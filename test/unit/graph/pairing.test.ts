// Float and quantized graphs side by side, on models the project's engines quantize (ONNX Runtime
// loads and runs each before quantizeFile returns): the graph job finds the model beside, pairs
// every node, and says what became of it (integer kernel, fused, kept float and why).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { quantizeFile } from '../../../src/core/quantize';
import { isGraphDto, type GraphDto } from '../../../src/shared/graphMessages';
import { graph } from '../../../src/worker/jobs/graph';

const FIXTURES = path.join(__dirname, '../../fixtures');
const CALIB = path.join(FIXTURES, 'digits_calib_x.npy');

const node = (g: GraphDto, key: string) => {
  const n = g.nodes.find((x) => x.key === key);
  assert.ok(n, `${key} in ${g.fileName}`);
  return n;
};

test('a float CNN beside its QOperator variant: Convs became QLinearConv, Relus fused into them, pairs both ways', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'graph-pair-'));
  try {
    const float = path.join(dir, 'digits_cnn.onnx');
    fs.copyFileSync(path.join(FIXTURES, 'digits_cnn.onnx'), float);
    const variant = path.join(dir, 'digits_cnn.qop.onnx');
    await quantizeFile(float, variant, { mode: 'static', format: 'qoperator', speedCheck: false, calibrationData: CALIB });

    const f = await graph({ kind: 'graph', model: float }, {});
    assert.ok(isGraphDto(f));
    assert.deepEqual(f.peer, { file: variant, fileName: 'digits_cnn.qop.onnx', role: 'quantized' });
    const q = await graph({ kind: 'graph', model: variant }, {});
    assert.ok(isGraphDto(q));
    assert.equal(q.peer?.file, float);
    assert.equal(q.peer?.role, 'float');

    for (const conv of f.nodes.filter((n) => n.opType === 'Conv')) {
      assert.equal(conv.outcome?.kind, 'integer', conv.key);
      assert.equal(conv.outcome?.text, 'became QLinearConv');
      // The pair is the QLinearConv, and it points back.
      const there = node(q, conv.pair);
      assert.equal(there.opType, 'QLinearConv');
      assert.equal(there.pair, conv.key);
    }
    const relu = node(f, '/stem/stem.2/Relu');
    assert.equal(relu.outcome?.kind, 'fused');
    assert.equal(relu.pair, node(f, '/stem/stem.0/Conv').pair, 'the Relu lands on its Conv');
    // Flatten stays the same op but runs on the 8-bit tensor between QLinear ops.
    assert.equal(node(f, '/Flatten').outcome?.kind, 'integer');
    assert.ok(f.nodes.filter((n) => n.kind === 'op').every((n) => n.outcome && n.pair), 'every float node is accounted for');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a dynamic MLP with a Gemm excluded in its recipe: the Gemm is kept float with the recipe as reason, the others became MatMulInteger', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'graph-pair-'));
  try {
    const float = path.join(dir, 'digits_mlp.onnx');
    fs.copyFileSync(path.join(FIXTURES, 'digits_mlp.onnx'), float);
    fs.writeFileSync(path.join(dir, 'digits_mlp.quant.json'), JSON.stringify({ model: 'digits_mlp.onnx', mode: 'dynamic', nodes: { '/fc2/Gemm': { exclude: true } } }));
    const variant = path.join(dir, 'digits_mlp.int8.onnx');
    await quantizeFile(float, variant, { mode: 'dynamic', speedCheck: false, excludeNodes: ['/fc2/Gemm'] });

    const f = await graph({ kind: 'graph', model: float }, {});
    assert.equal(f.peer?.fileName, 'digits_mlp.int8.onnx');
    const kept = node(f, '/fc2/Gemm');
    assert.deepEqual(kept.outcome, { kind: 'float', text: 'excluded in digits_mlp.quant.json' });
    assert.equal(kept.pair, '/fc2/Gemm');
    for (const key of ['/fc1/Gemm', '/fc3/Gemm']) assert.equal(node(f, key).outcome?.text, 'became MatMulInteger');

    // The quantized side: the kept Gemm says why; folded, the integer units pair with their float Gemm.
    const q = await graph({ kind: 'graph', model: variant, collapsed: true }, {});
    assert.deepEqual(node(q, '/fc2/Gemm').outcome, { kind: 'float', text: 'excluded in digits_mlp.quant.json' });
    const unit = node(q, node(f, '/fc1/Gemm').pair);
    assert.equal(unit.label, 'int8 MatMul');
    assert.equal(unit.pair, '/fc1/Gemm');
    assert.equal(unit.outcome?.kind, 'integer');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
