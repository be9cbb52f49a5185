/**
 * Models below the opset their mode needs are converted before quantizing: an opset-9 net with a
 * Conv, an LSTM, a GRU and ops whose definitions changed by 13 (built in test/fixtures/build)
 * quantizes in static and dynamic mode; the converted float model gives the original's outputs;
 * the converted-model check names the op whose outputs differ; an exact conversion that is
 * impossible is refused with the op and opsets named.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resultJson } from '../../../src/cli/commands/quantize';
import { InputError, WorkError } from '../../../src/core/errors';
import { loadModel, parseModel, type OnnxModel } from '../../../src/core/onnx/model';
import { convertOpset } from '../../../src/core/onnx/opset';
import { floatTensor } from '../../../src/core/onnx/tensor';
import { quantizeFile } from '../../../src/core/quantize/index';
import { checkSameOutputs } from '../../../src/core/quantize/opset';
import { makeProbe } from '../../../src/core/quantize/validate';
import { optimizedOpTypes } from '../../../src/core/quantize/static/fusionCheck';
import { createSession, ort } from '../../../src/core/runtime/ort';
import { modelToBytes } from '../../../src/core/onnx/save';
import type { ModelProto } from '../../../src/core/onnx/schema';
import { opset9RecurrentModel, writeModelFile } from '../../fixtures/build';
import { BACKEND_ROOT as TESTDATA_ROOT } from '../../sweep/backendData';
import { testdataInstalled } from '../../sweep/backendCases';
import { tempDir } from './helpers';
import { randomInputs, writeNpy } from './static/residualCnn';
import { defined } from '../../defined';

const dir = tempDir('opset');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const modelFile = writeModelFile(dir, 'opset9.onnx', opset9RecurrentModel());
const calibration = writeNpy(path.join(dir, 'calib.npy'), randomInputs(16, [3, 8, 8], 7), [16, 3, 8, 8]);
const probe = randomInputs(4, [3, 8, 8], 11);

async function run(model: ModelProto | string): Promise<Float32Array> {
  const session = await createSession(typeof model === 'string' ? model : modelToBytes(model), { threads: 1 });
  try {
    const out = await session.run({ x: new (ort().Tensor)('float32', probe, [4, 3, 8, 8]) });
    return defined(out[defined(session.outputNames[0], 'output name')], 'output').data as Float32Array;
  } finally {
    await session.release();
  }
}

const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - (b[i] ?? NaN))), 0);
const opsetOf = (file: string) => Number(defined(parseModel(fs.readFileSync(file)).opsetImport.find((o) => o.domain === ''), 'ai.onnx opset').version);

test('opset-9 Conv/LSTM/GRU net: converted to 13 it gives the same float outputs', async () => {
  const { proto, conversion } = convertOpset(opset9RecurrentModel(), 13);
  assert.equal(conversion.summary, 'converted opset 9 → 13: 6 nodes rewritten');
  assert.deepEqual(conversion.byOpType, { Clip: 1, Squeeze: 2, Dropout: 1, Unsqueeze: 1, Softmax: 1 });
  assert.ok(maxAbsDiff(await run(modelFile), await run(proto)) <= 1e-5);
});

test('static QDQ at opset 9: converted to 13, per-channel weights, integer kernels fused by ORT', async () => {
  const out = path.join(dir, 'static.onnx');
  const r = await quantizeFile(modelFile, out, { mode: 'static', calibrationData: calibration, speedCheck: false });
  assert.equal(r.conversion, 'converted opset 9 → 13: 6 nodes rewritten');
  assert.equal(resultJson(r).conversion, r.conversion);
  assert.equal(opsetOf(out), 13);
  const proto = parseModel(fs.readFileSync(out));
  const weightDq = defined(proto.graph, 'graph').node.find((n) => n.opType === 'DequantizeLinear' && (n.input[0] ?? '').startsWith('conv_w'));
  assert.ok(weightDq?.attribute.some((a) => a.name === 'axis'), 'Conv weights per channel');
  const optimized = await optimizedOpTypes(proto);
  assert.ok((optimized.get('QLinearConv') ?? 0) >= 1, `QLinearConv in ${[...optimized.keys()].join(', ')}`);
  assert.ok((optimized.get('QGemm') ?? 0) >= 1, 'Gemm fused into QGemm');
  assert.equal((optimized.get('Conv') ?? 0) + (optimized.get('FusedConv') ?? 0) + (optimized.get('Gemm') ?? 0), 0, 'no float Conv or Gemm left');
  const float = await run(modelFile);
  assert.ok(maxAbsDiff(float, await run(out)) < 0.05, 'probabilities close to float');
});

test('dynamic at opset 9: converted to 11, the LSTM and the Gemm run as integer kernels in ORT', async () => {
  const out = path.join(dir, 'dynamic.onnx');
  const r = await quantizeFile(modelFile, out, { mode: 'dynamic', speedCheck: false });
  assert.equal(r.conversion, 'converted opset 9 → 11: 1 node rewritten');
  assert.equal(opsetOf(out), 11);
  const proto = parseModel(fs.readFileSync(out));
  assert.ok(defined(proto.graph, 'graph').node.some((n) => n.opType === 'DynamicQuantizeLSTM'));
  const optimized = await optimizedOpTypes(proto);
  assert.ok(optimized.has('DynamicQuantizeLSTM') && optimized.has('DynamicQuantizeMatMul'), [...optimized.keys()].join(', '));
  assert.ok(maxAbsDiff(await run(modelFile), await run(out)) < 0.05);
});

test('a model already at the opset its mode needs is not converted', async () => {
  const out = path.join(dir, 'wo.onnx');
  const r = await quantizeFile(modelFile, out, { mode: 'fp16', speedCheck: false });
  assert.equal(r.conversion, undefined);
  assert.equal(opsetOf(out), 9);
});

test('the conversion check runs both models and names the rewritten op whose outputs differ', async () => {
  const original: OnnxModel = loadModel(modelFile);
  const probe = () => makeProbe(original.proto, calibration, undefined);
  const converted = convertOpset(original.proto, 13);
  const graph = defined(converted.proto.graph, 'graph');
  // Sabotage the converted Clip's upper bound (6 → 0.5): the check must blame the Clip.
  const max = defined(defined(graph.node.find((n) => n.opType === 'Clip'), 'Clip node').input[2], 'Clip max');
  graph.initializer = graph.initializer.map((t) => (t.name === max ? floatTensor(max, [], [0.5]) : t));
  await assert.rejects(
    checkSameOutputs(original, { ...original, proto: converted.proto }, converted.conversion, probe(), []),
    (e: unknown) => e instanceof WorkError && /from opset 9 to 13 changed its results at Clip node 'clip'/.test((e as Error).message),
  );
  await checkSameOutputs(original, { ...original, proto: convertOpset(original.proto, 13).proto }, converted.conversion, probe(), []);
});

test('a model that cannot be converted exactly is refused with the op and opsets named', { skip: !testdataInstalled() && 'libonnx-testdata not installed' }, async () => {
  const batchedScan = path.join(TESTDATA_ROOT, 'node/test_scan_sum/model.onnx');
  await assert.rejects(
    quantizeFile(batchedScan, path.join(dir, 'scan.onnx'), { mode: 'dynamic' }),
    (e: unknown) => e instanceof InputError && /dynamic quantization needs opset 11 and cannot convert the model from opset 8 to 11: Scan node/.test((e as Error).message),
  );
  assert.ok(!fs.existsSync(path.join(dir, 'scan.onnx')));
});
