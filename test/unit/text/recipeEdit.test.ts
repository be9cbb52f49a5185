import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InputError } from '../../../src/core/errors';
import { loadModel } from '../../../src/core/onnx/model';
import { quantizeFile } from '../../../src/core/quantize/index';
import { recipeToOptions } from '../../../src/core/text/recipe';
import { editNodeOverride, excludedNodesOf, parseRecipeText, relativeInside, setRecipeMode } from '../../../src/core/text/recipeEdit';
import { createSession, ort } from '../../../src/core/runtime/ort';
import { readNpy } from '../../../src/core/data/npy';
import { defined } from '../../defined';

const FIXTURES = path.join(__dirname, '../../fixtures');
/** The value, asserted to be there. */
function must<T>(value: T | undefined | null, what = 'value'): T {
  assert.ok(value !== undefined && value !== null, `no ${what}`);
  return value;
}

const NEW = { model: 'digits_cnn.onnx', mode: 'dynamic' as const };

test('the first exclusion creates a recipe with the mode it is given and nothing invented', () => {
  const text = must(editNodeOverride(undefined, '/fc/Gemm', { exclude: true }, NEW));
  assert.deepEqual(JSON.parse(text), { model: 'digits_cnn.onnx', mode: 'dynamic', nodes: { '/fc/Gemm': { exclude: true } } });
  const staticText = must(editNodeOverride('', '/stem/stem.0/Conv', { exclude: true }, { model: 'digits_cnn.onnx', mode: 'static', calibrationData: 'digits_calib_x.npy' }));
  const recipe = parseRecipeText(staticText, 'r');
  assert.equal(recipe.mode, 'static');
  assert.equal(recipe.options?.calibrationData, 'digits_calib_x.npy');
  // Un-excluding a node of a model with no recipe writes nothing.
  assert.equal(editNodeOverride(undefined, '/fc/Gemm', { exclude: false }, NEW), undefined);
});

test('edits keep the mode, comments and other overrides; un-excluding removes the node from both lists', () => {
  const text = '{\n  // hand-written\n  "model": "digits_cnn.onnx",\n  "mode": "static",\n  "options": { "calibrationData": "c.npy", "excludeNodes": ["/Add", "/fc/Gemm"] },\n  "nodes": { "/fc/Gemm": { "perChannel": false } }\n}\n';
  const excluded = must(editNodeOverride(text, '/res1/res1.0/Conv', { exclude: true }, NEW));
  assert.match(excluded, /\/\/ hand-written/);
  const r1 = parseRecipeText(excluded, 'r');
  assert.equal(r1.mode, 'static', 'the mode of an existing recipe is never changed by an exclusion');
  assert.deepEqual(excludedNodesOf(r1), ['/Add', '/fc/Gemm', '/res1/res1.0/Conv']);
  // Already excluded through options.excludeNodes: excluding again via nodes is harmless; un-excluding clears both.
  const back = must(editNodeOverride(excluded, '/fc/Gemm', { exclude: false }, NEW));
  const r2 = parseRecipeText(back, 'r');
  assert.deepEqual(excludedNodesOf(r2), ['/Add', '/res1/res1.0/Conv']);
  assert.deepEqual(r2.nodes?.['/fc/Gemm'], { perChannel: false }, 'the per-channel override stays');
  // An override left empty disappears, and with it an empty "nodes".
  const bare = must(editNodeOverride('{"model": "m.onnx", "mode": "dynamic", "nodes": {"a": {"exclude": true}}}', 'a', { exclude: false }, NEW));
  assert.deepEqual(JSON.parse(bare), { model: 'm.onnx', mode: 'dynamic' });
  // No change: no text.
  assert.equal(editNodeOverride(excluded, '/res1/res1.0/Conv', { exclude: true }, NEW), undefined);
  const perChannel = must(editNodeOverride(excluded, '/res1/res1.0/Conv', { perChannel: true }, NEW));
  assert.deepEqual(parseRecipeText(perChannel, 'r').nodes?.['/res1/res1.0/Conv'], { exclude: true, perChannel: true });
});

