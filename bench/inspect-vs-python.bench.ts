/**
 * Whole-process `inspect --json` (node dist/cli.js) against python3-onnx's `onnx.load` + op
 * count (Debian's /usr/bin/python3 with python3-onnx), on a ResNet-18-class model built here
 * (11 M parameters at 1000 classes), the two commands timed in alternation in one run.
 * Target: inspect ≤ 0.5× python (median wall time; CPU time printed too).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { saveModel } from '../src/core/onnx/save';
import { formatBytes } from '../src/core/report/format';
import { percentile } from '../src/core/evaluate/stats';
import { buildResidualCnn } from '../test/unit/quantize/static/residualCnn';

const RUNS = 9;
const TARGET = 0.5;
const CLI = path.join(__dirname, '../dist/cli.js');
const PYTHON = '/usr/bin/python3';
const PY_INSPECT = 'import collections, sys, onnx\nm = onnx.load(sys.argv[1])\nprint(len(collections.Counter(n.op_type for n in m.graph.node)))';

interface Timed {
  wallMs: number;
  cpuMs: number | undefined;
}

/** Wall time of a whole process, and its CPU time when GNU time is there (waiting for a core is not work). */
function timeProcess(command: string, args: string[]): Timed {
  const timed = fs.existsSync('/usr/bin/time');
  const started = performance.now();
  const r = timed
    ? spawnSync('/usr/bin/time', ['-f', '%U %S', command, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 })
    : spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  const wallMs = performance.now() - started;
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${r.stderr}`);
  const last = timed ? r.stderr.trim().split('\n').pop() : undefined;
  const [user, sys] = (last ?? '').split(' ').map(Number);
  return { wallMs, cpuMs: user !== undefined && sys !== undefined && Number.isFinite(user + sys) ? (user + sys) * 1000 : undefined };
}

const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);

export async function run(): Promise<void> {
  if (!fs.existsSync(CLI)) {
    console.log('skipped: dist/cli.js not built (npm run build)');
    return;
  }
  if (spawnSync(PYTHON, ['-c', 'import onnx'], { encoding: 'utf8' }).status !== 0) {
    console.log(`skipped: ${PYTHON} has no onnx module (apt-get install -y python3-onnx)`);
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnxq-inspect-py-'));
  try {
    const model = path.join(dir, 'resnet18-class.onnx');
    const built = buildResidualCnn({ channels: [64, 128, 256, 512], blocks: 2, size: 64, classes: 1000 });
    saveModel(built.proto, model);
    console.log(`ResNet-18-class: ${built.proto.graph?.node.length ?? 0} nodes, ${formatBytes(fs.statSync(model).size)}; ${RUNS} alternating runs each, load average ${os.loadavg()[0]?.toFixed(1)}`);
    const ours: Timed[] = [];
    const python: Timed[] = [];
    // One warm-up each (page cache, Node's compile cache), then alternating.
    timeProcess(process.execPath, [CLI, 'inspect', model, '--json']);
    timeProcess(PYTHON, ['-c', PY_INSPECT, model]);
    for (let i = 0; i < RUNS; i++) {
      ours.push(timeProcess(process.execPath, [CLI, 'inspect', model, '--json']));
      python.push(timeProcess(PYTHON, ['-c', PY_INSPECT, model]));
    }
    const wall = median(ours.map((t) => t.wallMs)) / median(python.map((t) => t.wallMs));
    const cpus = (ts: Timed[]) => ts.map((t) => t.cpuMs).filter((x): x is number => x !== undefined);
    const cpu = cpus(ours).length ? median(cpus(ours)) / median(cpus(python)) : NaN;
    const verdict = (r: number) => (r <= TARGET ? 'OK' : 'OVER');
    console.log(`  inspect --json : median wall ${median(ours.map((t) => t.wallMs)).toFixed(0)} ms${cpus(ours).length ? `, CPU ${median(cpus(ours)).toFixed(0)} ms` : ''}`);
    console.log(`  python onnx.load + op count: median wall ${median(python.map((t) => t.wallMs)).toFixed(0)} ms${cpus(python).length ? `, CPU ${median(cpus(python)).toFixed(0)} ms` : ''}`);
    console.log(`  ratio: wall ${wall.toFixed(2)}× (target ≤ ${TARGET}×: ${verdict(wall)})${Number.isFinite(cpu) ? `, CPU ${cpu.toFixed(2)}× (${verdict(cpu)})` : ''}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
