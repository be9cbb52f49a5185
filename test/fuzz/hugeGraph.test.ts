/**
 * The 200,000-node chain (test/fixtures/build hugeChainModel) through every mode with ONNX
 * Runtime's checks on: static QDQ and QOperator calibrated on 2 samples, dynamic, weight-only and
 * fp16, each validated (float and quantized model run) and measured against float. Minutes of
 * ONNX Runtime time (static calibration over 200,000 tensors most of all), so part of the full
 * run only (`npm run fuzz`, FUZZ_FULL=1); the engines alone run in test/unit/quantize/hugeGraph.test.ts.
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
  ['static QDQ', { mode: 'static', format: 'qdq' }],
  ['static QOperator', { mode: 'static', format: 'qoperator' }],
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
      const worst = Math.min(...(r.fidelity?.outputs ?? []).map((o) => o.sqnrDb ?? Infinity));
      assert.ok(r.fidelity && worst > 0, `${label}: fidelity ${JSON.stringify(r.fidelity?.outputs)}`);
      console.log(`${label}: ${((performance.now() - started) / 1000).toFixed(1)} s, output SQNR ${worst.toFixed(1)} dB`);
      fs.rmSync(out, { force: true });
    }
  } finally {
    tmp.cleanup();
  }
});
