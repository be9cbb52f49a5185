import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InputError } from '../../../src/core/errors';
import { loadModel } from '../../../src/core/onnx/model';
import { quantizeFile } from '../../../src/core/quantize/index';
import { RECIPE_OPTION_NAMES, recipePathFor, recipeToOptions, validateRecipe } from '../../../src/core/text/recipe';
import { createSession, ort } from '../../../src/core/runtime/ort';
import { readNpy } from '../../../src/core/data/npy';

const FIXTURES = path.join(__dirname, '../../fixtures');
const SCHEMA = path.join(__dirname, '../../../schemas/quant-recipe.schema.json');

test('recipeToOptions resolves paths against the recipe folder and folds excluded nodes into excludeNodes', () => {
  const plan = recipeToOptions(
    {
      model: '../models/m.onnx',
      output: 'out/m.int8.onnx',
      mode: 'static',
      options: { calibrationData: 'data/calib.npy', perChannel: true, excludeNodes: ['a'] },
      nodes: { b: { exclude: true }, c: { perChannel: true }, a: { exclude: true } },
    },
    '/work/recipes',
  );
  assert.equal(plan.model, path.resolve('/work/models/m.onnx'));
  assert.equal(plan.output, path.resolve('/work/recipes/out/m.int8.onnx'));
  assert.deepEqual(plan.options, {
    mode: 'static',
    calibrationData: path.resolve('/work/recipes/data/calib.npy'),
    perChannel: true,
    excludeNodes: ['a', 'b'],
    nodeOverrides: { c: { perChannel: true } },
  });
  assert.deepEqual(plan.warnings, []);
});

test('per-node perChannel and bits become nodeOverrides in the modes that use them, warnings elsewhere; no output means the command default', () => {
  const dyn = recipeToOptions({ model: 'm.onnx', mode: 'dynamic', nodes: { x: { perChannel: false }, y: { bits: 4 }, z: { exclude: true, perChannel: true } } }, '/r');
  assert.equal(dyn.output, undefined);
  assert.deepEqual(dyn.options, { mode: 'dynamic', excludeNodes: ['z'], nodeOverrides: { x: { perChannel: false } } });
  assert.deepEqual(dyn.warnings, [{ node: 'y', message: '"bits" applies to weight-only mode only: no effect in dynamic mode' }]);

  const wo = recipeToOptions({ model: 'm.onnx', mode: 'weight-only', options: { weightBits: 4 }, nodes: { x: { bits: 8, perChannel: true }, y: { bits: 4 } } }, '/r');
  assert.deepEqual(wo.options, { mode: 'weight-only', weightBits: 4, nodeOverrides: { x: { bits: 8 }, y: { bits: 4 } } });
  assert.deepEqual(wo.warnings, [{ node: 'x', message: '"perChannel" applies to dynamic and static modes only: no effect in weight-only mode' }]);
  assert.equal(recipePathFor('/a/b/model.onnx'), '/a/b/model.quant.json');
});

test('validateRecipe names the first problem in one line', () => {
  const bad = (v: unknown, msg: RegExp) => assert.throws(() => validateRecipe(v, 'r.quant.json'), (e: unknown) => e instanceof InputError && msg.test(e.message));
  bad([], /r\.quant\.json: not a JSON object/);
  bad({ mode: 'dynamic' }, /"model" must name the model file/);
  bad({ model: 'm.onnx', mode: 'int8' }, /"mode" must be one of dynamic, static, weight-only, fp16/);
  bad({ model: 'm.onnx', mode: 'dynamic', options: { perchannel: true } }, /unknown option "perchannel"/);
  bad({ model: 'm.onnx', mode: 'dynamic', options: { opTypes: 'MatMul' } }, /option "opTypes" must be a list of strings/);
  bad({ model: 'm.onnx', mode: 'dynamic', nodes: { n: { bits: 3 } } }, /"bits" of node "n" must be 4 or 8/);
  assert.doesNotThrow(() => validateRecipe({ model: 'm.onnx', mode: 'weight-only', options: { weightBits: 4, blockSize: 32 }, nodes: { n: { exclude: true } } }));
});

test('the JSON schema offers exactly the QuantizeOptions fields', () => {
  const schema = JSON.parse(fs.readFileSync(SCHEMA, 'utf8'));
  assert.deepEqual(Object.keys(schema.properties.options.properties).sort(), [...RECIPE_OPTION_NAMES].sort());
  assert.deepEqual(schema.properties.mode.enum, ['dynamic', 'static', 'weight-only', 'fp16']);
});

test('a recipe excluding one Gemm quantizes the other two; ORT runs the result close to the float model', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnxq-recipe-'));
  try {
    fs.copyFileSync(path.join(FIXTURES, 'digits_mlp.onnx'), path.join(dir, 'digits_mlp.onnx'));
    const recipe = validateRecipe({ model: 'digits_mlp.onnx', output: 'out.onnx', mode: 'dynamic', options: { speedCheck: false }, nodes: { '/fc2/Gemm': { exclude: true } } });
    const plan = recipeToOptions(recipe, dir);
    const result = await quantizeFile(plan.model, plan.output!, plan.options);
    assert.equal(result.quantizedNodes, 2);
    const out = loadModel(plan.output!).proto.graph!;
    assert.ok(out.node.some((n) => n.name === '/fc2/Gemm' && n.opType === 'Gemm'), 'excluded Gemm stays float');
    assert.ok(!out.node.some((n) => n.name === '/fc1/Gemm' && n.opType === 'Gemm'), 'fc1 is replaced by integer ops');

    const x = readNpy(path.join(FIXTURES, 'digits_test_x.npy'));
    const rt = ort();
    const n = 32;
    const input = new rt.Tensor('float32', new Float32Array(x.data.buffer.slice(x.data.byteOffset, x.data.byteOffset + n * 64 * 4)), [n, 1, 8, 8]);
    const run = async (file: string) => {
      const s = await createSession(file);
      const r = await s.run({ image: input });
      return r.logits!.data as Float32Array;
    };
    const ref = await run(plan.model);
    const got = await run(plan.output!);
    let agree = 0;
    for (let i = 0; i < n; i++) {
      const am = (a: Float32Array) => a.subarray(i * 10, i * 10 + 10).reduce((b, v, j, arr) => (v > arr[b]! ? j : b), 0);
      if (am(ref) === am(got)) agree++;
    }
    assert.ok(agree >= n - 1, `arg-max agrees on ${agree}/${n} samples`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a weight-only recipe with one Gemm at 8 bits: that MatMulNBits has bits=8, the others 4, ORT runs it', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnxq-recipe-'));
  try {
    fs.copyFileSync(path.join(FIXTURES, 'digits_mlp.onnx'), path.join(dir, 'digits_mlp.onnx'));
    const recipe = validateRecipe({ model: 'digits_mlp.onnx', output: 'out.onnx', mode: 'weight-only', options: { speedCheck: false }, nodes: { '/fc3/Gemm': { bits: 8 } } });
    const plan = recipeToOptions(recipe, dir);
    assert.deepEqual(plan.warnings, []);
    const result = await quantizeFile(plan.model, plan.output!, plan.options); // validates: ORT loads and runs it
    assert.equal(result.quantizedNodes, 3);
    const bits = loadModel(plan.output!)
      .proto.graph!.node.filter((n) => n.opType === 'MatMulNBits')
      .map((n) => [n.name, Number(n.attribute.find((a) => a.name === 'bits')!.i)]);
    assert.deepEqual(Object.fromEntries(bits), { '/fc1/Gemm_Q4': 4, '/fc2/Gemm_Q4': 4, '/fc3/Gemm_Q8': 8 });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
