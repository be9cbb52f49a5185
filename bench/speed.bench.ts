/**
 * Honest timing: a transformer encoder (dynamic int8) and a residual CNN (static QDQ int8), both
 * built here, each compared with its float model at batch 1. Float, quantized and a second float
 * session are timed in alternation (no spinning threads), so every line carries its A/A control,
 * and a separate A/A comparison (the float file against a copy of itself) must read 1.00 ± 0.05.
 * Also prints the quantizer's own speed check for the same model (the figure `quantize` reports),
 * and int4 fidelity with and without calibration data.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CONTROL_TOLERANCE } from '../src/core/evaluate/bench';
import { compareModels } from '../src/core/evaluate/compare';
import type { CompareResult } from '../src/core/evaluate/types';
import { saveModel } from '../src/core/onnx/save';
import { quantizeFile } from '../src/core/quantize/index';
import type { QuantizeOptions } from '../src/core/quantize/types';
import { cpuFlagsText } from '../src/core/report/environment';
import { mlpModel } from '../test/fixtures/build/models';
import { encodeNpy } from '../src/core/data/npy';
import { buildTransformer, tokenIds, transformerParams } from '../test/unit/quantize/models';
import { int4Bound } from './int4Bound';
import { buildResidualCnn, randomInputs, writeNpy } from '../test/unit/quantize/static/residualCnn';

const RUNS = 200;

interface Case {
  name: string;
  build: (dir: string) => { float: string; options: QuantizeOptions };
}

const CASES: Case[] = [
  {
    name: 'transformer (d 256, 4 layers, seq 128) dynamic',
    build: (dir) => {
      const float = path.join(dir, 'encoder.onnx');
      saveModel(buildTransformer({ vocab: 8000, dim: 256, layers: 4, ffn: 1024, seed: 1 }), float);
      return { float, options: { mode: 'dynamic' } };
    },
  },
  {
    name: 'residual CNN (32/64 ch, 64×64) static',
    build: (dir) => {
      const built = buildResidualCnn({ channels: [32, 64], blocks: 2, size: 64 });
      const float = path.join(dir, 'cnn.onnx');
      saveModel(built.proto, float);
      const calib = writeNpy(path.join(dir, 'calib.npy'), randomInputs(64, built.inputShape), [64, ...built.inputShape]);
      return { float, options: { mode: 'static', calibrationData: calib } };
    },
  },
];

const pct = (ratio: number) => `${ratio >= 1 ? '+' : ''}${((ratio - 1) * 100).toFixed(1)} %`;
const within = (ratio: number) => (Math.abs(ratio - 1) <= CONTROL_TOLERANCE ? 'OK' : 'OUTSIDE ±5 %');

export async function run(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oq-speed-bench-'));
  console.log(`batch 1, ${RUNS} alternating runs per session, spinning off; CPU flags: ${cpuFlagsText()}`);
  try {
    for (const c of CASES) {
      const { float, options } = c.build(dir);
      const out = path.join(dir, `${path.basename(float, '.onnx')}.int8.onnx`);
      const copy = path.join(dir, `${path.basename(float, '.onnx')}.copy.onnx`);
      fs.copyFileSync(float, copy);
      const q = await quantizeFile(float, out, { ...options, force: true, fidelity: false });
      const vs: CompareResult = await compareModels(float, out, { runs: RUNS, warmup: 10, batch: 1 });
      const aa: CompareResult = await compareModels(float, copy, { runs: RUNS, warmup: 10, batch: 1 });
      const l = vs.latency;
      const control = l.control?.ratio ?? NaN;
      console.log(`\n${c.name}: inputs ${l.inputShapes ?? '?'}`);
      console.log(`  float vs quantized: p50 ${l.reference.p50Ms.toFixed(3)} → ${l.candidate.p50Ms.toFixed(3)} ms, ${l.speedup.toFixed(2)}× (A/A control in the same alternation ${control.toFixed(3)}, ${pct(control)}: ${within(control)})`);
      console.log(`  A/A (the float model against a copy of itself): ${aa.latency.speedup.toFixed(3)}× (${pct(aa.latency.speedup)}: ${within(aa.latency.speedup)})`);
      console.log(`  quantize's speed check: ${q.speed?.summary ?? 'not measured'}`);
    }
    await weightOnly(dir);
    await gptq(dir);
    await requireSpeedup(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Weight-only int4 on the transformer: round-to-nearest against MSE-optimal block ranges (output
 * SQNR against float on the same generated inputs; target ≥ 1 dB better at the same size), and
 * what the speed check finds for the accuracy levels and dynamic int8.
 */
