/**
 * Issue "large models": a synthetic model with ≥ 2.5 GB of float weights in external data,
 * generated on the fly (deleted afterwards), quantized dynamically, weight-only and statically
 * (calibrated in stages, issue 14) in a child process each.
 * Prints time and peak resident memory (target < 1.5 GB) next to the time it takes to simply
 * read and write the same bytes (target: quantize within 3× of that). The static output is then
 * run in ONNX Runtime in another child next to the float model (run in stages there: it cannot be
 * loaded whole within the budget) and the output SQNR printed.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { create } from '@bufbuild/protobuf';
import { makeGraph, makeModel, makeNode, makeValueInfo } from '../src/core/onnx/builder';
import { DataType } from '../src/core/onnx/dtype';
import { modelToBytes } from '../src/core/onnx/save';
import { encodeNpy } from '../src/core/data/npy';
import { StringStringEntryProtoSchema, TensorProtoSchema, TensorProto_DataLocation } from '../src/core/onnx/schema';

const DIM = 4096;
const LAYERS = Number(process.env.BENCH_LARGE_LAYERS ?? 40); // 40 × 64 MiB = 2.5 GiB (2.68 GB)

/** Write the model: weights straight to the data file, one layer at a time (64 MiB in memory). */
function buildLargeModel(dir: string): { model: string; weightBytes: number } {
  const dataName = 'large.onnx.data';
  const fd = fs.openSync(path.join(dir, dataName), 'w');
  const base = new Float32Array(DIM * DIM);
  let seed = 12345;
  for (let i = 0; i < base.length; i++) {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    base[i] = (seed / 2 ** 32 - 0.5) * 0.05;
  }
  const layer = new Float32Array(base.length);
  const bytes = new Uint8Array(layer.buffer);
  const initializers = [];
  const nodes = [];
  let offset = 0;
  for (let l = 0; l < LAYERS; l++) {
    const f = 1 + l / LAYERS;
    for (let i = 0; i < base.length; i++) layer[i] = base[i]! * f;
    fs.writeSync(fd, bytes, 0, bytes.length, offset);
    const t = create(TensorProtoSchema, {
      name: `w${l}`,
      dataType: DataType.FLOAT,
      dims: [BigInt(DIM), BigInt(DIM)],
      dataLocation: TensorProto_DataLocation.EXTERNAL,
      externalData: [
        create(StringStringEntryProtoSchema, { key: 'location', value: dataName }),
        create(StringStringEntryProtoSchema, { key: 'offset', value: String(offset) }),
        create(StringStringEntryProtoSchema, { key: 'length', value: String(bytes.length) }),
      ],
    });
    offset += bytes.length;
    initializers.push(t);
    nodes.push(makeNode('MatMul', [l === 0 ? 'x' : `h${l - 1}`, `w${l}`], [l === LAYERS - 1 ? 'y' : `h${l}`], {}, { name: `matmul${l}` }));
  }
  fs.closeSync(fd);
  const graph = makeGraph(nodes, 'large', [makeValueInfo('x', DataType.FLOAT, ['N', DIM])], [makeValueInfo('y', DataType.FLOAT, ['N', DIM])], initializers);
  const model = path.join(dir, 'large.onnx');
  // The tensors already point into the data file written above: serialise the message as it is.
  fs.writeFileSync(model, modelToBytes(makeModel(graph, { '': 17 })));
  return { model, weightBytes: offset };
}

/** Baseline: read the data file and write the same bytes elsewhere, 64 MiB at a time. */
function copyBaseline(src: string, dst: string): number {
  const started = performance.now();
  const chunk = Buffer.allocUnsafe(64 * 2 ** 20);
  const a = fs.openSync(src, 'r');
  const b = fs.openSync(dst, 'w');
  let pos = 0;
  for (;;) {
    const n = fs.readSync(a, chunk, 0, chunk.length, pos);
    if (n === 0) break;
    fs.writeSync(b, chunk, 0, n, pos);
    pos += n;
  }
  fs.fsyncSync(b);
  fs.closeSync(a);
  fs.closeSync(b);
  return (performance.now() - started) / 1000;
}

