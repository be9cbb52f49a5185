/**
 * Analysis vs engine probe: for every node of every fixture model, the digits models and a
 * sample of ONNX's backend test models, what the layer analysis says a mode does (the node is
 * quantizable in that mode or not) is what the engine did to it in the written model.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyzeLayers } from '../../../src/core/analysis/layers';
import { fileNameForInput } from '../../../src/core/calibrate/data';
import { encodeNpy } from '../../../src/core/data/npy';
import { modelInputs, generateInputData } from '../../../src/core/evaluate/data';
import { InputError, WorkError } from '../../../src/core/errors';
import { indexModel } from '../../../src/core/onnx/graph-index';
import { loadModel } from '../../../src/core/onnx/model';
import { opRule } from '../../../src/core/onnx/op-rules';
import { quantizeFile } from '../../../src/core/quantize/index';
import { BUILT_MODELS, computedWeightsModel, constantWeightsModel, growingGatherModel, ifConvLstmModel, ifMatMulModel, loopMatMulModel, makeTempDir, scanMatMulModel, unnamedNodesModel, writeModelFile } from '../../fixtures/build';
import { listBackendModels, readDataSetInputs, writeCalibrationFolder } from '../../sweep/backendData';
import { fixture } from '../quantize/helpers';
import { quantizedInOutput, type OpMode } from './engineOutcome';
import { widenFloat16 } from '../../../src/core/quantize/widen';

const { dir, cleanup } = makeTempDir('oq-agreement-');
after(cleanup);

const MODES: readonly OpMode[] = ['dynamic', 'static', 'weight-only'];
/** Backend models sampled: every one with an op the rules table knows, at most this many, spread evenly. */
const BACKEND_SAMPLE = 40;

interface ProbeModel {
  id: string;
  file: string;
  /** Backend models: their test data sets, the calibration data of static mode. */
  dataSets?: string[];
}

function models(): ProbeModel[] {
  const built = [
    ...BUILT_MODELS.filter((m) => m.ortLoads).map((m) => ({ id: m.file, file: writeModelFile(dir, m.file, m.build()) })),
    ...Object.entries({ unnamedNodesModel, ifMatMulModel, ifConvLstmModel, loopMatMulModel, scanMatMulModel, constantWeightsModel, computedWeightsModel, growingGatherModel }).map(([name, build]) => ({
      id: name,
      file: writeModelFile(dir, `${name}.onnx`, build()),
    })),
  ];
  const digits = ['digits_mlp', 'digits_cnn', 'digits_lstm', 'digits_cnn_static_qnnpack_torch'].map((m) => ({ id: m, file: fixture(`${m}.onnx`) }));
  const backend = listBackendModels().filter((m) => {
    try {
      return indexModel(loadModel(m.model).proto).nodes.some(({ node }) => opRule(node));
    } catch {
      return false;
    }
  });
  const step = Math.max(1, backend.length / BACKEND_SAMPLE);
  const picked = new Set(Array.from({ length: Math.min(BACKEND_SAMPLE, backend.length) }, (_, i) => Math.floor(i * step)));
  const sample = backend.filter((_, i) => picked.has(i));
  return [...built, ...digits, ...sample.map((m) => ({ id: m.id, file: m.model, dataSets: m.dataSets }))];
}

/**
 * The backend test's inputs, else (none, or not writable as one folder: inputs without a shared
 * sample axis) generated inputs (4 samples), as a calibration folder; undefined when the model has no input.
 */
function calibrationFolder({ id, file, dataSets }: ProbeModel): string | undefined {
  const proto = loadModel(file).proto;
  const specs = modelInputs(proto);
  if (!specs.length || !proto.graph) return undefined;
  const folder = path.join(dir, `${id.replace(/[^\w.-]+/g, '_')}.calib`);
  if (dataSets && !writeCalibrationFolder(proto.graph, dataSets.map(readDataSetInputs), folder)) return folder;
  fs.rmSync(folder, { recursive: true, force: true });
  let data;
  try {
    data = generateInputData(proto, specs, 4);
  } catch (e) {
    if (e instanceof InputError) return undefined; // inputs it cannot make (untyped, sequences)
    throw e;
  }
  fs.mkdirSync(folder, { recursive: true });
  for (const [name, arr] of data.arrays) fs.writeFileSync(path.join(folder, fileNameForInput(name)), encodeNpy(arr));
  return folder;
}

