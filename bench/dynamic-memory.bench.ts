/**
 * Dynamic quantize memory and time: a 20 M-parameter transformer and a ResNet-18-class CNN
 * (11 M parameters; 64×64 input to keep the fidelity runs short) built here, quantized in a child
 * process without checks, with validation + fidelity, and with the speed check too (the defaults).
 * Prints the quantizer's peak RSS (its VmHWM) against the target 2.5× the model + 100 MB, the
 * validation process's own peak against the same target (large models are checked in a separate
 * process after saving), and the time against a plain read + write of
 * the same bytes (target ≤ 3× without validation; timed after a warm-up quantization of a tiny
 * model, so that tsx compiling the sources is not counted). BENCH_SRC=/path/to/src runs another tree.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { saveModel } from '../src/core/onnx/save';
import type { ModelProto } from '../src/core/onnx/schema';
import { formatBytes } from '../src/core/report/format';
import { buildTransformer, transformerParams } from '../test/unit/quantize/models';
import { buildResidualCnn } from '../test/unit/quantize/static/residualCnn';

const MiB = 2 ** 20;
const SRC = process.env.BENCH_SRC ?? path.join(__dirname, '../src');

const CHILD = `
const fs = require('node:fs');
const peak = () => Number(/VmHWM:\\s+(\\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
const { quantizeFile } = require(${JSON.stringify(path.join(SRC, 'core/quantize/index.ts'))});
(async () => {
  const [model, out, check, warm] = process.argv.slice(1);
  // Load (and, under tsx, compile) the quantizer's modules on a small model first: the shipped bundle has no compile step.
  await quantizeFile(warm, out, { mode: 'dynamic', force: true, validate: false, fidelity: false });
  const checks = { none: { validate: false, fidelity: false, speedCheck: false }, validation: { speedCheck: false }, all: {} }[check];
  const options = { mode: 'dynamic', force: true, ...checks };
  const logs = [];
  const marks = {};
  const started = performance.now();
  await quantizeFile(model, out, options, {
    log: (l) => logs.push(l),
    onProgress: (p) => { if (!(p.stage in marks)) marks[p.stage] = performance.now() - started; },
  });
  const seconds = (performance.now() - started) / 1000;
  const child = logs.map((l) => /validation process: peak RSS (.*)$/.exec(l)).find(Boolean);
  const checkedFrom = marks.validating ?? marks.probing ?? marks.fidelity;
  process.stdout.write(JSON.stringify({ seconds, peak: peak(), childPeak: child ? child[1] : undefined, checkSeconds: checkedFrom !== undefined ? seconds - checkedFrom / 1000 : 0 }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

interface ChildResult {
  seconds: number;
  peak: number;
  childPeak?: string;
  checkSeconds: number;
}

/** none: the quantizer alone; validation: + validation and fidelity; all: + the speed check (the defaults). */
type Checks = 'none' | 'validation' | 'all';

function quantizeInChild(model: string, out: string, checks: Checks, warm: string): ChildResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', CHILD, model, out, checks, warm], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`quantize child failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as ChildResult;
}

/** The validation process is held to the same target as the quantizer (`441.9 MiB` as logged). */
function childTarget(text: string, target: number): string {
  const m = /^([\d.]+) (KiB|MiB|GiB)$/.exec(text);
  if (!m) return '';
  const bytes = Number(m[1]) * 2 ** ({ KiB: 10, MiB: 20, GiB: 30 }[m[2] as 'KiB' | 'MiB' | 'GiB']);
  return ` (${bytes <= target ? 'OK' : 'OVER'})`;
}

/** Read the model file and write the same bytes elsewhere (the floor any quantizer has to pay). */
function copySeconds(src: string, dst: string): number {
  const started = performance.now();
  const bytes = fs.readFileSync(src);
  const fd = fs.openSync(dst, 'w');
  fs.writeFileSync(fd, bytes);
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  const seconds = (performance.now() - started) / 1000;
  fs.rmSync(dst);
  return seconds;
}

function bench(name: string, proto: ModelProto, parameters: number, dir: string): void {
  const model = path.join(dir, `${name}.onnx`);
  saveModel(proto, model);
  const bytes = fs.statSync(model).size;
  const out = path.join(dir, `${name}.int8.onnx`);
  const copy = Math.min(...[0, 1, 2].map(() => copySeconds(model, path.join(dir, 'copy.bin'))));
  const target = 2.5 * bytes + 100 * MiB;
  console.log(`${name}: ${(parameters / 1e6).toFixed(1)} M parameters, ${formatBytes(bytes)}; read + write of the same bytes ${copy.toFixed(3)} s`);
  const warm = path.join(dir, 'warm.onnx');
  saveModel(buildTransformer({ vocab: 64, dim: 16, layers: 1, ffn: 32, seed: 2 }), warm, { force: true });
  const labels: Record<Checks, string> = { none: 'without validation', validation: 'with validation   ', all: '+ speed check     ' };
  for (const checks of ['none', 'validation', 'all'] as const) {
    const r = quantizeInChild(model, out, checks, warm);
    const time =
      checks !== 'none'
        ? `${r.seconds.toFixed(2)} s (${checks === 'all' ? 'validation, fidelity and speed check' : 'validation and fidelity'} ${r.checkSeconds.toFixed(2)} s of it)`
        : `${r.seconds.toFixed(2)} s = ${(r.seconds / copy).toFixed(1)}× the copy (target ≤ 3×: ${r.seconds <= 3 * copy ? 'OK' : 'OVER'})`;
    console.log(
      `  ${labels[checks]}: peak RSS ${formatBytes(r.peak)} = ${(r.peak / bytes).toFixed(2)}× the model ` +
        `(target ≤ 2.5× + 100 MiB = ${formatBytes(target)}: ${r.peak <= target ? 'OK' : 'OVER'})` +
        `${r.childPeak ? `, validation process peak ${r.childPeak}${childTarget(r.childPeak, target)}` : ''}, ${time}`,
    );
  }
}

export async function run(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnxq-dyn-bench-'));
  try {
    const spec = { vocab: 8000, dim: 512, layers: 6, ffn: 2048, seed: 1 };
    bench('transformer', buildTransformer(spec), transformerParams(spec), dir);
    const resnet = buildResidualCnn({ channels: [64, 128, 256, 512], blocks: 2, size: 64, classes: 1000 });
    const params = (resnet.proto.graph?.initializer ?? []).reduce((s, t) => s + t.dims.reduce((a, d) => a * Number(d), 1), 0);
    bench('resnet18-class', resnet.proto, params, dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
