/**
 * Quantizer benchmark: a transformer encoder of ≥ 20 M parameters built here (embedding + MatMul-
 * heavy layers), quantized dynamically in a child process (time and peak RSS; targets < 3 s and
 * peak < 3× the model size), then float vs int8 latency in onnxruntime-node (alternating runs).
 * Also times weight-only 4-bit and fp16 for reference.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { saveModel } from '../src/core/onnx/save';
import { createSession, ort } from '../src/core/runtime/ort';
import { buildTransformer, tokenIds, transformerParams } from '../test/unit/quantize/models';

const SPEC = { vocab: 8000, dim: 512, layers: 6, ffn: 2048, seed: 1 };
const SEQ = 128;
const MB = 1e6;

// Peak RSS from /proc/self/status VmHWM: getrusage's maxRSS survives fork+exec on Linux, so it
// would report the parent's (model-building) peak instead of the child's own.
const CHILD = `
const fs = require('node:fs');
const peak = () => { try { const m = /VmHWM:\\s+(\\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8')); if (m) return Number(m[1]) * 1024; } catch {} return process.resourceUsage().maxRSS * 1024; };
const { quantizeFile } = require(${JSON.stringify(path.join(__dirname, '../src/core/quantize/index.ts'))});
(async () => {
  const idle = peak();
  if (process.argv[3] === 'idle') { process.stdout.write(JSON.stringify({ idle })); return; }
  const started = performance.now();
  const r = await quantizeFile(process.argv[1], process.argv[2], { mode: process.argv[3], validate: false, force: true });
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(JSON.stringify({ seconds, idle, maxRss: peak(), outputBytes: r.outputBytes, quantizedNodes: r.quantizedNodes }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

interface ChildResult {
  seconds: number;
  idle: number;
  maxRss: number;
  outputBytes: number;
  quantizedNodes: number;
}

function child(input: string, output: string, mode: string): ChildResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', CHILD, input, output, mode], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`quantize child failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as ChildResult;
}

async function latency(files: string[], runs: number): Promise<number[]> {
  const O = ort();
  const sessions = await Promise.all(files.map((f) => createSession(f)));
  const feeds = { ids: new O.Tensor('int64', tokenIds(1, SEQ, SPEC.vocab), [1, SEQ]) };
  const times: number[][] = files.map(() => []);
  try {
    for (const s of sessions) for (let i = 0; i < 3; i++) await s.run(feeds);
    for (let i = 0; i < runs; i++) {
      for (const [k, s] of sessions.entries()) {
        const t = performance.now();
        await s.run(feeds);
        times[k]!.push(performance.now() - t);
      }
    }
  } finally {
    for (const s of sessions) await s.release();
  }
  return times.map((t) => t.sort((a, b) => a - b)[Math.floor(t.length / 2)]!);
}

export async function run(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnxq-qbench-'));
  try {
    const params = transformerParams(SPEC);
    const src = path.join(dir, 'transformer.onnx');
    let t = performance.now();
    saveModel(buildTransformer(SPEC), src);
    const modelBytes = fs.statSync(src).size;
    console.log(`transformer ${SPEC.layers} layers, d ${SPEC.dim}, ffn ${SPEC.ffn}, vocab ${SPEC.vocab}: ${(params / 1e6).toFixed(1)} M parameters, ${(modelBytes / MB).toFixed(1)} MB (built in ${((performance.now() - t) / 1000).toFixed(1)} s)`);
    const idle = (JSON.parse(spawnSync(process.execPath, ['--import', 'tsx', '-e', CHILD, src, '', 'idle'], { encoding: 'utf8' }).stdout) as { idle: number }).idle;
    const outputs: Record<string, string> = {};
    for (const mode of ['dynamic', 'weight-only', 'fp16']) {
      const out = path.join(dir, `transformer.${mode}.onnx`);
      const r = child(src, out, mode);
      outputs[mode] = out;
      const work = r.maxRss - idle;
      const line =
        `${mode.padEnd(11)} ${r.seconds.toFixed(2)} s` +
        (mode === 'dynamic' ? ` (target < 3 s: ${r.seconds < 3 ? 'OK' : 'OVER'})` : '') +
        `, peak RSS ${(r.maxRss / MB).toFixed(0)} MB (node+tsx idle ${(idle / MB).toFixed(0)} MB; quantizer ${(work / MB).toFixed(0)} MB = ${(work / modelBytes).toFixed(2)}× model` +
        (mode === 'dynamic' ? `, target < 3×: ${work < 3 * modelBytes ? 'OK' : 'OVER'})` : ')') +
        `, output ${(r.outputBytes / MB).toFixed(1)} MB (${(modelBytes / r.outputBytes).toFixed(2)}× smaller), ${r.quantizedNodes} nodes`;
      console.log(line);
    }
    t = performance.now();
    const [f32, i8, w4] = await latency([src, outputs['dynamic']!, outputs['weight-only']!], 20);
    console.log(
      `latency batch 1 × seq ${SEQ} (median of 20 alternating runs): float ${f32!.toFixed(1)} ms, dynamic int8 ${i8!.toFixed(1)} ms ` +
        `(float/int8 = ${(f32! / i8!).toFixed(2)}×), weight-only int4 ${w4!.toFixed(1)} ms (${(f32! / w4!).toFixed(2)}×) [${((performance.now() - t) / 1000).toFixed(0)} s]`,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) void run();