async function weightOnly(dir: string): Promise<void> {
  const float = path.join(dir, 'encoder.onnx');
  console.log('\nweight-only int4 (block 32) on the transformer above:');
  const sqnr: Record<string, number> = {};
  for (const weightClipping of ['none', 'mse'] as const) {
    const out = path.join(dir, `encoder.int4.${weightClipping}.onnx`);
    const started = performance.now();
    const r = await quantizeFile(float, out, { mode: 'weight-only', weightBits: 4, weightClipping, force: true, speedCheck: weightClipping === 'mse' });
    const seconds = (performance.now() - started) / 1000;
    sqnr[weightClipping] = r.fidelity?.outputs[0]?.sqnrDb ?? NaN;
    console.log(
      `  ${weightClipping === 'none' ? 'round-to-nearest ' : 'MSE-optimal ranges'}: output SQNR ${sqnr[weightClipping]?.toFixed(2)} dB, ${r.sizeRatio.toFixed(2)}× smaller, quantize + checks ${seconds.toFixed(1)} s`,
    );
    if (r.speed) console.log(`  speed check: ${r.speed.summary}`);
  }
  const gain = (sqnr['mse'] ?? NaN) - (sqnr['none'] ?? NaN);
  console.log(`  MSE-optimal over round-to-nearest: ${gain >= 0 ? '+' : ''}${gain.toFixed(2)} dB (target ≥ 1 dB: ${gain >= 1 ? 'OK' : 'BELOW'})`);
  const bound = int4Bound(float);
  console.log(
    `  the most any scale and zero point per block can give on these weights (exhaustive search, ${bound.blocks} blocks of 32): weight SQNR ${bound.roundToNearestDb.toFixed(2)} → ${bound.bestDb.toFixed(2)} dB, +${(bound.bestDb - bound.roundToNearestDb).toFixed(2)} dB over round-to-nearest`,
  );
}

/**
 * int4 with calibration data (GPTQ) against round-to-nearest and MSE-optimal ranges without data,
 * on held-out token ids (never the calibration samples), at the same size: the transformer above
 * and one of ≥ 20 M parameters. Target: ≥ 3 dB over round-to-nearest.
 */
