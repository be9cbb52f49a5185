import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compareModels } from '../../../src/core/evaluate/compare';
import { buildReport, renderHtml, renderMarkdown, reportPaths, writeReports } from '../../../src/core/report';
import { loadModel } from '../../../src/core/onnx/model';
import { saveModel } from '../../../src/core/onnx/save';
import { floatTensor, readFloat32, tensorShape } from '../../../src/core/onnx/tensor';
import { ortVersion } from '../../../src/core/runtime/ort';
import type { QuantReport } from '../../../src/core/report/types';

const FIXTURES = path.join(__dirname, '../../fixtures');
const MLP = path.join(FIXTURES, 'digits_mlp.onnx');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oq-report-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
const HOSTILE = '<script>alert(1)</script>|`x`\n<img src=x onerror=alert(2)>';

/** The MLP with a hostile intermediate tensor name and node name, and a damaged last layer. */
function hostileCopy(): string {
  const m = loadModel(MLP);
  const g = m.proto.graph!;
  const relu = '/relu2/Relu_output_0';
  for (const n of g.node) {
    n.output = n.output.map((o) => (o === relu ? HOSTILE : o));
    n.input = n.input.map((i) => (i === relu ? HOSTILE : i));
    if (n.opType === 'Relu') n.name = `${n.name} ${HOSTILE}`;
  }
  const i = g.initializer.findIndex((t) => t.name === 'fc3.weight');
  const t = g.initializer[i]!;
  g.initializer[i] = floatTensor(t.name, tensorShape(t), Array.from(readFloat32(t), (v) => v * 1.3));
  const out = path.join(dir, 'hostile.onnx');
  saveModel(m.proto, out, { force: true });
  return out;
}

let report: QuantReport;

test('a report from a real comparison: environment, options, JSON without Infinity', async () => {
  const cand = hostileCopy();
  // The reference: the same hostile names (per-layer matches tensors by name), fc3 undamaged.
  const m = loadModel(cand);
  const ref = path.join(dir, 'hostile-ref.onnx');
  const g = m.proto.graph!;
  const i = g.initializer.findIndex((t) => t.name === 'fc3.weight');
  const t = g.initializer[i]!;
  g.initializer[i] = floatTensor(t.name, tensorShape(t), Array.from(readFloat32(t), (v) => v / 1.3));
  saveModel(m.proto, ref, { force: true });
  const compare = await compareModels(ref, cand, { runs: 3, warmup: 1, perLayer: true });
  report = buildReport(compare, { options: { mode: 'dynamic', perChannel: true } });
  assert.equal(report.kind, 'onnx-quantizer-report');
  assert.equal(report.environment.ortVersion, ortVersion());
  assert.equal(report.environment.nodeVersion, process.version);
  assert.equal(report.environment.threads, compare.latency.threads);
  assert.equal(typeof report.environment.cpuFlags.avx512vnni, 'boolean');
  assert.deepEqual(report.options, { mode: 'dynamic', perChannel: true });
  assert.ok(report.layers!.some((l) => l.tensor === HOSTILE));
  assert.equal(report.layers![0]!.node, '/fc3/Gemm', 'the damaged layer is ranked first');
  const json = JSON.stringify(report);
  assert.ok(!json.includes('Infinity') && !json.includes('NaN'));
  assert.equal(JSON.parse(json).layers.find((l: { tensor: string }) => l.tensor === '/fc1/Gemm_output_0').sqnrDb, null);
});

test('HTML: standalone, every model-derived string escaped, SVG charts inline', () => {
  const html = renderHtml(report);
  assert.ok(!html.includes('<script'), 'no script element, escaped or not');
  assert.ok(!/<img/i.test(html));
  assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  assert.ok(!/<[^>]+\s(src|href)=/i.test(html), 'no element loads anything');
  assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
  assert.ok((html.match(/<svg /g) ?? []).length >= 4, 'size, latency, fidelity, per-layer charts');
  assert.ok(html.startsWith('<!DOCTYPE html>') && html.trimEnd().endsWith('</html>'));
  // The run distribution: one tick per timed run of each model (3 runs each).
  const strip = html.match(/<svg [^>]*data-chart="latency-distribution".*?<\/svg>/s)?.[0];
  assert.ok(strip, 'run-timing chart present');
  assert.equal((strip.match(/<line /g) ?? []).length, 2 * report.latency.runs);
  assert.match(strip, /all 3 runs/);
  assert.equal(renderHtml({ ...report, latency: { ...report.latency, reference: { ...report.latency.reference, samplesMs: undefined }, candidate: { ...report.latency.candidate, samplesMs: undefined } } }).includes('latency-distribution'), false, 'older reports without timings: no chart');
});

test('Markdown stays compact: the run timings change nothing in it', () => {
  const withoutSamples = { ...report, latency: { ...report.latency, reference: { ...report.latency.reference, samplesMs: undefined }, candidate: { ...report.latency.candidate, samplesMs: undefined } } };
  assert.equal(report.latency.reference.samplesMs!.length, 3);
  assert.equal(renderMarkdown(report), renderMarkdown(withoutSamples));
});

test('Markdown: hostile names cannot break the tables', () => {
  const md = renderMarkdown(report);
  const layerRows = md.split('\n').filter((l) => l.startsWith('| `'));
  assert.equal(layerRows.length, report.layers!.length);
  for (const row of layerRows) assert.equal(row.split(/(?<!\\)\|/).length - 2, 6, row);
  assert.ok(!md.includes('<script'));
});

test('writeReports: MODEL.quant-report.{json,md,html} next to the model, JSON round-trips', async () => {
  const compare = await compareModels(MLP, MLP, { runs: 2, warmup: 0 });
  const model = path.join(dir, 'digits_mlp.int8.onnx');
  const files = writeReports(buildReport(compare), model);
  assert.deepEqual(files, reportPaths(model));
  assert.equal(files.json, path.join(dir, 'digits_mlp.int8.quant-report.json'));
  const back = JSON.parse(fs.readFileSync(files.json, 'utf8')) as QuantReport;
  assert.equal(back.accuracy.sqnrDb, null);
  assert.equal(back.accuracy.identical, true);
  assert.deepEqual(back.size, compare.size);
  assert.match(fs.readFileSync(files.markdown, 'utf8'), /∞ \(identical\)/);
  assert.ok(fs.readFileSync(files.html, 'utf8').includes('∞ (identical)'));
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.includes('.tmp-')), [], 'written atomically, no temp files left');
});
