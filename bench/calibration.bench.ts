/**
 * Static calibration memory: a MobileNetV2-class net (224×224) and a 640×640 detector built here,
 * static-quantized (MinMax and entropy) in a child process with a 256 MiB memory budget and without
 * one. Prints peak RSS (the child's VmHWM) against the target model + budget + 150 MB, the slices and
 * batch the budget led to, and the time. BENCH_SRC=/path/to/src runs the child on another tree
 * (e.g. an older commit, for before/after figures).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { saveModel } from '../src/core/onnx/save';
import { formatBytes } from '../src/core/report/format';
import { buildDetector640, buildMobileNetV2, type VisionNet } from '../test/fixtures/build/vision';
import { randomInputs, writeNpy } from '../test/unit/quantize/static/residualCnn';

const MiB = 2 ** 20;
const BUDGET_MIB = 256;
const SRC = process.env.BENCH_SRC ?? path.join(__dirname, '../src');

const CHILD = `
const fs = require('node:fs');
const peak = () => Number(/VmHWM:\\s+(\\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
const { quantizeFile } = require(${JSON.stringify(path.join(SRC, 'core/quantize/index.ts'))});
(async () => {
  const [model, out, calib, method, budget] = process.argv.slice(1);
  const options = { mode: 'static', calibrationData: calib, calibrationMethod: method, validate: false, fidelity: false, force: true };
  if (budget !== 'none') options.memoryBudget = Number(budget);
  const logs = [];
  const started = performance.now();
  await quantizeFile(model, out, options, { log: (l) => logs.push(l) });
  const seconds = (performance.now() - started) / 1000;
  const calibrated = logs.find((l) => l.startsWith('calibrated ')) ?? '';
  process.stdout.write(JSON.stringify({ seconds, peak: peak(), calibrated }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

interface ChildResult {
  seconds: number;
  peak: number;
  calibrated: string;
}

function quantizeInChild(model: string, out: string, calib: string, method: string, budget: string): ChildResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', CHILD, model, out, calib, method, budget], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`quantize child failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as ChildResult;
}

async function bench(name: string, net: VisionNet, samples: number, dir: string): Promise<void> {
  const model = path.join(dir, `${name}.onnx`);
  saveModel(net.proto, model);
  const calib = writeNpy(path.join(dir, `${name}.calib.npy`), randomInputs(samples, net.inputShape, 5), [samples, ...net.inputShape]);
  const modelBytes = fs.statSync(model).size;
  const dataBytes = fs.statSync(calib).size;
  console.log(`${name}: ${(net.parameters / 1e6).toFixed(2)} M parameters, ${formatBytes(modelBytes)}; ${samples} calibration samples (${formatBytes(dataBytes)})`);
  const target = modelBytes + BUDGET_MIB * MiB + 150 * MiB;
  for (const method of ['minmax', 'entropy']) {
    for (const budget of [String(BUDGET_MIB), 'none']) {
      const r = quantizeInChild(model, path.join(dir, `${name}.int8.onnx`), calib, method, budget);
      const how = /\(.*\)$/.exec(r.calibrated)?.[0] ?? '';
      const verdict = budget === 'none' ? '' : ` (target ≤ model + ${BUDGET_MIB} MiB + 150 MiB = ${formatBytes(target)}: ${r.peak <= target ? 'OK' : 'OVER'})`;
      console.log(
        `  ${method.padEnd(7)} budget ${budget === 'none' ? 'default' : `${budget} MiB`}: peak RSS ${formatBytes(r.peak)} = ${(r.peak / modelBytes).toFixed(1)}× the model${verdict}, ${r.seconds.toFixed(1)} s ${how}`,
      );
    }
  }
}

export async function run(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnxq-calib-bench-'));
  try {
    await bench('mobilenet_v2', buildMobileNetV2(), 32, dir);
    await bench('detector_640', buildDetector640(), 8, dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
