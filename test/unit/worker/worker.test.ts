// The background worker as the extension host uses it: the built bundle forked with IPC,
// driven through the host's JobRunner (no VS Code needed). Real models, real ONNX Runtime.
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { create } from '@bufbuild/protobuf';
import * as esbuild from 'esbuild';
import { CancelledError, InputError, WorkError } from '../../../src/core/errors';
import { readNpy, npyToFloat32 } from '../../../src/core/data/npy';
import { DataType } from '../../../src/core/onnx/dtype';
import { makeGraph, makeModel, makeNode, makeValueInfo } from '../../../src/core/onnx/builder';
import { modelToBytes } from '../../../src/core/onnx/save';
import { StringStringEntryProtoSchema, TensorProto_DataLocation } from '../../../src/core/onnx/schema';
import { floatTensor } from '../../../src/core/onnx/tensor';
import { createSession, ort } from '../../../src/core/runtime/ort';
import { JobRunner, WorkerCrashedError, removeTempFiles } from '../../../src/extension/jobs/jobRunner';
import { WorkerProcess, type Log } from '../../../src/extension/jobs/workerProcess';
import type { JobOutcome } from '../../../src/extension/jobs/workerProcess';
import { resultMismatch, type ModelOverview } from '../../../src/shared/protocol';
import { TEST_JOB_PROTOCOL, type AnyJobRequest, type AnyJobResults } from '../../../src/shared/testJobs';

const repo = path.resolve(__dirname, '../../..');
const fixtures = path.join(repo, 'test/fixtures');
const mlp = path.join(fixtures, 'digits_mlp.onnx');
// Bundled like scripts/esbuild.mjs does, into a folder from which onnxruntime-node still resolves.
const bundleDir = path.join(repo, 'node_modules/.cache/onnx-quantizer-worker-test');
const script = path.join(bundleDir, 'worker.js');

/** A log that keeps lines, so tests can assert on what the host logged. */
class MemoryLog implements Log {
  readonly lines: string[] = [];
  trace = (m: string): void => void this.lines.push(`trace ${m}`);
  debug = (m: string): void => void this.lines.push(`debug ${m}`);
  info = (m: string): void => void this.lines.push(`info ${m}`);
  warn = (m: string): void => void this.lines.push(`warn ${m}`);
  error = (m: string): void => void this.lines.push(`error ${m}`);
}

let tmp: string;
let log: MemoryLog;
// Sends the test-only jobs too (shared/testJobs.ts); its workers accept them under the test switch.
let runner: JobRunner<AnyJobRequest, AnyJobResults>;

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const waitFor = async (what: string, check: () => boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};
const leftovers = (dir: string): string[] => fs.readdirSync(dir).filter((f) => f.includes('.tmp-'));

/** A model big enough that saving and validating take a while: one MatMul with a 2048×2048 float weight (16 MiB). */
function writeBigModel(dir: string): string {
  const n = 2048;
  const weights = new Float32Array(n * n).map((_, i) => Math.sin(i) * 0.1);
  const graph = makeGraph(
    [makeNode('MatMul', ['x', 'w'], ['y'])],
    'big',
    [makeValueInfo('x', DataType.FLOAT, ['batch', n])],
    [makeValueInfo('y', DataType.FLOAT, ['batch', n])],
    [floatTensor('w', [n, n], weights)],
  );
  const model = path.join(dir, 'big.onnx');
  fs.writeFileSync(model, modelToBytes(makeModel(graph)));
  return model;
}

before(async () => {
  await esbuild.build({
    entryPoints: [path.join(repo, 'src/worker/worker.ts')],
    outfile: script,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode', 'onnxruntime-node'],
    logLevel: 'error',
  });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'oq-worker-'));
  log = new MemoryLog();
  runner = new JobRunner<AnyJobRequest, AnyJobResults>({ script, log, env: { ONNX_QUANTIZER_TEST_HOOKS: '1' }, killAfterMs: 1500, protocol: TEST_JOB_PROTOCOL });
});

