/**
 * Validate, then publish, through the real CLI on a model over 100 MB: a run SIGKILLed while
 * loading, quantizing, saving or validating leaves nothing under the output's names, and the next
 * run on that output removes what the killed one left and succeeds; two runs on one output at
 * once: the second is refused with a message naming the first, which goes on unharmed.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { largeMlpModel, makeTempDir, writeModelFile } from '../../fixtures/build';
import { ROOT, buildCli, cliEnv, cliPath, runCli } from './inspect-helpers';

const STAGES = ['loading', 'quantizing', 'saving', 'validating'] as const;
const tmp = makeTempDir('onnxq-killed-');
process.on('exit', tmp.cleanup);
let model = '';

/** The 117 MB MLP (7 × 2048², float32), built once and kept in os.tmpdir() for later runs. */
function bigModel(): string {
  const cache = path.join(os.tmpdir(), 'onnxq-test-cache');
  const file = path.join(cache, 'mlp-2048x7-seed91.onnx');
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(cache, { recursive: true });
  const part = writeModelFile(cache, `.${path.basename(file)}.${process.pid}`, largeMlpModel(100 * 2 ** 20));
  fs.renameSync(part, file);
  return file;
}

before(() => {
  buildCli();
  // With its validation entry beside it, the CLI checks a model this large in a child process, as shipped.
  const check = path.join(path.dirname(cliPath()), 'check.js');
  if (!fs.existsSync(check)) fs.copyFileSync(path.join(ROOT, 'dist/check.js'), check);
  model = bigModel();
  assert.ok(fs.statSync(model).size >= 100 * 2 ** 20);
});

function quantizeArgs(out: string): string[] {
  return ['quantize', model, '-o', out, '--mode', 'dynamic', '--no-speed-check', '--no-fidelity'];
}

interface Run {
  child: ChildProcessByStdio<null, Readable, Readable>;
  stderr: () => string;
  /** Resolves when `line` (a stage: `quantizing...`) has been printed. */
  printed: (line: string) => Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(args: string[]): Run {
  const child = spawn(process.execPath, [cliPath(), ...args], { env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] as const });
  let err = '';
  const waiting: { line: string; resolve: () => void }[] = [];
  child.stderr.on('data', (b: Buffer) => {
    err += b.toString('utf8');
    for (const w of waiting) if (err.split('\n').includes(w.line)) w.resolve();
  });
  child.stdout.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const hang = setTimeout(() => child.kill('SIGKILL'), 60_000);
  void exited.then(() => clearTimeout(hang));
  return {
    child,
    stderr: () => err,
    printed: (line) => new Promise<void>((resolve, reject) => {
      waiting.push({ line, resolve });
      void exited.then(() => reject(new Error(`exited before printing '${line}':\n${err}`)));
    }),
    exited,
  };
}

/** Processes still running the validation entry of this test's CLI copy (an orphaned check). */
function orphanedChecks(): number[] {
  const entry = path.join(path.dirname(cliPath()), 'check.js');
  const out: number[] = [];
  for (const pid of fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      if (fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(entry)) out.push(Number(pid));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

async function until(ok: () => boolean, ms: number): Promise<boolean> {
  const end = performance.now() + ms;
  while (!ok() && performance.now() < end) await new Promise((r) => setTimeout(r, 50));
  return ok();
}

for (const stage of STAGES) {
  test(`SIGKILL while ${stage}: no output; the next run removes the leftovers and succeeds`, async () => {
    const next = STAGES[STAGES.indexOf(stage) + 1];
    const folder = fs.mkdtempSync(path.join(tmp.dir, `${stage}-`));
    const out = path.join(folder, 'q.onnx');
    // The stage lasts from tens of milliseconds (saving) to seconds; a kill that lands past it is retried.
    let hit = false;
    for (let attempt = 0; attempt < 3 && !hit; attempt++) {
      const run = start(quantizeArgs(out));
      await run.printed(`${stage}...`);
      run.child.kill('SIGKILL');
      const end = await run.exited;
      assert.equal(end.signal, 'SIGKILL', run.stderr());
      hit = !next || !run.stderr().split('\n').includes(`${next}...`);
      const left = fs.readdirSync(folder);
      assert.ok(!left.includes('q.onnx') && !left.includes('q.onnx.data'), `killed while ${stage}, the output appeared: ${left.join(', ')}`);
    }
    assert.ok(hit, `no kill landed while ${stage} in 3 attempts`);
    if (stage === 'validating') assert.ok(await until(() => orphanedChecks().length === 0, 3000), `the validation process outlived the killed run: ${orphanedChecks().join(', ')}`);

    const r = runCli([...quantizeArgs(out), '--json'], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(fs.readdirSync(folder), ['q.onnx'], 'exactly the output, no temporary');
    const result = JSON.parse(r.stdout) as { output: string; warnings: string[] };
    assert.equal(result.output, out);
    if (stage !== 'loading') assert.ok(result.warnings.some((w) => /removed \d+ temporary file/.test(w)), result.warnings.join('\n'));
  });
}

test('two runs on one output: the second is refused at once, naming the first, which finishes unharmed', async () => {
  const folder = fs.mkdtempSync(path.join(tmp.dir, 'lock-'));
  const out = path.join(folder, 'q.onnx');
  const first = start(quantizeArgs(out));
  await first.printed('quantizing...');
  const second = runCli([...quantizeArgs(out), '--force'], { timeoutMs: 30_000 });
  assert.equal(second.code, 2, second.stderr);
  assert.match(second.stderr, new RegExp(`another run \\(pid ${first.child.pid}\\) is writing '${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}'`));
  const end = await first.exited;
  assert.equal(end.code, 0, first.stderr());
  assert.deepEqual(fs.readdirSync(folder), ['q.onnx'], 'the output, no lock or temporary');
  // Once the first is done, the output is free again.
  const again = runCli([...quantizeArgs(out), '--force', '--no-validate'], { timeoutMs: 60_000 });
  assert.equal(again.code, 0, again.stderr);
});
