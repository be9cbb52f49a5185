/**
 * The 200,000-node chain (test/fixtures/build hugeChainModel) through every mode: static QDQ and
 * QOperator calibrated on 2 samples (76 s and 44 s on 2 loaded cores, 1.4 GB peak; not validated:
 * ONNX Runtime's sessions on the validated static graph passed 50 min), dynamic, weight-only and
 * fp16 validated (float and quantized model run) and measured against float (dynamic 316 s).
 * Part of the full run only (`npm run fuzz`, FUZZ_FULL=1); the engines alone, and static on a
 * 20,000-node chain, run in test/unit/quantize/hugeGraph.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeNpy } from '../../src/core/data/npy';
import { quantizeFile } from '../../src/core/quantize';
import type { QuantizeOptions } from '../../src/core/quantize/types';
import { gaussian, hugeModelFile, makeTempDir } from '../fixtures/build';

const FULL = process.env.FUZZ_FULL === '1';

const MODES: [string, Omit<QuantizeOptions, 'calibrationData'>][] = [
  ['dynamic', { mode: 'dynamic' }],
  ['static QDQ', { mode: 'static', format: 'qdq', validate: false, fidelity: false }],
  ['static QOperator', { mode: 'static', format: 'qoperator', validate: false, fidelity: false }],
  ['weight-only', { mode: 'weight-only', blockSize: 16 }],
  ['fp16', { mode: 'fp16' }],
];

test('a 200,000-node graph quantizes, validates and keeps fidelity in every mode', { skip: FULL ? false : 'full fuzz run only (npm run fuzz)' }, async () => {
  const tmp = makeTempDir('onnxq-huge-full-');
  try {
    const model = hugeModelFile();
    const data = path.join(tmp.dir, 'samples.npy');
    fs.writeFileSync(data, encodeNpy({ dtype: 'float32', shape: [2, 16], data: new Uint8Array(gaussian(32, 1, 9).buffer) }));
    for (const [label, options] of MODES) {
      const started = performance.now();
      const out = path.join(tmp.dir, `chain.${label.replace(/\W+/g, '-')}.onnx`);
      const r = await quantizeFile(model, out, { ...options, ...(options.mode === 'static' ? { calibrationData: data } : {}), fidelityData: data, speedCheck: false });
      assert.equal(r.quantizedNodes, 200, label);
      if (options.fidelity === false) {
        assert.ok(fs.statSync(out).size > 0, label);
        console.log(`${label}: ${((performance.now() - started) / 1000).toFixed(1)} s (not validated)`);
        fs.rmSync(out, { force: true });
        continue;
      }
      const worst = Math.min(...(r.fidelity?.outputs ?? []).map((o) => o.sqnrDb ?? Infinity));
      assert.ok(r.fidelity && worst > 0, `${label}: fidelity ${JSON.stringify(r.fidelity?.outputs)}`);
      console.log(`${label}: ${((performance.now() - started) / 1000).toFixed(1)} s, output SQNR ${worst.toFixed(1)} dB`);
      fs.rmSync(out, { force: true });
    }
  } finally {
    tmp.cleanup();
  }
});