after(() => {
  runner?.dispose();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('worker jobs', () => {
  test('summarize: the explorer overview of digits_mlp', async () => {
    const o = await runner.run({ kind: 'summarize', model: mlp });
    assert.equal(o.path, mlp);
    assert.deepEqual(o.inputs.map((t) => [t.name, t.dtype, t.shape.length]), [['image', 'float32', 4]]);
    assert.deepEqual(o.outputs.map((t) => t.name), ['logits']);
    const gemm = o.operators.find((g) => g.opType === 'Gemm');
    assert.ok(gemm, `no Gemm group in ${JSON.stringify(o.operators)}`);
    assert.equal(gemm.count, 3);
    assert.equal(gemm.quantizable, 3);
    assert.ok(gemm.modes.includes('dynamic'));
    // Relu has no weights: only static (QDQ) quantization acts on it.
    const relu = o.operators.find((g) => g.opType === 'Relu');
    assert.ok(relu && !relu.modes.includes('dynamic'), `Relu modes ${JSON.stringify(relu?.modes)}`);
    // 85,002 parameters; the largest is the 256×256 hidden layer (float32: 262,144 bytes).
    assert.equal(o.parameterCount, 85002);
    assert.deepEqual(o.largestInitializers[0]?.shape, [256, 256]);
    assert.equal(o.largestInitializers[0]?.bytes, 256 * 256 * 4);
    assert.equal(o.quantization.format, 'none');
    assert.equal(o.fileBytes, fs.statSync(mlp).size);
  });

  test('quantize (dynamic): output runs in ONNX Runtime and agrees with the float model', async () => {
    const out = path.join(tmp, 'digits_mlp.int8.onnx');
    const stages: string[] = [];
    const r = await runner.run({ kind: 'quantize', model: mlp, output: out, options: { mode: 'dynamic' } }, { onProgress: (p) => stages.push(p.stage) });
    assert.equal(r.output, out);
    assert.equal(r.quantizedNodes, 3);
    assert.ok(r.sizeRatio > 3, `size ratio ${r.sizeRatio}`);
    assert.equal(fs.statSync(out).size, r.outputBytes);
    assert.ok(stages.length > 0, 'no progress reported');
    assert.deepEqual(leftovers(tmp), []);

    const x = readNpy(path.join(fixtures, 'digits_test_x.npy'));
    const feeds = { image: new (ort().Tensor)('float32', npyToFloat32(x), x.shape) };
    const [ref, cand] = await Promise.all([createSession(mlp), createSession(out)]);
    const a = (await ref.run(feeds)).logits!.data as Float32Array;
    const b = (await cand.run(feeds)).logits!.data as Float32Array;
    await Promise.all([ref.release(), cand.release()]);
    const n = x.shape[0]!;
    let same = 0;
    for (let i = 0; i < n; i++) {
      const row = (v: Float32Array): number => {
        let best = 0;
        for (let k = 1; k < 10; k++) if (v[i * 10 + k]! > v[i * 10 + best]!) best = k;
        return best;
      };
      if (row(a) === row(b)) same++;
    }
    assert.ok(same / n >= 0.97, `arg-max agreement ${same}/${n}`);
  });

  test('compare: float vs int8 on the test set, report files written next to the candidate', async () => {
    const candidate = path.join(tmp, 'digits_mlp.int8.onnx');
    if (!fs.existsSync(candidate)) await runner.run({ kind: 'quantize', model: mlp, output: candidate, options: { mode: 'dynamic' } });
    const stem = candidate.replace(/\.onnx$/, '');
    const r = await runner.run({
      kind: 'compare',
      reference: mlp,
      candidate,
      data: path.join(fixtures, 'digits_test_x.npy'),
      labels: path.join(fixtures, 'digits_test_y.npy'),
      runs: 5,
      reportStem: stem,
    });
    assert.equal(r.size.referenceBytes, fs.statSync(mlp).size);
    assert.equal(r.size.candidateBytes, fs.statSync(candidate).size);
    assert.equal(r.accuracy.samples, 360);
    assert.ok(r.accuracy.agreement >= 0.97, `agreement ${r.accuracy.agreement}`);
    assert.ok((r.accuracy.candidateAccuracy ?? 0) >= (r.accuracy.referenceAccuracy ?? 1) - 0.02, JSON.stringify(r.accuracy));
    assert.deepEqual(r.reportFiles, [`${stem}.quant-report.json`, `${stem}.quant-report.md`, `${stem}.quant-report.html`]);
    const report = JSON.parse(fs.readFileSync(`${stem}.quant-report.json`, 'utf8')) as { kind: string; size: { ratio: number } };
    assert.equal(report.kind, 'onnx-quantizer-report');
    assert.equal(report.size.ratio, r.size.ratio);
    assert.deepEqual(leftovers(tmp), []);
  });

  test('bench, per-layer and graph results of real runs pass their kinds\' result checks', async () => {
    const candidate = path.join(tmp, 'digits_mlp.int8.onnx');
    if (!fs.existsSync(candidate)) await runner.run({ kind: 'quantize', model: mlp, output: candidate, options: { mode: 'dynamic' } });
    // Each run() rejects with a WorkError if its result does not match its kind's shape.
    const bench = await runner.run({ kind: 'bench', model: mlp, runs: 3, warmup: 1 });
    assert.equal(bench.runs, 3);
    const layers = await runner.run({ kind: 'perLayer', reference: mlp, candidate, data: path.join(fixtures, 'digits_test_x.npy') });
    assert.ok(layers.length > 0 && layers.every((l) => typeof l.node === 'string'));
    const graph = await runner.run({ kind: 'graph', model: mlp });
    assert.ok('nodes' in graph && Array.isArray(graph.nodes) && graph.nodes.length > 0);
    // With writeTo the graph goes to a file (what the webview fetches) and only its name comes back.
    const writeTo = path.join(tmp, 'graph.json');
    const file = await runner.run({ kind: 'graph', model: mlp, writeTo });
    assert.ok('file' in file && file.file === writeTo && file.nodes === graph.nodes.length, JSON.stringify(file));
    assert.deepEqual(JSON.parse(fs.readFileSync(writeTo, 'utf8')).nodes, graph.nodes);
  });

  test('compare without data, testDataBeside: the labelled test set beside the float model is used and named', async () => {
    const candidate = path.join(tmp, 'digits_mlp.int8.onnx');
    if (!fs.existsSync(candidate)) await runner.run({ kind: 'quantize', model: mlp, output: candidate, options: { mode: 'dynamic' } });
    const r = await runner.run({ kind: 'compare', reference: mlp, candidate, runs: 2, testDataBeside: true });
    assert.deepEqual(r.dataBeside, { data: path.join(fixtures, 'digits_test_x.npy'), labels: path.join(fixtures, 'digits_test_y.npy') });
    assert.equal(r.accuracy.inputs, 'data');
    assert.equal(r.accuracy.samples, 360);
    assert.equal(typeof r.accuracy.candidateAccuracy, 'number');
  });

  test('an unsafe external-data model is refused with a clear InputError', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'unsafe-'));
    fs.writeFileSync(path.join(tmp, 'secret.bin'), Buffer.alloc(64));
    const w = floatTensor('w', [4, 4], new Float32Array(16));
    w.rawData = new Uint8Array(0);
    w.dataLocation = TensorProto_DataLocation.EXTERNAL;
    w.externalData = [
      create(StringStringEntryProtoSchema, { key: 'location', value: '../secret.bin' }),
      create(StringStringEntryProtoSchema, { key: 'offset', value: '0' }),
      create(StringStringEntryProtoSchema, { key: 'length', value: '64' }),
    ];
    const graph = makeGraph([makeNode('MatMul', ['x', 'w'], ['y'])], 'g', [makeValueInfo('x', DataType.FLOAT, [1, 4])], [makeValueInfo('y', DataType.FLOAT, [1, 4])], [w]);
    const file = path.join(dir, 'unsafe.onnx');
    fs.writeFileSync(file, modelToBytes(makeModel(graph)));
    await assert.rejects(runner.run({ kind: 'summarize', model: file }), (e: unknown) => e instanceof InputError && /secret\.bin|outside|unsafe/i.test(e.message));
    await assert.rejects(
      runner.run({ kind: 'quantize', model: file, output: path.join(dir, 'out.onnx'), options: { mode: 'dynamic' } }),
      (e: unknown) => e instanceof InputError,
    );
    assert.deepEqual(fs.readdirSync(dir), ['unsafe.onnx']);
  });
});