const CHILD = `
const { quantizeFile } = require(${JSON.stringify(path.join(__dirname, '../src/core/quantize/index.ts'))});
(async () => {
  const started = performance.now();
  const extra = process.argv[4] ? JSON.parse(process.argv[4]) : {};
  const logs = [];
  const r = await quantizeFile(process.argv[1], process.argv[2], { mode: process.argv[3], validate: false, force: true, ...extra }, { log: (l) => logs.push(l) });
  const seconds = (performance.now() - started) / 1000;
  // VmHWM is this process's own peak (getrusage maxRSS can carry the parent's peak across exec).
  const hwm = parseInt(require('node:fs').readFileSync('/proc/self/status', 'utf8').split('VmHWM:')[1], 10) * 1024;
  const checkRss = logs.map((l) => /validation process: peak RSS (.*)/.exec(l)?.[1]).find(Boolean);
  const sqnr = r.fidelity?.outputs.map((o) => o.sqnrDb).join(', ');
  process.stdout.write(JSON.stringify({ seconds, maxRssBytes: hwm, outputBytes: r.outputBytes, quantizedNodes: r.quantizedNodes, checkRss, sqnr, warnings: r.warnings, logs }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

interface ChildResult {
  seconds: number;
  maxRssBytes: number;
  outputBytes: number;
  quantizedNodes: number;
  /** The validation process's peak RSS as the quantizer logged it, when the checks ran in one. */
  checkRss?: string;
  sqnr?: string;
  warnings: string[];
  logs: string[];
}

function quantizeInChild(input: string, output: string, mode: string, extra: object = {}): ChildResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', CHILD, input, output, mode, JSON.stringify(extra)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`quantize child failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const GB = 1e9;

/** Calibration samples of the static case (rows of x), and how many of them the SQNR check runs. */
const CALIBRATION_SAMPLES = 16;
const CHECK_SAMPLES = 4;

function writeCalibration(file: string): void {
  const values = new Float32Array(CALIBRATION_SAMPLES * DIM);
  let seed = 777;
  for (let i = 0; i < values.length; i++) {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    values[i] = seed / 2 ** 32 - 0.5;
  }
  fs.writeFileSync(file, encodeNpy({ dtype: 'float32', shape: [CALIBRATION_SAMPLES, DIM], data: new Uint8Array(values.buffer) }));
}

/** Float reference (staged, within the default budget) and the quantized model whole, as deployed, on the first samples. */
const CHECK_CHILD = `
const fs = require('node:fs');
const { loadModel } = require(${JSON.stringify(path.join(__dirname, '../src/core/onnx/model.ts'))});
const { runInStages } = require(${JSON.stringify(path.join(__dirname, '../src/core/calibrate/stages.ts'))});
const { createSession, ort } = require(${JSON.stringify(path.join(__dirname, '../src/core/runtime/ort.ts'))});
const { readNpy, npyToFloat32 } = require(${JSON.stringify(path.join(__dirname, '../src/core/data/npy.ts'))});
const hwm = () => parseInt(fs.readFileSync('/proc/self/status', 'utf8').split('VmHWM:')[1], 10) * 1024;
(async () => {
  const [floatFile, quantFile, calib, n] = process.argv.slice(1);
  const x = npyToFloat32(readNpy(calib)).subarray(0, Number(n) * ${DIM});
  const feeds = () => ({ x: new (ort().Tensor)('float32', x, [Number(n), ${DIM}]) });
  let started = performance.now();
  const model = loadModel(floatFile, { lazyWeights: true });
  const ref = (await runInStages(model.proto, model, [feeds()], 256 * 2 ** 20))[0].y.data;
  const floatSeconds = (performance.now() - started) / 1000;
  const floatRss = hwm();
  started = performance.now();
  const session = await createSession(quantFile);
  const got = (await session.run(feeds())).y.data;
  await session.release();
  const quantSeconds = (performance.now() - started) / 1000;
  let signal = 0, noise = 0;
  for (let i = 0; i < ref.length; i++) { signal += ref[i] * ref[i]; noise += (ref[i] - got[i]) ** 2; }
  process.stdout.write(JSON.stringify({ sqnrDb: 10 * Math.log10(signal / noise), floatSeconds, quantSeconds, floatRss, maxRssBytes: hwm(), finite: got.every(Number.isFinite) }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

function checkInChild(floatModel: string, quantized: string, calib: string): { sqnrDb: number; floatSeconds: number; quantSeconds: number; floatRss: number; maxRssBytes: number; finite: boolean } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', CHECK_CHILD, floatModel, quantized, calib, String(CHECK_SAMPLES)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`check child failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

