/**
 * A 200,000-node graph through the engines without stack overflow (every walk and printer is
 * iterative): dynamic, weight-only and fp16 quantize its 200 MatMuls and save; the layer analysis
 * and the CLI table of its skipped nodes handle it too. The model is built once and kept in
 * os.tmpdir(). Static mode runs here on a 20,000-node chain of the same build (calibrated on 2
 * samples, QDQ and QOperator: 7 s together); at 200,000 nodes its ONNX Runtime
 * sessions take minutes (calibration, and the QDQ fusion check), so static at 200,000 nodes and
 * the validated runs are in the full fuzz run (test/fuzz/hugeGraph.test.ts, `npm run fuzz`).
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeNpy } from '../../../src/core/data/npy';
import { loadModel } from '../../../src/core/onnx/model';
import { analyzeLayers } from '../../../src/core/analysis/layers';
import { quantizeFile } from '../../../src/core/quantize';
import { DataType } from '../../../src/core/onnx/dtype';
import { table } from '../../../src/cli/io';
import { HUGE_NODES, gaussian, hugeChainModel, hugeModelFile, makeTempDir, writeModelFile } from '../../fixtures/build';

const tmp = makeTempDir('onnxq-huge-');
process.on('exit', tmp.cleanup);
let model = '';

before(() => {
  model = hugeModelFile();
});

test('the layer analysis of a 200,000-node graph', () => {
  const m = loadModel(model);
  assert.equal(m.proto.graph?.node.length, HUGE_NODES);
  const layers = analyzeLayers(m);
  assert.equal(layers.filter((l) => l.modes.includes('dynamic')).length, 200);
  // The table printer sizes columns by a loop, not Math.max(...cells).
  assert.equal(table(['node', 'op'], layers.map((l) => [l.node, 'x'])).split('\n').length, layers.length + 2);
});

for (const mode of ['dynamic', 'weight-only', 'fp16'] as const) {
  test(`${mode} quantizes a 200,000-node graph`, async () => {
    const out = path.join(tmp.dir, `chain.${mode}.onnx`);
    const r = await quantizeFile(model, out, { mode, validate: false, fidelity: false, speedCheck: false, ...(mode === 'weight-only' ? { blockSize: 16 } : {}) });
    assert.equal(r.quantizedNodes, 200);
    const q = loadModel(out).proto.graph;
    assert.ok(q && q.node.length >= HUGE_NODES, `${q?.node.length} nodes`);
    const ops = new Set(q.node.map((n) => n.opType));
    if (mode === 'dynamic') assert.ok(ops.has('MatMulInteger') || ops.has('DynamicQuantizeMatMul'), [...ops].join(','));
    if (mode === 'weight-only') assert.ok(ops.has('MatMulNBits'), [...ops].join(','));
    if (mode === 'fp16') assert.ok(q.initializer.every((t) => t.dataType === DataType.FLOAT16), 'every weight float16');
    assert.equal(q.node.filter((n) => n.opType === 'Relu').length, HUGE_NODES - 200);
  });
}

for (const format of ['qdq', 'qoperator'] as const) {
  test(`static ${format} calibrates and quantizes a 20,000-node chain`, async () => {
    const nodes = 20_000;
    const model = writeModelFile(tmp.dir, `chain20k.${format}.onnx`, hugeChainModel(nodes, 100));
    const data = path.join(tmp.dir, `calib.${format}.npy`);
    fs.writeFileSync(data, encodeNpy({ dtype: 'float32', shape: [2, 16], data: new Uint8Array(gaussian(32, 1, 9).buffer) }));
    const out = path.join(tmp.dir, `chain20k.static-${format}.onnx`);
    const r = await quantizeFile(model, out, { mode: 'static', format, calibrationData: data, validate: false, fidelity: false, speedCheck: false });
    assert.equal(r.quantizedNodes, 200);
    const q = loadModel(out).proto.graph;
    const ops = new Set(q?.node.map((n) => n.opType));
    assert.ok(format === 'qdq' ? ops.has('QuantizeLinear') && ops.has('DequantizeLinear') : ops.has('QLinearMatMul'), [...ops].join(','));
    assert.ok(q && q.node.length >= nodes, `${q?.node.length} nodes`);
  });
}
