import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { quantizeFile } from '../../../src/core/quantize/index';
import { InputError } from '../../../src/core/errors';
import { attrInt } from '../../../src/core/onnx/builder';
import { loadModel } from '../../../src/core/onnx/model';
import { saveModel } from '../../../src/core/onnx/save';
import { buildTransformer } from './models';
import { tempDir } from './helpers';

const dir = tempDir('w4clip');
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const float = path.join(dir, 'encoder.onnx');
saveModel(buildTransformer({ vocab: 512, dim: 128, layers: 2, ffn: 512, seed: 3 }), float);

async function int4(weightClipping: 'none' | 'mse', accuracyLevel: 0 | 4 = 0): Promise<{ sqnr: number; file: string }> {
  const file = path.join(dir, `encoder.${weightClipping}.${accuracyLevel}.onnx`);
  const r = await quantizeFile(float, file, { mode: 'weight-only', weightBits: 4, weightClipping, accuracyLevel, speedCheck: false });
  const sqnr = r.fidelity?.outputs[0]?.sqnrDb;
  assert.ok(typeof sqnr === 'number', JSON.stringify(r.fidelity));
  return { sqnr, file };
}

test('int4 with MSE-optimal block ranges is closer to float than round-to-nearest on the same model (ONNX Runtime outputs)', async () => {
  const rtn = await int4('none');
  const mse = await int4('mse');
  assert.ok(mse.sqnr > rtn.sqnr + 0.5, `mse ${mse.sqnr} dB vs round-to-nearest ${rtn.sqnr} dB`);
  // Same size: only the ranges differ.
  assert.equal(fs.statSync(mse.file).size, fs.statSync(rtn.file).size);
});

test('--accuracy-level is written to every MatMulNBits; bad values are refused', async () => {
  const { file } = await int4('mse', 4);
  const nodes = loadModel(file).proto.graph?.node.filter((n) => n.opType === 'MatMulNBits') ?? [];
  assert.ok(nodes.length > 0);
  for (const n of nodes) assert.equal(attrInt(n, 'accuracy_level', -1), 4);
  await assert.rejects(quantizeFile(float, path.join(dir, 'bad.onnx'), { mode: 'weight-only', accuracyLevel: 3 as never }), InputError);
});

test('weight-only not faster than float: the speed check times the other accuracy levels and dynamic int8 and says which pays', async () => {
  const r = await quantizeFile(float, path.join(dir, 'encoder.speed.onnx'), { mode: 'weight-only', fidelity: false });
  const s = r.speed;
  assert.ok(s, 'speed measured');
  if (s.verdict === 'faster') return; // nothing to suggest on a CPU where MatMulNBits pays
  const labels = (s.alternatives ?? []).map((a) => a.label);
  assert.deepEqual(labels, ['accuracy level 1', 'accuracy level 2', 'accuracy level 4', 'dynamic int8']);
  for (const a of s.alternatives ?? []) assert.ok(a.speedup > 0 && Number.isFinite(a.speedup));
  const dynamic = s.alternatives?.find((a) => a.label === 'dynamic int8');
  assert.ok(dynamic);
  assert.ok(
    s.summary.includes(`dynamic int8 is ${dynamic.speedup.toFixed(2)}× faster`) || /smaller, not faster here|is \d+\.\d\d× faster than float here \(--accuracy-level/.test(s.summary),
    s.summary,
  );
});