interface Disagreement {
  model: string;
  mode: OpMode;
  node: string;
  opType: string;
  analysis: boolean;
  engine: boolean;
  reason?: string;
}

async function probe(m: ProbeModel): Promise<{ disagreements: Disagreement[]; compared: number; notRun: string[] }> {
  const { id, file } = m;
  const model = loadModel(file);
  const original = indexModel(model.proto);
  const layers = new Map(analyzeLayers(model, { stats: false, index: original }).map((l) => [l.node, l]));
  const widenedAway = new Set(widenFloat16(model.proto, model)?.castsRemoved ?? []);
  const disagreements: Disagreement[] = [];
  const notRun: string[] = [];
  let compared = 0;
  for (const mode of MODES) {
    const out = path.join(dir, `${id.replace(/[^\w.-]+/g, '_')}.${mode}.onnx`);
    let calibrationData: string | undefined;
    if (mode === 'static') {
      calibrationData = calibrationFolder(m);
      // Without calibration data static mode refuses the model as a whole: that says nothing about the rules.
      if (!calibrationData) {
        notRun.push(`${id} static: no calibration data`);
        continue;
      }
    }
    let outIndex;
    let skipped = new Map<string, string>();
    try {
      const r = await quantizeFile(file, out, { mode, validate: false, speedCheck: false, force: true, ...(calibrationData ? { calibrationData } : {}) });
      outIndex = indexModel(loadModel(out).proto);
      skipped = new Map(r.skippedNodes.map((s) => [s.node, s.reason]));
    } catch (e) {
      // A model the mode refuses as a whole (already quantized): the engine quantized no node.
      if (e instanceof InputError) outIndex = undefined;
      // Calibration data ONNX Runtime cannot run the model on says nothing about the rules: not compared.
      else if (e instanceof WorkError && mode === 'static') {
        notRun.push(`${id} static: ${e.message.split('\n')[0]}`);
        continue;
      } else throw e;
    }
    // Constant nodes are weights, not layers (the engines read them as initializers); a node without a first output cannot be found again;
    // the float16 ↔ float32 Casts of a float16 model are removed by widening it (quantize/widen.ts), not quantized.
    for (const entry of original.nodes.filter(({ node }) => node.opType !== 'Constant' && node.output[0] && !widenedAway.has(node.output[0]))) {
      const analysis = layers.get(entry.key)?.modes.includes(mode) ?? false;
      const engine = outIndex ? quantizedInOutput(outIndex, entry.node, mode) : false;
      compared++;
      const reason = skipped.get(entry.key);
      // Which If branch the calibration data takes is the data's doing, not the rules': the engine says so per node.
      if (analysis && !engine && reason && /no calibration sample took this branch/.test(reason)) continue;
      if (analysis !== engine) {
        disagreements.push({ model: id, mode, node: entry.key, opType: entry.node.opType, analysis, engine, ...(reason ? { reason } : {}) });
      }
    }
  }
  model.external.close();
  return { disagreements, compared, notRun };
}

test('analysis and engine agree on every node of every fixture, digits and sampled backend model, in every mode', async () => {
  const all: Disagreement[] = [];
  let compared = 0;
  const list = models();
  assert.ok(list.length >= 40, `${list.length} models`);
  const notRun: string[] = [];
  for (const m of list) {
    const r = await probe(m);
    all.push(...r.disagreements);
    notRun.push(...r.notRun);
    compared += r.compared;
  }
  assert.ok(notRun.length <= list.length / 4, `static not run on ${notRun.length} models:\n${notRun.join('\n')}`);
  const lines = all.map((d) => `${d.model} ${d.mode} ${d.node} (${d.opType}): analysis ${d.analysis ? 'quantizable' : 'not'}, engine ${d.engine ? 'quantized' : 'left float'}${d.reason ? ` (${d.reason})` : ''}`);
  assert.deepEqual(lines, [], `${lines.length} of ${compared} node verdicts disagree`);
});