describe('cancellation and crashes', () => {
  test('cancel a long benchmark: the job stops promptly and its worker exits', async () => {
    const controller = new AbortController();
    let pid = -1;
    const job = runner.run({ kind: 'bench', model: mlp, runs: 10_000_000, warmup: 0 }, {
      signal: controller.signal,
      onProgress: () => {
        pid = runner.workerPids.at(-1) ?? -1;
        controller.abort();
      },
    });
    const started = Date.now();
    await assert.rejects(job, CancelledError);
    assert.ok(Date.now() - started < 3000, 'cancel took too long');
    assert.ok(pid > 0);
    await waitFor('worker exit', () => !alive(pid));
    assert.ok(log.lines.some((l) => l.includes('cancelled')), 'cancellation not logged');
  });

  test('a job that ignores cancellation is killed after the grace period', async () => {
    const controller = new AbortController();
    const job = runner.run({ kind: 'stall', ms: 20_000 }, { signal: controller.signal });
    await waitFor('worker start', () => runner.workerPids.length > 0);
    const pid = runner.workerPids.at(-1)!;
    const started = Date.now();
    setTimeout(() => controller.abort(), 100);
    await assert.rejects(job, CancelledError);
    const took = Date.now() - started;
    assert.ok(took >= 1500 && took < 5000, `took ${took} ms`);
    await waitFor('worker killed', () => !alive(pid));
    assert.ok(log.lines.some((l) => l.includes('killing worker')));
  });

  test('a native crash is reported, and the next job starts a fresh worker', async () => {
    await assert.rejects(runner.run({ kind: 'crash', how: 'abort' }), (e: unknown) => e instanceof WorkerCrashedError && /SIGABRT/.test(e.message));
    await assert.rejects(runner.run({ kind: 'crash', how: 'exit' }), (e: unknown) => e instanceof WorkerCrashedError && /exit code 3/.test(e.message));
    const o = await runner.run({ kind: 'summarize', model: mlp });
    assert.equal(o.outputs[0]?.name, 'logits');
  });

  test('SIGKILL mid-quantize leaves neither output nor temp files', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'kill-'));
    const model = writeBigModel(dir);
    const out = path.join(dir, 'big.int8.onnx');
    let killed = false;
    const job = runner.run({ kind: 'quantize', model, output: out, options: { mode: 'dynamic', validate: false } }, {
      onProgress: (p) => {
        if (p.stage === 'saving' || (p.fraction ?? 0) > 0.3) {
          const pid = runner.workerPids.at(-1)!;
          if (!killed) process.kill(pid, 'SIGKILL');
          killed = true;
        }
      },
    });
    await assert.rejects(job, WorkerCrashedError);
    assert.ok(killed, 'the job ended before it could be killed');
    assert.ok(!fs.existsSync(out), 'partial output left behind');
    assert.deepEqual(leftovers(dir), []);
  });

  test('workers do not linger: a job\'s own worker exits after it, the shared one after idling', async () => {
    const r = new JobRunner({ script, log: new MemoryLog(), idleMs: 300 });
    try {
      await r.run({ kind: 'summarize', model: mlp });
      const shared = r.workerPids;
      assert.equal(shared.length, 1);
      const bench = r.run({ kind: 'bench', model: mlp, runs: 3, warmup: 0 });
      await waitFor('bench worker start', () => r.workerPids.length === 2);
      const own = r.workerPids.find((p) => p !== shared[0])!;
      const result = await bench;
      assert.equal(result.runs, 3);
      await waitFor('bench worker exit', () => !alive(own));
      await waitFor('idle summarize worker exit', () => !alive(shared[0]!));
      assert.deepEqual(r.workerPids, []);
    } finally {
      r.dispose();
    }
  });

  test('cancelled while ONNX Runtime validates the output: nothing was published and nothing is left', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'validate-'));
    const model = writeBigModel(dir);
    const out = path.join(dir, 'big.int8.onnx');
    const keep = path.join(dir, 'other.onnx');
    fs.writeFileSync(keep, 'untouched');
    const memory = new MemoryLog();
    // No grace period: the worker is killed as soon as the cancel is sent, while the output is checked in its staging folder.
    const impatient = new JobRunner({ script, log: memory, killAfterMs: 0 });
    const controller = new AbortController();
    let sawValidating = false;
    let outputInPlace = false;
    try {
      const job = impatient.run({ kind: 'quantize', model, output: out, options: { mode: 'dynamic' } }, {
        signal: controller.signal,
        onProgress: (p) => {
          if (p.stage === 'validating') {
            sawValidating = true;
            outputInPlace = fs.existsSync(out);
            controller.abort();
          }
        },
      });
      await assert.rejects(job, CancelledError);
    } finally {
      impatient.dispose();
    }
    assert.ok(sawValidating, 'no validating stage reported');
    assert.ok(!outputInPlace, 'the output was published before it was validated');
    assert.ok(!fs.existsSync(out), 'the cancelled job left its output');
    assert.equal(fs.readFileSync(keep, 'utf8'), 'untouched');
    assert.deepEqual(leftovers(dir), []);
    assert.ok(memory.lines.some((l) => l.includes('removed partial file')), memory.lines.join('\n'));
  });

  test('removeTempFiles removes only the dead worker\'s temp siblings', () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'temps-'));
    const out = path.join(dir, 'm.int8.onnx');
    const mine = ['.m.int8.onnx.tmp-4242-abcd', '.m.int8.onnx.data.tmp-4242-beef'];
    const other = ['.m.int8.onnx.tmp-777-abcd', 'm.onnx'];
    for (const f of [...mine, ...other]) fs.writeFileSync(path.join(dir, f), 'x');
    removeTempFiles({ kind: 'quantize', model: 'm.onnx', output: out, options: { mode: 'dynamic' } }, 4242, new MemoryLog());
    assert.deepEqual(fs.readdirSync(dir).sort(), other.sort());
  });
});

