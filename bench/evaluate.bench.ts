/**
 * Evaluation benchmark: each bundled sample quantized as `npm start` does (MLP and LSTM dynamic,
 * CNN static QDQ), then compared with its float model on the labelled test set. Records size
 * ratio, accuracy, output SQNR and the speedup over float at batch 1 and batch 32 (alternating
 * runs), plus how long the per-layer analysis takes. Then the same on a generated transformer
 * encoder (int64 token ids generated inside the vocabulary), where per-layer has ~100 tensors.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compareModels } from '../src/core/evaluate/compare';
import { quantizeFile } from '../src/core/quantize/index';
import type { QuantizeOptions } from '../src/core/quantize/types';
import { formatSqnr } from '../src/core/report/format';
import { saveModel } from '../src/core/onnx/save';
import { buildTransformer } from '../test/unit/quantize/models';

const SAMPLES = path.join(__dirname, '../samples');
const sample = (f: string) => path.join(SAMPLES, f);
const RUNS = 500;

const PLAN: { model: string; options: QuantizeOptions }[] = [
  { model: 'digits_mlp', options: { mode: 'dynamic' } },
  { model: 'digits_cnn', options: { mode: 'static', format: 'qdq', calibrationData: sample('digits_calib_x.npy') } },
  { model: 'digits_lstm', options: { mode: 'dynamic' } },
];

export async function run(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oq-evaluate-bench-'));
  const rows: string[][] = [];
  try {
    for (const { model, options } of PLAN) {
      const float = sample(`${model}.onnx`);
      const out = path.join(dir, `${model}.${options.mode}.onnx`);
      try {
        await quantizeFile(float, out, { ...options, force: true });
      } catch (e) {
        rows.push([model, options.mode, `not available: ${(e as Error).message.split('\n')[0]}`]);
        continue;
      }
      const common = { data: sample('digits_test_x.npy'), labels: sample('digits_test_y.npy'), runs: RUNS, warmup: 20 };
      const b1 = await compareModels(float, out, { ...common, batch: 1 });
      const b32 = await compareModels(float, out, { ...common, batch: 32 });
      const started = performance.now();
      const perLayer = await compareModels(float, out, { data: common.data, runs: 1, warmup: 0, perLayer: true });
      const perLayerSeconds = (performance.now() - started) / 1000;
      const a = b1.accuracy;
      rows.push([
        model,
        options.mode,
        `${b1.size.ratio.toFixed(2)}×`,
        `${(a.referenceAccuracy! * 100).toFixed(2)} → ${(a.candidateAccuracy! * 100).toFixed(2)} %`,
        formatSqnr(a.sqnrDb, a.identical),
        `${b1.latency.reference.p50Ms.toFixed(3)} / ${b1.latency.candidate.p50Ms.toFixed(3)} ms`,
        `${b1.latency.speedup.toFixed(2)}×`,
        `${b32.latency.reference.p50Ms.toFixed(3)} / ${b32.latency.candidate.p50Ms.toFixed(3)} ms`,
        `${b32.latency.speedup.toFixed(2)}×`,
        `${perLayer.layers!.length} in ${perLayerSeconds.toFixed(2)} s`,
      ]);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const headers = ['model', 'mode', 'smaller', 'accuracy', 'SQNR', 'p50 b1 float/int8', 'speedup b1', 'p50 b32 float/int8', 'speedup b32', 'per-layer'];
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  console.log(`float vs quantized samples, ${RUNS} alternating runs per model and batch size, ${os.cpus()[0]?.model ?? 'CPU'}`);
  console.log(line(headers));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
  await transformer();
}

async function transformer(): Promise<void> {
  const spec = { vocab: 8000, dim: 256, layers: 4, ffn: 1024, seed: 1 };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oq-evaluate-bench-'));
  try {
    const float = path.join(dir, 'encoder.onnx');
    saveModel(buildTransformer(spec), float);
    const out = path.join(dir, 'encoder.int8.onnx');
    await quantizeFile(float, out, { mode: 'dynamic' });
    const started = performance.now();
    const r = await compareModels(float, out, { runs: 50, warmup: 5, batch: 1, perLayer: true, perLayerSamples: 64, generatedSamples: 64 });
    const seconds = (performance.now() - started) / 1000;
    const worst = r.layers![0]!;
    console.log(
      `\ntransformer encoder (vocab ${spec.vocab}, dim ${spec.dim}, ${spec.layers} layers; generated ids, 16 tokens): ` +
        `${r.size.ratio.toFixed(2)}× smaller, output SQNR ${formatSqnr(r.accuracy.sqnrDb, r.accuracy.identical)}, ` +
        `p50 ${r.latency.reference.p50Ms.toFixed(3)} → ${r.latency.candidate.p50Ms.toFixed(3)} ms (${r.latency.speedup.toFixed(2)}×); ` +
        `per-layer: ${r.layers!.length} tensors, worst ${worst.node} (local ${formatSqnr(worst.localSqnrDb)}); whole compare ${seconds.toFixed(1)} s`,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
