// `npm start` (after `npm run build`): the whole flow on the bundled samples with the built CLI.
// Quantize the digits models (dynamic: MLP, LSTM; static QDQ with calibration data: CNN), compare
// each with its float model on the labelled test set, write the reports, print one table.
// Outputs go to samples/out/ (gitignored), replaced on every run. Whatever is not available yet
// is reported and skipped: this script never fails because one step does.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const CLI = 'dist/cli.js';
const SAMPLES = 'samples';
const OUT = join(SAMPLES, 'out');
const BATCH = 32;
const RUNS = 200;
const data = (name) => join(SAMPLES, name);

const plan = [
  { model: 'digits_mlp', mode: 'dynamic', args: ['--mode', 'dynamic'] },
  { model: 'digits_cnn', mode: 'static', args: ['--mode', 'static', '--format', 'qdq', '--calibration-data', data('digits_calib_x.npy')] },
  { model: 'digits_lstm', mode: 'dynamic', args: ['--mode', 'dynamic'] },
];

if (!existsSync(CLI)) {
  console.error(`${CLI} is missing: run 'npm run build' first (npm start does).`);
  process.exit(1);
}
mkdirSync(OUT, { recursive: true });

/** Run the CLI with --json; returns the parsed object or the error line. */
function cli(args) {
  const r = spawnSync(process.execPath, [CLI, ...args, '--json'], { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  if (r.status === 0) {
    try {
      return { ok: true, value: JSON.parse(r.stdout) };
    } catch {
      return { ok: false, error: 'unreadable JSON output' };
    }
  }
  const line = (r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n').find((l) => l.startsWith('error:')) ?? r.stderr.trim().split('\n')[0];
  return { ok: false, error: line?.replace(/^error:\s*/, '') || `exit ${r.status}` };
}

const compareArgs = (ref, cand) => ['compare', ref, cand, '--data', data('digits_test_x.npy'), '--labels', data('digits_test_y.npy'), '--runs', String(RUNS), '--batch', String(BATCH)];

const rows = [];
const notes = [];
const pct = (x) => (x === undefined ? '-' : `${(x * 100).toFixed(2)} %`);
const kb = (b) => `${(b / 1024).toFixed(1)} KiB`; // the unit of formatBytes (core/report/format.ts)
const ms = (x) => `${x.toFixed(3)} ms`;

for (const step of plan) {
  const float = join(SAMPLES, `${step.model}.onnx`);
  const quantized = join(OUT, `${step.model}.${step.mode}.onnx`);
  process.stderr.write(`${step.model}: quantizing (${step.mode})...\n`);
  const q = cli(['quantize', float, '-o', quantized, ...step.args, '--force']);
  let cmp;
  if (q.ok) {
    process.stderr.write(`${step.model}: comparing with the float model...\n`);
    cmp = cli([...compareArgs(float, quantized), '--report']);
    if (!cmp.ok) notes.push(`${step.model} ${step.mode}: comparison failed: ${cmp.error}`);
  } else {
    notes.push(`${step.model} ${step.mode}: not available: ${q.error}`);
  }
  if (!cmp?.ok) {
    // Float figures alone: the model against itself still gives accuracy, size and latency.
    cmp = cli(compareArgs(float, float));
    if (!cmp.ok) {
      notes.push(`${step.model}: cannot evaluate the float model: ${cmp.error}`);
      continue;
    }
    const c = cmp.value;
    rows.push([step.model, 'float', pct(c.accuracy.referenceAccuracy), kb(c.size.referenceBytes), ms(c.latency.reference.p50Ms), '1.00×']);
    continue;
  }
  const c = cmp.value;
  rows.push([step.model, 'float', pct(c.accuracy.referenceAccuracy), kb(c.size.referenceBytes), ms(c.latency.reference.p50Ms), '1.00×']);
  rows.push([
    step.model,
    step.mode,
    pct(c.accuracy.candidateAccuracy),
    `${kb(c.size.candidateBytes)} (${c.size.ratio.toFixed(2)}× smaller)`,
    ms(c.latency.candidate.p50Ms),
    `${c.latency.speedup.toFixed(2)}×`,
  ]);
  if (c.reportFiles) notes.push(`${step.model} ${step.mode}: report ${c.reportFiles.find((f) => f.endsWith('.html'))}`);
}

const headers = ['model', 'variant', 'accuracy', 'size', `latency p50 (batch ${BATCH})`, 'speedup'];
const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (r) => r.map((c, i) => (i >= 2 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
console.log(`\nDigits samples: ${360} labelled test images, ONNX Runtime CPU, ${RUNS} timed runs per model (alternating float and quantized).\n`);
console.log(line(headers));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows) console.log(line(r));
if (notes.length) console.log(`\n${notes.join('\n')}`);
console.log(`\nOutputs in ${OUT}/. Try: node ${CLI} compare ${join(SAMPLES, 'digits_cnn.onnx')} ${join(OUT, 'digits_cnn.static.onnx')} --data ${data('digits_test_x.npy')} --per-layer`);
