/**
 * `quantize --recipe` through the real CLI: a recipe's model, output and options drive the run
 * (flags given win), and a hostile recipe (absolute or `..` output, a model or calibration data
 * outside its folder, through a link, a FIFO or the zero device, "force") is refused at once
 * with exit 2: nothing is written, nothing outside is read or replaced.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadModel } from '../../../src/core/onnx/model';
import { makeTempDir } from '../../fixtures/build';
import { ROOT, buildCli, runCli } from './inspect-helpers';

const FIXTURES = path.join(ROOT, 'test/fixtures');
const tmp = makeTempDir('onnxq-cli-recipe-');
process.on('exit', tmp.cleanup);
const ws = path.join(tmp.dir, 'ws');
const outside = path.join(tmp.dir, 'outside');
const victim = path.join(tmp.dir, 'victim.onnx');

before(() => {
  buildCli();
  fs.mkdirSync(ws);
  fs.mkdirSync(outside);
  for (const f of ['digits_mlp.onnx', 'digits_calib_x.npy']) {
    fs.copyFileSync(path.join(FIXTURES, f), path.join(ws, f));
    fs.copyFileSync(path.join(FIXTURES, f), path.join(outside, f));
  }
  fs.writeFileSync(victim, 'precious');
  execFileSync('mkfifo', [path.join(ws, 'pipe.onnx'), path.join(ws, 'calib_pipe.npy')]);
  fs.symlinkSync(path.join(outside, 'digits_mlp.onnx'), path.join(ws, 'link.onnx'));
  fs.symlinkSync('/dev/zero', path.join(ws, 'zero.npy'));
});

function writeRecipe(name: string, recipe: Record<string, unknown>): string {
  const file = path.join(ws, name);
  fs.writeFileSync(file, JSON.stringify(recipe));
  return file;
}

/** Every file under the temporary folder with its size (what a run may have added or changed). */
function snapshot(): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(`${path.relative(tmp.dir, p)}:${e.isFile() ? fs.statSync(p).size : 'special'}`);
    }
  };
  walk(tmp.dir);
  return out.sort();
}

test('a recipe names the model, output and options; flags given on the command line win', () => {
  const recipe = writeRecipe('mlp.quant.json', { model: 'digits_mlp.onnx', mode: 'dynamic', output: 'mlp.int8.onnx', nodes: { '/fc1/Gemm': { exclude: true } } });
  const r = runCli(['quantize', '--recipe', recipe, '--json', '--no-speed-check']);
  assert.equal(r.code, 0, r.stderr);
  const json = JSON.parse(r.stdout) as { output: string; mode: string; skippedNodes: { node: string; reason: string }[] };
  assert.equal(json.output, path.join(ws, 'mlp.int8.onnx'));
  assert.equal(json.mode, 'dynamic');
  assert.ok(json.skippedNodes.some((s) => s.node === '/fc1/Gemm'), JSON.stringify(json.skippedNodes));
  assert.ok(loadModel(json.output).proto.graph?.node.some((n) => n.opType === 'MatMulInteger' || n.opType === 'DynamicQuantizeLinear'));
  const fp16 = runCli(['quantize', '--recipe', recipe, '--mode', 'fp16', '-o', path.join(ws, 'mlp.fp16.onnx'), '--json', '--no-speed-check']);
  assert.equal(fp16.code, 0, fp16.stderr);
  assert.equal((JSON.parse(fp16.stdout) as { mode: string }).mode, 'fp16');
});

test('hostile recipes are refused within 2 s with exit 2; nothing is written or replaced', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ output: victim }, /"output" '.*victim\.onnx' leaves the recipe's folder/],
    [{ output: '../victim.onnx' }, /"output" '\.\.\/victim\.onnx' leaves the recipe's folder/],
    [{ model: '/dev/zero' }, /"model" '\/dev\/zero' leaves the recipe's folder/],
    [{ model: '../outside/digits_mlp.onnx' }, /leaves the recipe's folder/],
    [{ model: 'link.onnx' }, /"model" 'link\.onnx' leads outside the workspace folder \(through a link\); refused/],
    [{ model: 'pipe.onnx' }, /"model" 'pipe\.onnx' is a FIFO \(named pipe\), not a regular file; refused/],
    [{ mode: 'static', options: { calibrationData: '/dev/zero' } }, /"calibrationData" '\/dev\/zero' leaves the recipe's folder/],
    [{ mode: 'static', options: { calibrationData: 'zero.npy' } }, /"calibrationData" 'zero\.npy' leads outside the workspace folder/],
    [{ mode: 'static', options: { calibrationData: 'calib_pipe.npy' } }, /is a FIFO \(named pipe\), not a regular file; refused/],
    [{ options: { fidelityData: '../outside/digits_calib_x.npy' } }, /"fidelityData" .* leaves the recipe's folder/],
    [{ output: '../victim.onnx', options: { force: true } }, /leaves the recipe's folder|"force" is not allowed in a recipe/],
  ];
  const before = snapshot();
  cases.forEach(([fields, message], i) => {
    const recipe = writeRecipe(`hostile${i}.quant.json`, { model: 'digits_mlp.onnx', mode: 'dynamic', output: `out${i}.onnx`, ...fields });
    const r = runCli(['quantize', '--recipe', recipe, '--force', '--no-speed-check'], { timeoutMs: 15000 });
    const what = JSON.stringify(fields);
    assert.notEqual(r.signal, 'SIGKILL', `${what}: hung`);
    assert.equal(r.code, 2, `${what}: exit ${r.code}\n${r.stderr}`);
    assert.match(r.stderr, message, what);
    assert.ok((r.ms ?? Infinity) < 2000, `${what}: refused after ${r.ms?.toFixed(0)} ms`);
    fs.rmSync(recipe);
  });
  assert.deepEqual(snapshot(), before, 'a refused recipe added, removed or changed files');
  assert.equal(fs.readFileSync(victim, 'utf8'), 'precious');
});
