import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { quantizeFile } from '../../../src/core/quantize/index';
import { speedFigures } from '../../../src/core/quantize/speedCheck';
import { speedGroups } from '../../../src/core/quantize/speedGroups';
import { indexModel } from '../../../src/core/onnx/graph-index';
import { loadModel } from '../../../src/core/onnx/model';
import { createSession, ort } from '../../../src/core/runtime/ort';
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

test('--require-speedup: when no grouping reaches the factor the run fails and writes nothing; --no-speed-check leaves no figure', async () => {
  const strict = path.join(dir, 'tiny.strict.onnx');
  // One group only (every MatMul is 8×8): keeping it float would leave nothing quantized.
  await assert.rejects(
    quantizeFile(tinyChain, strict, { mode: 'dynamic', fidelity: false, requireSpeedup: 1 }),
    (e: unknown) =>
      e instanceof WorkError && /stays below --require-speedup 1 /.test(e.message) && /all quantized: 0\.\d\d×/.test(e.message) && /would leave nothing quantized/.test(e.message) && /Nothing was written/.test(e.message),
  );
  assert.equal(fs.existsSync(strict), false);
  assert.ok(!fs.readdirSync(dir).some((n) => n.includes('.tmp-')));
  const off = await quantizeFile(tinyChain, path.join(dir, 'tiny.off.onnx'), { mode: 'dynamic', fidelity: false, speedCheck: false });
  assert.equal(off.speed, undefined);
  await assert.rejects(quantizeFile(tinyChain, path.join(dir, 'x.onnx'), { mode: 'dynamic', speedCheck: false, requireSpeedup: 1 }), InputError);
  await assert.rejects(quantizeFile(tinyChain, path.join(dir, 'x.onnx'), { mode: 'dynamic', requireSpeedup: 0 }), InputError);
});

// Two big 512×512 MatMuls (int8 pays) followed by 80 tiny ones (each costs more quantized):
// fully quantized it is slower than float, with the tiny group (the 512×8 one and 79 of 8×8) float it is faster.
const mixed = path.join(dir, 'mixed.onnx');
saveModel(mlpModel({ widths: [512, 512, 512, ...Array<number>(80).fill(8)] }), mixed);

test('speed groups: the quantized nodes by op type and size class, smallest work per node first', () => {
  const index = indexModel(loadModel(mixed).proto);
  const keys = index.nodes.filter((n) => n.node.opType === 'MatMul').map((n) => n.key);
  const groups = speedGroups(index, keys, 'dynamic');
  assert.deepEqual(
    groups.map((g) => [g.opType, g.sizeClass, g.nodes.length]),
    [
      ['MatMul', 'tiny', 80],
      ['MatMul', 'medium', 2],
    ],
  );
  assert.match(groups[0]?.label ?? '', /^MatMul, tiny weights \(< 16 Ki elements\)$/);
  assert.deepEqual(groups[1]?.nodes, ['matmul_0', 'matmul_1']);
});

test('--require-speedup 1 keeps the tiny MatMul group float, re-measures, and the written model is faster than float', async () => {
  const plain = await quantizeFile(mixed, path.join(dir, 'mixed.all.onnx'), { mode: 'dynamic', fidelity: false });
  assert.equal(plain.speed?.verdict, 'slower', plain.speed?.summary);
  const out = path.join(dir, 'mixed.int8.onnx');
  const r = await quantizeFile(mixed, out, { mode: 'dynamic', fidelity: false, requireSpeedup: 1 });
  const s = r.speed;
  const req = s?.requirement;
  assert.ok(s && req, 'the speed result says how the requirement was met');
  assert.ok(s.speedup >= 1, s.summary);
  assert.equal(req.met, true);
  assert.deepEqual(req.keptFloat.map((g) => [g.opType, g.sizeClass, g.nodes.length]), [['MatMul', 'tiny', 80]]);
  assert.equal(req.rounds.length, 2);
  assert.ok((req.rounds[0]?.speedup ?? 1) < 1 && req.rounds[0]?.quantizedNodes === 82, JSON.stringify(req.rounds));
  assert.equal(r.quantizedNodes, 2);
  assert.ok(r.effectiveOptions.excludeNodes?.includes('matmul_40') && r.effectiveOptions.requireSpeedup === 1);
  assert.ok(r.warnings.some((w) => w.startsWith('kept float for speed (--require-speedup 1): MatMul, tiny weights')), r.warnings.join('\n'));
  // The file written is the measured one: the big MatMuls quantized, the tiny ones float, and it runs.
  const written = loadModel(out).proto.graph?.node ?? [];
  assert.equal(written.filter((n) => n.opType === 'MatMul').length, 80);
  assert.equal(written.filter((n) => n.opType === 'DynamicQuantizeLinear').length > 0, true);
  const session = await createSession(out);
  const y = await session.run({ x: new (ort().Tensor)('float32', new Float32Array(512).fill(0.1), [1, 512]) });
  assert.deepEqual(y['y']?.dims, [1, 8]);
  await session.release();
  assert.ok(!fs.readdirSync(dir).some((n) => n.includes('.tmp-')), 'the rounds leave no work folder');
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
  assert.match(r.stderr, /^error: speed check: the quantized model stays below --require-speedup 1\.2 with every grouping tried \(all quantized: 0\.\d\d×\)/m);
  assert.equal(fs.existsSync(strict), false);

  r = cli(['quantize', tinyChain, '-o', strict, '--no-speed-check', '--require-speedup', '1']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--require-speedup needs the speed check/);
});