export async function run(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnxq-large-'));
  try {
    let started = performance.now();
    const { model, weightBytes } = buildLargeModel(dir);
    console.log(`built ${LAYERS} × [${DIM}, ${DIM}] float32 MatMul weights: ${(weightBytes / GB).toFixed(2)} GB external data in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    const baseline = copyBaseline(path.join(dir, 'large.onnx.data'), path.join(dir, 'copy.bin'));
    fs.rmSync(path.join(dir, 'copy.bin'));
    console.log(`baseline: read + write the same ${(weightBytes / GB).toFixed(2)} GB: ${baseline.toFixed(1)} s`);
    const calib = path.join(dir, 'calib.npy');
    writeCalibration(calib);
    const modes = (process.env.BENCH_LARGE_MODES ?? 'dynamic,weight-only,static').split(',');
    for (const mode of modes) {
      const out = path.join(dir, `large.${mode}.onnx`);
      started = performance.now();
      // Static: calibrated in stages under the default 512 MiB budget, validated (probe and fidelity) in the quantizer's check process.
      const r = quantizeInChild(model, out, mode, mode === 'static' ? { calibrationData: calib, validate: true } : {});
      if (process.env.BENCH_VERBOSE) console.log(r.logs.join('\n'));
      const rssGB = r.maxRssBytes / GB;
      console.log(
        `${mode.padEnd(11)} quantize: ${r.seconds.toFixed(1)} s (${(r.seconds / baseline).toFixed(2)}× the copy; target ≤ 3×${mode === 'static' ? '; calibration, validation and fidelity included' : ''}), ` +
          `peak RSS ${rssGB.toFixed(2)} GB (target < 1.5 GB) ${rssGB < 1.5 ? 'OK' : 'OVER'}, ` +
          `output ${(r.outputBytes / GB).toFixed(2)} GB, ${r.quantizedNodes} nodes quantized`,
      );
      if (mode === 'static') {
        console.log(`static     checks: validation process peak RSS ${r.checkRss ?? '(not in a child)'}, fidelity SQNR ${r.sqnr ?? 'not measured'} dB; ${r.warnings.length} warning(s)${r.warnings.length ? `: ${r.warnings.join(' | ')}` : ''}`);
        const c = checkInChild(model, out, calib);
        console.log(
          `static     output in ONNX Runtime on ${CHECK_SAMPLES} samples: SQNR ${c.sqnrDb.toFixed(1)} dB against float${c.finite ? '' : ' (NON-FINITE outputs)'}; ` +
            `float reference run in stages ${c.floatSeconds.toFixed(1)} s (peak RSS ${(c.floatRss / GB).toFixed(2)} GB), quantized model loaded whole and run ${c.quantSeconds.toFixed(1)} s (peak RSS ${(c.maxRssBytes / GB).toFixed(2)} GB)`,
        );
      }
      for (const f of fs.readdirSync(dir)) if (f.startsWith(`large.${mode}`)) fs.rmSync(path.join(dir, f));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