test('a recipe that is not valid JSON, or not a recipe, is refused rather than rewritten', () => {
  const refused = (text: string, msg: RegExp) =>
    assert.throws(() => editNodeOverride(text, 'a', { exclude: true }, NEW, 'm.quant.json'), (e: unknown) => e instanceof InputError && msg.test(e.message));
  refused('{"model": "m.onnx", "mode": "dynamic",, }', /m\.quant\.json is not valid JSON .* line 1/);
  refused('{"model": "m.onnx", "mode": "turbo"}', /"mode" must be one of/);
});

test('setRecipeMode records a new mode and calibration data inside the folder only', () => {
  const text = '{"model": "m.onnx", "mode": "dynamic", "nodes": {"a": {"exclude": true}}}';
  const out = must(setRecipeMode(text, 'static', '/w/data/c.npy', '/w'));
  assert.deepEqual(JSON.parse(out), { model: 'm.onnx', mode: 'static', nodes: { a: { exclude: true } }, options: { calibrationData: 'data/c.npy' } });
  assert.equal(setRecipeMode(out, 'static', '/w/data/c.npy', '/w'), undefined);
  const outside = JSON.parse(must(setRecipeMode(text, 'static', '/elsewhere/c.npy', '/w')));
  assert.equal(outside.options, undefined);
  assert.equal(relativeInside('/w', '/w/a/b.npy'), 'a/b.npy');
  assert.equal(relativeInside('/w', '/x/b.npy'), undefined);
});

test('a Conv excluded by an edit stays float in static QDQ: float weights, no QuantizeLinear reads it, ORT agrees with float', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recipe-edit-'));
  try {
    for (const f of ['digits_cnn.onnx', 'digits_calib_x.npy']) fs.copyFileSync(path.join(FIXTURES, f), path.join(dir, f));
    const node = '/res1/res1.0/Conv';
    const text = must(editNodeOverride(undefined, node, { exclude: true }, { model: 'digits_cnn.onnx', mode: 'static', calibrationData: 'digits_calib_x.npy' }));
    const plan = recipeToOptions(parseRecipeText(text, 'digits_cnn.quant.json'), dir);
    const output = path.join(dir, 'digits_cnn.int8.onnx');
    const result = await quantizeFile(plan.model, output, plan.options);
    assert.ok(result.quantizedNodes > 0);
    const graph = must(loadModel(output).proto.graph, 'graph');
    const conv = graph.node.find((n) => n.name === node);
    assert.ok(conv && conv.opType === 'Conv', 'the excluded Conv is still a Conv');
    // Its weight and bias are float initializers (no DequantizeLinear), and no QuantizeLinear reads its output:
    // it runs as a float Conv (its data input may still come from the quantized producer's Q/DQ pair).
    const producers = new Map(graph.node.flatMap((n) => n.output.map((o) => [o, n.opType] as const)));
    for (const input of conv.input.slice(1)) {
      assert.equal(producers.get(input), undefined, `input ${input} of the excluded Conv is computed`);
      assert.equal(graph.initializer.find((t) => t.name === input)?.dataType, 1, `input ${input} of the excluded Conv is float32`);
    }
    const readers = graph.node.filter((n) => n.input.includes(must(conv.output[0]))).map((n) => n.opType);
    assert.ok(readers.length > 0 && !readers.some((op) => op === 'QuantizeLinear' || op.startsWith('QLinear')), `the excluded Conv's output is read by ${readers.join(', ')}`);
    const otherConvs = graph.node.filter((n) => n.opType === 'Conv' && n.name !== node);
    assert.ok(otherConvs.every((c) => producers.get(must(c.input[1])) === 'DequantizeLinear'), 'the other Convs are quantized');

    const x = readNpy(path.join(FIXTURES, 'digits_calib_x.npy'));
    const n = 16;
    const input = new (ort().Tensor)('float32', new Float32Array(x.data.buffer.slice(x.data.byteOffset, x.data.byteOffset + n * 64 * 4)), [n, 1, 8, 8]);
    const run = async (file: string) => must((await (await createSession(file)).run({ image: input })).logits, 'logits').data as Float32Array;
    const [ref, got] = [await run(plan.model), await run(output)];
    let agree = 0;
    for (let i = 0; i < n; i++) {
      const am = (a: Float32Array) => a.subarray(i * 10, i * 10 + 10).reduce((b, v, j, arr) => (v > (arr[b] ?? -Infinity) ? j : b), 0);
      if (am(ref) === am(got)) agree++;
    }
    assert.ok(agree >= n - 1, `arg-max agrees on ${agree}/${n} samples`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
