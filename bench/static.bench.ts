/**
 * Static quantization benchmark: a residual CNN (built with seeded weights, 3×32×32 input),
 * float vs static int8 (QDQ and QOperator) in onnxruntime-node, runs alternated, p50 latency,
 * plus calibration/quantization time and the fused op counts of ORT's optimized graph.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { modelToBytes } from '../src/core/onnx/save';
import type { ModelProto } from '../src/core/onnx/schema';
import { createSession, ort, type InferenceSession } from '../src/core/runtime/ort';
import { quantizeStatic } from '../src/core/quantize/static';
import { optimizedOpTypes } from '../src/core/quantize/static/fusionCheck';
import type { OnnxModel } from '../src/core/onnx/model';
import { allNodes, staticOptions } from '../test/unit/quantize/static/helpers';
import { buildResidualCnn, randomInputs, writeNpy } from '../test/unit/quantize/static/residualCnn';

const RUNS = 60;
const WARMUP = 5;

function p50(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timeAlternating(sessions: Record<string, InferenceSession>, feeds: Record<string, unknown>): Promise<Record<string, number>> {
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(sessions).map((k) => [k, []]));
  for (let i = 0; i < WARMUP + RUNS; i++) {
    for (const [name, s] of Object.entries(sessions)) {
      const t = performance.now();
      await s.run(feeds as never);
      if (i >= WARMUP) times[name]!.push(performance.now() - t);
    }
  }
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, p50(v)]));
}

async function fusedOps(model: ModelProto): Promise<string> {
  return [...(await optimizedOpTypes(model))].map(([k, v]) => `${k}×${v}`).join(' ');
}

export async function run(): Promise<void> {
  const built = buildResidualCnn({ channels: [32, 64], blocks: 2, size: 32 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'static-bench-'));
  try {
    const samples = 128;
    const calib = writeNpy(path.join(dir, 'calib.npy'), randomInputs(samples, built.inputShape), [samples, ...built.inputShape]);
    const model = { path: path.join(dir, 'model.onnx'), dir, proto: built.proto, modelFileBytes: modelToBytes(built.proto).length } as unknown as OnnxModel;
    console.log(`residual CNN: ${built.convs} Conv, ${built.adds} Add, input 3×32×32, ${(model.modelFileBytes / 1024).toFixed(0)} KiB float`);

    const quantized: Record<string, ModelProto> = {};
    for (const [label, overrides] of [
      ['qdq minmax', { format: 'qdq' as const, calibrationMethod: 'minmax' as const }],
      ['qdq entropy', { format: 'qdq' as const, calibrationMethod: 'entropy' as const }],
      ['qdq percentile', { format: 'qdq' as const, calibrationMethod: 'percentile' as const }],
      ['qoperator minmax', { format: 'qoperator' as const, calibrationMethod: 'minmax' as const }],
    ] as const) {
      const t = performance.now();
      let calibration = 0;
      const log = (line: string) => {
        const m = /calibrated \d+ tensors .* in ([\d.]+) s/.exec(line);
        if (m) calibration += Number(m[1]);
      };
      const r = await quantizeStatic(model, staticOptions({ calibrationData: calib, ...overrides }), allNodes(), { log });
      const seconds = (performance.now() - t) / 1000;
      quantized[label] = r.proto;
      console.log(
        `${label}: total ${seconds.toFixed(2)} s (calibration ${calibration.toFixed(2)} s on ${samples} samples), ${(modelToBytes(r.proto).length / 1024).toFixed(0)} KiB`,
      );
    }
    console.log(`ORT optimized QDQ graph: ${await fusedOps(quantized['qdq minmax']!)}`);

    const O = ort();
    for (const batch of [1, 8]) {
      const x = randomInputs(batch, built.inputShape, 3);
      const feeds = { input: new O.Tensor('float32', x, [batch, ...built.inputShape]) };
      const sessions: Record<string, InferenceSession> = {
        float: await createSession(modelToBytes(built.proto)),
        'int8 qdq': await createSession(modelToBytes(quantized['qdq minmax']!)),
        'int8 qoperator': await createSession(modelToBytes(quantized['qoperator minmax']!)),
      };
      const t = await timeAlternating(sessions, feeds);
      for (const s of Object.values(sessions)) await s.release();
      console.log(
        `batch ${batch}: float ${t.float!.toFixed(3)} ms, int8 QDQ ${t['int8 qdq']!.toFixed(3)} ms (speedup ${(t.float! / t['int8 qdq']!).toFixed(2)}×), ` +
          `int8 QOperator ${t['int8 qoperator']!.toFixed(3)} ms (${(t.float! / t['int8 qoperator']!).toFixed(2)}×)`,
      );
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
