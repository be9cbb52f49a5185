/**
 * inspect on a model with ≥ 100 MB of float32 weights (built in a temp folder, deleted after):
 * loadModel, summarizeModel (with weight statistics) and `node dist/cli.js inspect --json` end
 * to end, inline and with external data. Target: < 0.5 s. Then the layer analysis of a
 * 10,000-node chain (5,000 MatMuls with their weights): CPU time, target < 1 s.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { analyzeLayers } from '../src/core/analysis/layers';
import { summarizeModel } from '../src/core/analysis/summary';
import { loadModel } from '../src/core/onnx/model';
import { saveModel } from '../src/core/onnx/save';
import { hugeChainModel, largeMlpModel, makeTempDir, writeModelFile } from '../test/fixtures/build';

const TARGET_MS = 500;
const RUNS = 5;
const CLI = path.join(__dirname, '../dist/cli.js');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function time(fn: () => void): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

function measure(label: string, file: string): void {
  const load: number[] = [];
  const summary: number[] = [];
  const cli: number[] = [];
  const cliCpu: number[] = [];
  let layers = 0;
  for (let i = 0; i < RUNS; i++) {
    let model!: ReturnType<typeof loadModel>;
    load.push(time(() => (model = loadModel(file))));
    summary.push(time(() => (layers = summarizeModel(model).layers.length)));
    model.external.close();
    if (fs.existsSync(CLI)) {
      cli.push(
        time(() => {
          // /usr/bin/time reports the child's CPU seconds: on a shared machine wall time also counts waiting for a core.
          const timed = fs.existsSync('/usr/bin/time');
          const cmd = timed ? ['/usr/bin/time', ['-f', '%U %S', process.execPath, CLI, 'inspect', file, '--json']] as const : [process.execPath, [CLI, 'inspect', file, '--json']] as const;
          const r = spawnSync(cmd[0], [...cmd[1]], { encoding: 'utf8', maxBuffer: 64 << 20 });
          if (r.status !== 0) throw new Error(`inspect failed: ${r.stderr}`);
          if (timed) {
            const [user, sys] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
            cliCpu.push((user! + sys!) * 1000);
          }
        }),
      );
    }
  }
  const ok = (ms: number) => (ms < TARGET_MS ? 'ok' : 'OVER TARGET');
  console.log(`${label}: ${layers} layers reported`);
  console.log(`  loadModel             median ${median(load).toFixed(0)} ms`);
  console.log(`  summarizeModel        median ${median(summary).toFixed(0)} ms (${ok(median(summary))}; load + summary ${(median(load) + median(summary)).toFixed(0)} ms)`);
  if (cli.length) {
    const cpu = cliCpu.length ? `, CPU ${median(cliCpu).toFixed(0)} ms (${ok(median(cliCpu))})` : '';
    console.log(`  CLI inspect --json    median ${median(cli).toFixed(0)} ms wall end to end (${ok(median(cli))})${cpu}`);
  }
  else console.log('  CLI inspect --json    skipped: dist/cli.js not built (npm run build)');
}

/** CPU, not wall time: the figure should not depend on what else the machine runs. */
function measureAnalysis(): void {
  const TARGET_CPU_MS = 1000;
  const proto = hugeChainModel(10_000, 2);
  const cpu: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = process.cpuUsage();
    analyzeLayers({ proto });
    const used = process.cpuUsage(start);
    cpu.push((used.user + used.system) / 1000);
  }
  const m = median(cpu);
  console.log(`layer analysis, 10,000 nodes (5,000 weights): median ${m.toFixed(0)} ms CPU (${m < TARGET_CPU_MS ? 'ok' : 'OVER'}, target < ${TARGET_CPU_MS} ms)`);
}

export async function run(): Promise<void> {
  const { dir, cleanup } = makeTempDir('onnxq-bench-inspect-');
  try {
    const proto = largeMlpModel(100 * 2 ** 20);
    const inline = writeModelFile(dir, 'large.onnx', proto);
    const bytes = fs.statSync(inline).size;
    console.log(`load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} CPUs (timings include waiting for a core)`);
    console.log(`model: ${proto.graph!.node.length} nodes, ${(bytes / 2 ** 20).toFixed(1)} MiB inline (weights ≥ 100 MiB), ${RUNS} runs each`);
    measure('inline weights', inline);
    const externalDir = path.join(dir, 'external');
    fs.mkdirSync(externalDir);
    const source = loadModel(inline);
    const ext = path.join(externalDir, 'large.onnx');
    saveModel(source.proto, ext, { source, externalData: 'always' });
    measure('external data', ext);
    measureAnalysis();
  } finally {
    cleanup();
  }
}

if (require.main === module) void run();
