/**
 * Auto-exclude passes: a 16-layer MLP (width 512) in which 3 planted layers break int8, static
 * int8 with target sqnr:25, run in a child process. Prints the quantize passes and calibrations
 * (target: ≤ 4 and 1), the time, peak RSS and every point tried. BENCH_SRC=/path/to/src runs the
 * child on another tree (before/after figures; older trees report rounds only).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { formatBytes } from '../src/core/report/format';
import { writePlantedMlp } from '../test/fixtures/build/planted';
import { randomInputs, writeNpy } from '../test/unit/quantize/static/residualCnn';

const WIDTH = 512;
const SRC = process.env.BENCH_SRC ?? path.join(__dirname, '../src');

const CHILD = `
const fs = require('node:fs');
const peak = () => Number(/VmHWM:\\s+(\\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
const { quantizeWithAutoExclude } = require(${JSON.stringify(path.join(SRC, 'core/evaluate/autoExclude.ts'))});
(async () => {
  const [model, out, calib] = process.argv.slice(1);
  let calibrationLines = 0;
  const started = performance.now();
  const r = await quantizeWithAutoExclude(model, out, { mode: 'static', calibrationData: calib, force: true }, 'sqnr:25', { log: (l) => { if (l.startsWith('calibrated ')) calibrationLines++; } });
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(JSON.stringify({ seconds, peak: peak(), calibrationLines, summary: r.summary }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

export async function run(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnxq-autoexclude-bench-'));
  try {
    const planted = [3, 7, 11];
    const model = writePlantedMlp(path.join(dir, 'planted.onnx'), { width: WIDTH, layers: 16, planted });
    const calib = writeNpy(path.join(dir, 'calib.npy'), randomInputs(256, [WIDTH], 3), [256, WIDTH]);
    console.log(`planted MLP: 16 MatMul layers of ${WIDTH}×${WIDTH}, layers ${planted.join(', ')} break int8; static, target sqnr:25, 256 samples`);
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', CHILD, model, path.join(dir, 'out.onnx'), calib], { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (r.status !== 0) throw new Error(`auto-exclude child failed: ${r.stderr}`);
    const { seconds, peak, calibrationLines, summary } = JSON.parse(r.stdout) as {
      seconds: number;
      peak: number;
      calibrationLines: number;
      summary: { met: boolean; excluded: { node: string }[]; finalSqnrDb: number | null; quantizePasses?: number; points?: { excludedCount: number; outputBytes: number; sqnrDb: number | null; latencyMs: number; met: boolean }[] };
    };
    const passes = summary.quantizePasses ?? summary.excluded.length + 1;
    console.log(
      `target ${summary.met ? 'met' : 'NOT met'} (output SQNR ${summary.finalSqnrDb ?? '∞'} dB) keeping ${summary.excluded.map((e) => e.node).join(', ')} float: ` +
        `${passes} quantize passes (target ≤ 4: ${passes <= 4 ? 'OK' : 'OVER'}), ${calibrationLines} calibrations (target 1: ${calibrationLines === 1 ? 'OK' : 'OVER'}), ${seconds.toFixed(1)} s, peak RSS ${formatBytes(peak)}`,
    );
    for (const p of summary.points ?? []) {
      console.log(`  ${String(p.excludedCount).padStart(2)} float: ${formatBytes(p.outputBytes)}, SQNR ${p.sqnrDb ?? '∞'} dB, ${p.latencyMs} ms, ${p.met ? 'met' : 'missed'}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
