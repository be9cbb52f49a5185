/**
 * What the fidelity warning and auto-exclude tell to keep float, on a self-attention block
 * (q·kᵀ → Softmax → probs·V) run in ONNX Runtime: an excluded Softmax between quantized MatMuls
 * still reads and writes 8-bit tensors, so naming it again would change nothing; the row names
 * the quantized MatMul that rounds its output, and keeping that one float removes the error.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { quantizeFile } from '../../../src/core/quantize/index';
import { loadModel } from '../../../src/core/onnx/model';
import { makeGraph, makeModel, makeNode, makeValueInfo } from '../../../src/core/onnx/builder';
import { DataType } from '../../../src/core/onnx/dtype';
import { floatTensor } from '../../../src/core/onnx/tensor';
import { saveModel } from '../../../src/core/onnx/save';
import { encodeNpy } from '../../../src/core/data/npy';
import { seededRandom, standardNormal } from '../../../src/core/util/random';
import { tempDir } from '../quantize/helpers';

const dir = tempDir('exclusion');
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const T = 64;
const D = 16;
const rand = seededRandom(5);
const normal = (n: number, s: number) => Float32Array.from({ length: n }, () => standardNormal(rand) * s);

function writeAttention(file: string): string {
  const w = (name: string) => floatTensor(name, [D, D], normal(D * D, 0.6 / Math.sqrt(D)));
  const nodes = [
    makeNode('MatMul', ['x', 'Wq'], ['q'], {}, { name: 'q_proj' }),
    makeNode('MatMul', ['x', 'Wk'], ['k'], {}, { name: 'k_proj' }),
    makeNode('MatMul', ['x', 'Wv'], ['v'], {}, { name: 'v_proj' }),
    makeNode('Transpose', ['k'], ['kt'], { perm: [0, 2, 1] }, { name: 'k_t' }),
    makeNode('MatMul', ['q', 'kt'], ['scores'], {}, { name: 'q_kt' }),
    makeNode('Softmax', ['scores'], ['probs'], { axis: -1 }, { name: 'softmax' }),
    makeNode('MatMul', ['probs', 'v'], ['ctx'], {}, { name: 'probs_v' }),
    makeNode('MatMul', ['ctx', 'Wo'], ['y'], {}, { name: 'out_proj' }),
  ];
  const graph = makeGraph(nodes, 'attention', [makeValueInfo('x', DataType.FLOAT, ['batch', T, D])], [makeValueInfo('y', DataType.FLOAT, ['batch', T, D])], [w('Wq'), w('Wk'), w('Wv'), w('Wo')]);
  saveModel(makeModel(graph, { '': 17 }), file, { force: true });
  return file;
}

const model = writeAttention(path.join(dir, 'attention.onnx'));
const calib = path.join(dir, 'x.npy');
const x = normal(32 * T * D, 1);
fs.writeFileSync(calib, encodeNpy({ dtype: 'float32', shape: [32, T, D], data: new Uint8Array(x.buffer) }));
// A floor no int8 model meets: the ranking always runs.
const options = { mode: 'static' as const, calibrationData: calib, fidelityFloor: { sqnrDb: 200 }, speedCheck: false, force: true };

test('an excluded Softmax between quantized MatMuls: the warning names the MatMul that rounds its output, never the Softmax again', async () => {
  const r = await quantizeFile(model, path.join(dir, 'a.onnx'), { ...options, excludeNodes: ['softmax'] });
  const worst = r.fidelity?.worstLayers ?? [];
  const row = worst.find((l) => l.node === 'softmax');
  assert.ok(row, `the Softmax row is ranked: ${JSON.stringify(worst)}`);
  assert.deepEqual(row.exclude, ['probs_v']);
  for (const l of worst) assert.ok(!l.exclude?.includes('softmax'), JSON.stringify(l));
  const warning = r.warnings.find((w) => /^fidelity below the floor/.test(w)) ?? '';
  const list = /--exclude-nodes (\S+),? or/.exec(warning)?.[1]?.replace(/,$/, '').split(',') ?? [];
  assert.ok(list.includes('probs_v') && !list.includes('softmax'), warning);
  assert.match(warning, /softmax \(Softmax, [^)]*rounded as input of probs_v\)/);
});

test('keeping the named MatMul float too leaves the attention probabilities exact: no Q/DQ on them, the Softmax row gone', async () => {
  const before = await quantizeFile(model, path.join(dir, 'b.onnx'), { ...options, excludeNodes: ['softmax'] });
  const out = path.join(dir, 'c.onnx');
  const r = await quantizeFile(model, out, { ...options, excludeNodes: ['softmax', 'probs_v'] });
  const m = loadModel(out);
  const quantizesProbs = (m.proto.graph?.node ?? []).some((n) => n.opType === 'QuantizeLinear' && n.input[0] === 'probs');
  m.external.close();
  assert.equal(quantizesProbs, false);
  assert.ok(!(r.fidelity?.worstLayers ?? []).some((l) => l.node === 'softmax'), JSON.stringify(r.fidelity?.worstLayers));
  const sqnr = (q: typeof r) => q.fidelity?.outputs[0]?.sqnrDb ?? -Infinity;
  assert.ok(sqnr(r) > sqnr(before), `output SQNR ${sqnr(before)} → ${sqnr(r)} dB`);
});