describe('protocol hygiene', () => {
  test('malformed messages are ignored by the worker, which keeps serving', async () => {
    const w = new WorkerProcess({ script, log: new MemoryLog() });
    try {
      for (const junk of [null, 42, 'hello', [], {}, { v: 2, id: 1, kind: 'start' }, { v: 1, id: -1, kind: 'start' }, { v: 1, id: 5, kind: 'start', job: { kind: 'rm -rf' } }, { v: 1, id: 6, kind: 'start', job: { kind: 'summarize' } }]) {
        w.sendRaw(junk);
      }
      const { outcome } = w.start({ kind: 'summarize', model: mlp }, {});
      const end: JobOutcome = await outcome;
      assert.equal(end.kind, 'result');
      assert.ok(w.alive);
    } finally {
      w.kill();
    }
  });

  test('a result that is not its job kind\'s shape fails the job with a WorkError naming the field', async () => {
    // A worker that answers every job with a quantize result whose first skipped node has no reason.
    const liar = path.join(tmp, 'liar-worker.js');
    const result = { output: '/m.int8.onnx', inputBytes: 10, outputBytes: 4, sizeRatio: 2.5, quantizedNodes: 1, skippedNodes: [{ node: 'a', why: 'x' }], seconds: 0.1, mode: 'dynamic', effectiveOptions: { mode: 'dynamic' }, warnings: [] };
    fs.writeFileSync(liar, `process.on('message', (m) => m.kind === 'start' && process.send({ v: 1, id: m.id, kind: 'result', result: ${JSON.stringify(result)} }));\nprocess.on('disconnect', () => process.exit(0));\n`);
    const memory = new MemoryLog();
    const liarRunner = new JobRunner({ script: liar, log: memory });
    try {
      await assert.rejects(
        liarRunner.run({ kind: 'quantize', model: mlp, output: path.join(tmp, 'liar.int8.onnx'), options: { mode: 'dynamic' } }),
        (e: unknown) => e instanceof WorkError && /malformed result \(quantize result: skippedNodes\[0\]\.reason is not as expected\)/.test(e.message),
      );
      assert.ok(memory.lines.some((l) => /^error .*skippedNodes\[0\]\.reason/.test(l)), 'the host logs the mismatch');
      // The same result with the reason passes the check.
      assert.equal(resultMismatch('quantize', { ...result, skippedNodes: [{ node: 'a', reason: 'x' }] }), undefined);
    } finally {
      liarRunner.dispose();
    }
  });

  test('a real summarize result matches its shape; one field off is named with its path', async () => {
    const overview: ModelOverview = await runner.run({ kind: 'summarize', model: mlp });
    assert.equal(resultMismatch('summarize', overview), undefined);
    const layer = overview.layers[0];
    assert.ok(layer, 'digits_mlp has layers');
    assert.equal(resultMismatch('summarize', { ...overview, layers: [{ ...layer, weightBytes: String(layer.weightBytes) }] }), 'summarize result: layers[0].weightBytes is not as expected');
    assert.equal(resultMismatch('summarize', { ...overview, producer: undefined }), 'summarize result: producer is not as expected');
    assert.equal(resultMismatch('summarize', [overview]), 'summarize result is not what a summarize job returns');
    assert.equal(resultMismatch('perLayer', [{ tensor: 't', node: 'n', opType: 'MatMul', candidateTensor: 't', sqnrDb: null, identical: true, cosine: 1, maxAbsError: 0 }]), 'perLayer result: [0].localSqnrDb is not as expected');
  });

  test('test-only jobs are refused without ONNX_QUANTIZER_TEST_HOOKS, and the worker keeps serving', async () => {
    const w = new WorkerProcess({ script, log: new MemoryLog(), env: { ONNX_QUANTIZER_TEST_HOOKS: '0' } });
    try {
      const end = await w.start({ kind: 'crash', how: 'abort' }, {}).outcome;
      assert.deepEqual(end, { kind: 'error', name: 'InputError', message: 'job refused: unknown job kind "crash"' });
      const next = await w.start({ kind: 'summarize', model: mlp }, {}).outcome;
      assert.equal(next.kind, 'result');
      assert.ok(w.alive);
    } finally {
      w.kill();
    }
  });

  test('with the switch, a malformed test job is refused with its reason', async () => {
    const w = new WorkerProcess({ script, log: new MemoryLog(), env: { ONNX_QUANTIZER_TEST_HOOKS: '1' }, protocol: TEST_JOB_PROTOCOL });
    try {
      const end = await w.start({ kind: 'crash', how: 'segv' }, {}).outcome;
      assert.deepEqual(end, { kind: 'error', name: 'InputError', message: 'job refused: crash how must be abort or exit' });
      const stalled = await w.start({ kind: 'stall', ms: 10 }, {}).outcome;
      assert.deepEqual(stalled, { kind: 'result', result: { ms: 10 } });
    } finally {
      w.kill();
    }
  });

  test('a production job the worker rejects is answered with an InputError, not left waiting', async () => {
    const w = new WorkerProcess({ script, log: new MemoryLog() });
    try {
      const end = await w.start({ kind: 'bench', model: mlp, runs: -1 }, {}).outcome;
      assert.deepEqual(end, { kind: 'error', name: 'InputError', message: 'job refused: bench runs must be a count' });
    } finally {
      w.kill();
    }
  });
});
