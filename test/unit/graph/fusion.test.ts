// What ONNX Runtime makes of each node, read from the graph it optimizes when it loads the model:
// on the float CNN its Conv+Relu pairs become FusedConv; on the CNN quantized to QDQ by the project's
// engine every Conv unit (its DequantizeLinear, Conv and QuantizeLinear) becomes one QLinearConv.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { quantizeFile } from '../../../src/core/quantize';
import { optimizedModel } from '../../../src/core/quantize/static/fusionCheck';
import { indexModel } from '../../../src/core/onnx/graph-index';
import { isGraphDto, type GraphDto } from '../../../src/shared/graphMessages';
import { graph } from '../../../src/worker/jobs/graph';

const FIXTURES = path.join(__dirname, '../../fixtures');
const CNN = path.join(FIXTURES, 'digits_cnn.onnx');

const fate = (g: GraphDto, key: string): string | undefined => g.nodes.find((n) => n.key === key)?.runtime?.text;

test('float CNN: a Conv followed by a Relu is fused into FusedConv, what ONNX Runtime runs as is says so', async () => {
  const g = await graph({ kind: 'graph', model: CNN }, {});
  assert.ok(isGraphDto(g));
  const optimized = indexModel(await optimizedModel(CNN, 'extended'));
  const fusedConvs = optimized.nodes.filter((n) => n.node.opType === 'FusedConv').length;
  assert.ok(fusedConvs > 0, 'ONNX Runtime fuses some Conv+Relu here');
  const conv = g.nodes.filter((n) => n.opType === 'Conv');
  assert.equal(conv.filter((n) => n.runtime?.text === 'fused by ONNX Runtime into FusedConv').length, fusedConvs);
  for (const n of conv.filter((c) => c.runtime?.text === 'fused by ONNX Runtime into FusedConv')) {
    // Its Relu went with it.
    const relu = g.edges.filter((e) => g.nodes[e.from] === n).map((e) => g.nodes[e.to]).find((m) => m?.opType === 'Relu');
    assert.equal(relu?.runtime?.text, 'fused by ONNX Runtime into FusedConv', `${n.key}'s Relu`);
  }
  // Whatever ONNX Runtime computes with the same op is reported as running as is (the Gemm here).
  const gemm = g.nodes.find((n) => n.opType === 'Gemm');
  assert.equal(gemm?.runtime?.fused, optimized.nodes.every((n) => n.node.opType !== 'Gemm' || !n.node.output.includes(gemm?.outputs[0] ?? '')));
  assert.ok(g.nodes.filter((n) => n.kind === 'op').every((n) => n.runtime), 'every node has a fate');
});

test('QDQ CNN: every Conv unit becomes one QLinearConv; folded, the unit head carries it', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'graph-fusion-'));
  try {
    const qdq = path.join(dir, 'cnn.qdq.onnx');
    await quantizeFile(CNN, qdq, { mode: 'static', speedCheck: false, calibrationData: path.join(FIXTURES, 'digits_calib_x.npy') });
    const open = await graph({ kind: 'graph', model: qdq }, {});
    const convs = open.nodes.filter((n) => n.opType === 'Conv');
    assert.ok(convs.length >= 4);
    for (const c of convs) {
      assert.equal(fate(open, c.key), 'fused by ONNX Runtime into QLinearConv', c.key);
      // The unit's weight DequantizeLinear goes into the same kernel.
      for (const m of open.nodes.filter((n, i) => n.unit === open.nodes.indexOf(c) && i !== n.unit && n.opType === 'DequantizeLinear' && n.inputs.some((x) => open.tensors.find((t) => t.name === x)?.kind === 'initializer'))) {
        assert.equal(m.runtime?.text, 'fused by ONNX Runtime into QLinearConv', m.key);
      }
    }
    const folded = await graph({ kind: 'graph', model: qdq, collapsed: true }, {});
    for (const c of folded.nodes.filter((n) => /int8 Conv$/.test(n.label))) assert.equal(c.runtime?.text, 'fused by ONNX Runtime into QLinearConv');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
