import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { quantizeFile } from '../../../src/core/quantize/index';
import { CHECK_IN_CHILD_BYTES, canCheckInChild } from '../../../src/core/quantize/check';
import { largeMlpModel, makeTempDir, writeModelFile } from '../../fixtures/build/files';
import { createSession, ort } from '../../../src/core/runtime/ort';

const { dir, cleanup } = makeTempDir('check-child-');
test.after(cleanup);

test('a large model is validated and measured in a separate process: same checks, figures, and the output runs like float', async () => {
  assert.ok(canCheckInChild(), 'the check process entry is found under tsx');
  const model = writeModelFile(dir, 'big.onnx', largeMlpModel(CHECK_IN_CHILD_BYTES + 2 ** 20, 1024));
  assert.ok(fs.statSync(model).size >= CHECK_IN_CHILD_BYTES);
  const out = path.join(dir, 'big.int8.onnx');
  const logs: string[] = [];
  const stages: string[] = [];
  const r = await quantizeFile(model, out, { mode: 'dynamic' }, { log: (l) => logs.push(l), onProgress: (p) => stages.push(p.stage) });
  assert.ok(logs.some((l) => /^validation process: peak RSS /.test(l)), logs.join('\n'));
  assert.ok(!stages.includes('probing'), 'the float model is not run in this process');
  assert.ok(r.inputShapes === undefined || typeof r.inputShapes === 'string');
  const fidelity = r.fidelity ?? assert.fail('fidelity measured in the child');
  assert.equal(fidelity.inputs, 'generated inputs');
  const sqnr = fidelity.outputs[0]?.sqnrDb ?? assert.fail('an SQNR figure');
  assert.ok(sqnr > 20, `SQNR ${sqnr} dB`);
  // The speed check runs in the child too: float, quantized and the A/A control timed there.
  const speed = r.speed ?? assert.fail(`speed measured in the child: ${r.warnings.join('; ')}`);
  assert.ok(speed.floatP50Ms > 0 && speed.quantizedP50Ms > 0 && speed.runs >= 20, JSON.stringify(speed));
  assert.ok(Math.abs(speed.speedup - speed.floatP50Ms / speed.quantizedP50Ms) < 0.01 * speed.speedup, JSON.stringify(speed));
  assert.equal(speed.batch, 1);
  // The figure is real: the output, run here, agrees with the float model.
  const O = ort();
  const x = Float32Array.from({ length: 4 * 1024 }, (_, i) => Math.sin(i * 0.37));
  const run = async (file: string) => {
    const s = await createSession(file);
    const y = Object.values(await s.run({ [s.inputNames[0] ?? 'x']: new O.Tensor('float32', x, [4, 1024]) }))[0]?.data as Float32Array;
    await s.release();
    return y;
  };
  const [yf, yq] = [await run(model), await run(out)];
  let err = 0;
  let sig = 0;
  yf.forEach((v, i) => {
    err += (v - (yq[i] ?? 0)) ** 2;
    sig += v * v;
  });
  assert.ok(10 * Math.log10(sig / err) > 20, `SQNR here ${(10 * Math.log10(sig / err)).toFixed(1)} dB`);
});

test('in the child, --min-sqnr above what int8 reaches fails the run and leaves no output', async () => {
  const model = path.join(dir, 'big.onnx');
  const out = path.join(dir, 'strict.int8.onnx');
  await assert.rejects(quantizeFile(model, out, { mode: 'dynamic', minSqnrDb: 200 }), /min-sqnr 200/);
  assert.ok(!fs.existsSync(out));
});
