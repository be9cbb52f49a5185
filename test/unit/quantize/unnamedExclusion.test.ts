/**
 * The node-identity probe: on a model whose nodes all have empty names, excluding any layer row
 * through the path the Models view uses (the analysis' layer key → QuantizeOptions.excludeNodes)
 * keeps exactly that node float and quantizes the others, in every mode the row offers; every
 * output runs in ONNX Runtime close to the float model.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { summarizeModel } from '../../../src/core/analysis/summary';
import { encodeNpy } from '../../../src/core/data/npy';
import { indexModel, type ModelIndex } from '../../../src/core/onnx/graph-index';
import { loadModel } from '../../../src/core/onnx/model';
import type { NodeProto } from '../../../src/core/onnx/schema';
import { quantizeFile } from '../../../src/core/quantize/index';
import { PASSTHROUGH_OPS } from '../../../src/core/quantize/static/plan';
import { quantizedInOutput, type OpMode } from '../analysis/engineOutcome';
import { gaussian, makeTempDir, unnamedNodesModel, writeModelFile } from '../../fixtures/build';
import { runModel, sqnrDb } from './helpers';

const { dir, cleanup } = makeTempDir('oq-unnamed-');
after(cleanup);
const modelPath = writeModelFile(dir, 'unnamed.onnx', unnamedNodesModel());
const SAMPLES = 16;
const x = gaussian(SAMPLES * 64, 1, 5);
const calib = path.join(dir, 'x.npy');
fs.writeFileSync(calib, encodeNpy({ dtype: 'float32', shape: [SAMPLES, 1, 8, 8], data: new Uint8Array(x.buffer) }));
const feeds = { x: { type: 'float32' as const, data: x, dims: [SAMPLES, 1, 8, 8] } };

type Mode = OpMode;

const original = indexModel(loadModel(modelPath).proto);
const nodeByKey = (key: string): NodeProto => {
  const n = original.byKey(key)?.node;
  assert.ok(n, `no node with key ${key}`);
  return n;
};

/** Pass-through and Relu/Clip nodes downstream of a node, through chains of them. */
function followers(key: string): Set<string> {
  const out = new Set<string>();
  const stack = [nodeByKey(key)];
  for (let n = stack.pop(); n; n = stack.pop()) {
    for (const c of original.consumers(n.output[0] ?? '')) {
      if (out.has(c.key) || !(PASSTHROUGH_OPS.has(c.node.opType) || ['Relu', 'Clip'].includes(c.node.opType))) continue;
      out.add(c.key);
      stack.push(c.node);
    }
  }
  return out;
}

async function run(mode: Mode, excludeNodes: string[], name: string): Promise<{ quantized: Set<string>; skipped: Map<string, string> }> {
  const out = path.join(dir, `${name}.onnx`);
  const r = await quantizeFile(modelPath, out, { mode, excludeNodes, speedCheck: false, ...(mode === 'static' ? { calibrationData: calib } : {}) });
  assert.deepEqual(r.warnings.filter((w) => /no node named/.test(w)), [], 'every excluded key names a node');
  const outIndex = indexModel(loadModel(out).proto);
  const quantized = new Set(original.nodes.filter((n) => quantizedInOutput(outIndex, n.node, mode)).map((n) => n.key));
  const [a, b] = [await runModel(modelPath, feeds), await runModel(out, feeds)];
  assert.ok(sqnrDb(a, b) > 15, `${name}: SQNR ${sqnrDb(a, b).toFixed(1)} dB against float`);
  return { quantized, skipped: new Map(r.skippedNodes.map((s) => [s.node, s.reason])) };
}

test('no node of the probe model has a name; the analysis keys its rows by their first outputs', () => {
  assert.ok(original.nodes.every((n) => n.node.name === ''));
  const layers = summarizeModel(loadModel(modelPath)).layers;
  for (const l of layers) assert.equal(l.node, nodeByKey(l.node).output[0]);
});

for (const mode of ['dynamic', 'static', 'weight-only'] as const) {
  test(`${mode}: excluding any layer row by its key keeps exactly that node float, the others quantized (ORT)`, async () => {
    const rows = summarizeModel(loadModel(modelPath)).layers.filter((l) => l.modes.includes(mode));
    assert.ok(rows.length >= 2, `${mode}: rows ${rows.map((r) => r.node).join(', ')}`);
    const all = await run(mode, [], `${mode}-all`);
    for (const row of rows) assert.ok(all.quantized.has(row.node), `${mode}: the analysis offers ${row.node} (${row.opType}) but the engine left it float`);
    for (const row of rows) {
      const r = await run(mode, [row.node], `${mode}-without-${row.node}`);
      assert.equal(r.quantized.has(row.node), false, `${mode}: ${row.node} excluded but quantized`);
      assert.match(r.skipped.get(row.node) ?? '', /exclude/, `${mode}: ${row.node} reported as excluded`);
      // Static keeps 8-bit through pass-through ops and folds Relu/Clip only after a quantized producer: those follow it.
      const readers = mode === 'static' ? followers(row.node) : new Set<string>();
      const expected = [...all.quantized].filter((k) => k !== row.node && !readers.has(k)).sort();
      assert.deepEqual([...r.quantized].filter((k) => !readers.has(k)).sort(), expected, `${mode} without ${row.node}`);
    }
  });
}