async function gptq(dir: string): Promise<void> {
  const specs = [
    { vocab: 8000, dim: 256, layers: 4, ffn: 1024, seed: 1 },
    { vocab: 8000, dim: 512, layers: 6, ffn: 2048, seed: 2 },
  ];
  const seq = 64;
  console.log('\nweight-only int4 with calibration data (GPTQ), output SQNR on 32 held-out sequences of token ids:');
  for (const spec of specs) {
    const float = path.join(dir, `gptq_${spec.dim}.onnx`);
    saveModel(buildTransformer(spec), float);
    const ids = (name: string, n: number, seed: number) => writeIds(path.join(dir, name), tokenIds(n, seq, spec.vocab, seed), [n, seq]);
    // 64 sequences: GPTQ fits on 48 of them, 3,072 token rows, more than the widest K (2,048).
    const calib = ids(`gptq_${spec.dim}_calib.npy`, 64, 11);
    const held = ids(`gptq_${spec.dim}_held.npy`, 32, 99);
    const figures: string[] = [];
    const sqnr: Record<string, number> = {};
    const sizes = new Set<number>();
    for (const [label, options] of [
      ['round-to-nearest', { weightClipping: 'none' }],
      ['MSE-optimal', { weightClipping: 'mse' }],
      ['GPTQ', { weightClipping: 'mse', weightRounding: 'gptq', calibrationData: calib }],
    ] as const) {
      const out = path.join(dir, `gptq_${spec.dim}.${label}.onnx`);
      const started = performance.now();
      await quantizeFile(float, out, { mode: 'weight-only', weightBits: 4, force: true, speedCheck: false, fidelity: false, validate: false, ...options });
      const seconds = (performance.now() - started) / 1000;
      sqnr[label] = (await compareModels(float, out, { data: held, runs: 1, warmup: 0 })).accuracy.sqnrDb ?? NaN;
      sizes.add(fs.statSync(out).size);
      figures.push(`${label} ${sqnr[label]?.toFixed(2)} dB (${seconds.toFixed(1)} s)`);
    }
    const gain = (sqnr['GPTQ'] ?? NaN) - (sqnr['round-to-nearest'] ?? NaN);
    console.log(`  ${(transformerParams(spec) / 1e6).toFixed(1)} M parameters (d ${spec.dim}, ${spec.layers} layers): ${figures.join(', ')}; ${sizes.size === 1 ? 'same size' : 'SIZES DIFFER'}`);
    console.log(`    GPTQ over round-to-nearest: ${gain >= 0 ? '+' : ''}${gain.toFixed(2)} dB (target ≥ 3 dB: ${gain >= 3 ? 'OK' : 'BELOW'}); over MSE-optimal without data: +${((sqnr['GPTQ'] ?? NaN) - (sqnr['MSE-optimal'] ?? NaN)).toFixed(2)} dB`);
  }
}

function writeIds(file: string, ids: BigInt64Array, shape: number[]): string {
  fs.writeFileSync(file, encodeNpy({ dtype: 'int64', shape, data: new Uint8Array(ids.buffer) }));
  return file;
}

/**
 * `--require-speedup 1` on the digits MLP (dynamic, batch 1) and on an MLP of two 512×512 layers
 * and 80 tiny ones: the speed check without it, then which groups it keeps float and the figure
 * it ends with (or why nothing is written).
 */
async function requireSpeedup(dir: string): Promise<void> {
  const mixed = path.join(dir, 'mixed.onnx');
  saveModel(mlpModel({ widths: [512, 512, 512, ...Array<number>(80).fill(8)] }), mixed);
  const models = [
    ['digits MLP', path.join(__dirname, '../test/fixtures/digits_mlp.onnx')],
    ['MLP 2×512² + 80 tiny', mixed],
  ] as const;
  console.log('\n--require-speedup 1 (dynamic, batch 1):');
  for (const [name, float] of models) {
    const out = path.join(dir, `${path.basename(float, '.onnx')}.speed.onnx`);
    const plain = await quantizeFile(float, out, { mode: 'dynamic', force: true, fidelity: false });
    console.log(`  ${name}, without: ${plain.speed?.speedup.toFixed(2) ?? '?'}× float (${plain.speed?.verdict ?? 'not measured'}), ${plain.quantizedNodes} nodes quantized`);
    const started = performance.now();
    try {
      const r = await quantizeFile(float, out, { mode: 'dynamic', force: true, fidelity: false, requireSpeedup: 1 });
      const req = r.speed?.requirement;
      const kept = req?.keptFloat.map((g) => `${g.group} ×${g.nodes.length}`).join('; ') || 'nothing';
      console.log(`  ${name}, with:    ${r.speed?.speedup.toFixed(2) ?? '?'}× float after ${req?.rounds.length ?? 1} round(s), kept float: ${kept}; ${r.quantizedNodes} nodes quantized, ${r.sizeRatio.toFixed(2)}× smaller (${((performance.now() - started) / 1000).toFixed(1)} s)`);
    } catch (e) {
      console.log(`  ${name}, with:    exit 1, nothing written (${((performance.now() - started) / 1000).toFixed(1)} s): ${(e as Error).message.split('. Nothing')[0]}`);
    }
  }
}
