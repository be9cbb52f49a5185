import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { quantizeFile } from '../../../src/core/quantize/index';
import { speedFigures } from '../../../src/core/quantize/speedCheck';
import { InputError, WorkError } from '../../../src/core/errors';
import { saveModel } from '../../../src/core/onnx/save';
import { mlpModel } from '../../fixtures/build/models';
import { tempDir } from './helpers';

const dir = tempDir('speed');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

// 40 MatMuls of 8×8: dynamic int8 adds a DynamicQuantizeLinear per layer that costs far more
// than an 8×8 float product, so the quantized model is slower on any CPU.
const tinyChain = path.join(dir, 'tiny_chain.onnx');
saveModel(mlpModel({ inDim: 8, hidden: 8, outDim: 8, layers: 40 }), tinyChain);

test('a chain of tiny MatMuls quantized dynamic is measured slower than float, with the CPU flags, and warned about', async () => {
  const r = await quantizeFile(tinyChain, path.join(dir, 'tiny.int8.onnx'), { mode: 'dynamic', fidelity: false });
  const s = r.speed;
  assert.ok(s, 'the result carries the speed check');
  assert.equal(s.verdict, 'slower', JSON.stringify(s));
  assert.ok(s.speedup < 1 && s.floatP50Ms > 0 && s.quantizedP50Ms > s.floatP50Ms, JSON.stringify(s));
  assert.ok(Math.abs(s.speedup - s.floatP50Ms / s.quantizedP50Ms) < 0.01, 'speedup is float p50 over quantized p50');
  assert.ok(s.runs >= 20 && s.batch === 1 && s.noise >= 0, JSON.stringify(s));
  assert.match(s.inputShapes, /x \[1, 8\]/);
  assert.match(s.cpuFlags, /AVX2|no AVX2/);
  const warning = r.warnings.find((w) => w.startsWith('slower than float on this CPU'));
  assert.ok(warning, r.warnings.join('\n'));
  assert.ok(warning.includes(s.cpuFlags) && /MatMul/.test(warning), warning);
});

test('--require-speedup: below the factor the run fails and writes nothing; --no-speed-check leaves no figure', async () => {
  const strict = path.join(dir, 'tiny.strict.onnx');
  await assert.rejects(
    quantizeFile(tinyChain, strict, { mode: 'dynamic', fidelity: false, requireSpeedup: 1 }),
    (e: unknown) => e instanceof WorkError && /below --require-speedup 1/.test(e.message) && /Nothing was written/.test(e.message),
  );
  assert.equal(fs.existsSync(strict), false);
  assert.ok(!fs.readdirSync(dir).some((n) => n.includes('.tmp-')));
  const off = await quantizeFile(tinyChain, path.join(dir, 'tiny.off.onnx'), { mode: 'dynamic', fidelity: false, speedCheck: false });
  assert.equal(off.speed, undefined);
  await assert.rejects(quantizeFile(tinyChain, path.join(dir, 'x.onnx'), { mode: 'dynamic', speedCheck: false, requireSpeedup: 1 }), InputError);
  await assert.rejects(quantizeFile(tinyChain, path.join(dir, 'x.onnx'), { mode: 'dynamic', requireSpeedup: 0 }), InputError);
});

test('speed figures: the verdict needs a difference beyond the noise (A/A control and the interval of the median)', () => {
  const at = { mode: 'dynamic' as const, threads: 2, batch: 1, inputShapes: 'x [1, 8]', cpuFlags: 'AVX2' };
  const jitter = (base: number, i: number) => base * (1 + 0.01 * Math.sin(i * 1.7));
  const n = Array.from({ length: 60 }, (_, i) => i);
  const faster = speedFigures(n.map((i) => jitter(2, i)), n.map((i) => jitter(1, i + 3)), n.map((i) => jitter(2, i + 5)), at);
  assert.equal(faster.verdict, 'faster');
  assert.ok(Math.abs(faster.speedup - 2) < 0.05 && faster.noise < 0.05, JSON.stringify(faster));
  assert.match(faster.summary, /^2\.0\d× faster than float/);
  // A control session 20 % off: the machine is noisy, a 10 % difference is not a verdict.
  const noisy = speedFigures(n.map((i) => jitter(1.1, i)), n.map((i) => jitter(1, i)), n.map((i) => jitter(1.32, i)), at);
  assert.equal(noisy.verdict, 'same');
  assert.ok(noisy.noise >= 0.19, JSON.stringify(noisy));
});

const ROOT = path.join(__dirname, '../../..');
const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), ...args], { encoding: 'utf8', cwd: ROOT });

test('CLI: speed in the table and JSON; --require-speedup exits 1 with a clear message and writes nothing', () => {
  const out = path.join(dir, 'tiny_cli.int8.onnx');
  let r = cli(['quantize', tinyChain, '-o', out, '--no-fidelity', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const json = JSON.parse(r.stdout);
  assert.equal(json.speed.verdict, 'slower');
  assert.ok(json.speed.floatP50Ms > 0 && json.speed.speedup < 1);
  assert.match(r.stderr, /warning: slower than float on this CPU \(flags: /);

  r = cli(['quantize', tinyChain, '-o', out, '--no-fidelity', '--force']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /speed vs float\s+SLOWER: slower than float/);

  const strict = path.join(dir, 'tiny_cli.strict.onnx');
  r = cli(['quantize', tinyChain, '-o', strict, '--no-fidelity', '--require-speedup', '1.2']);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /^error: speed check: the quantized model runs at 0\.\d\d× float's speed, below --require-speedup 1\.2/m);
  assert.equal(fs.existsSync(strict), false);

  r = cli(['quantize', tinyChain, '-o', strict, '--no-speed-check', '--require-speedup', '1']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--require-speedup needs the speed check/);
});
