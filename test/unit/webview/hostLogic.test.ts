// Host-side logic of the two webviews on real artefacts: the editor's DTOs from summarizeModel on
// the fixtures, paging/filtering/sorting, diagnostics matched to rows, and the dashboard's columns
// and exports from a real comparison of the float CNN with its PyTorch-quantized twin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { loadModel } from '../../../src/core/onnx/model';
import { summarizeModel } from '../../../src/core/analysis/summary';
import { compareModels } from '../../../src/core/evaluate/compare';
import { buildReport } from '../../../src/core/report/build';
import { toEditorModel } from '../../../src/extension/editor/summaryAdapter';
import { LayerTable } from '../../../src/extension/editor/layerTable';
import { diagnosticsByNode } from '../../../src/extension/editor/diagnosticMatch';
import { contentSecurityPolicy, makeNonce, webviewHtml } from '../../../src/extension/editor/webviewHtml';
import { mergeReports, toDashboard } from '../../../src/extension/dashboard/reportAdapter';
import { exportText, toHtml, toMarkdown } from '../../../src/extension/dashboard/exportReport';
import { renderMarkdown } from '../../../src/core/report/markdown';
import { isHostToDashboardMessage, isHostToEditorMessage, type LayerRowDto } from '../../../src/shared/webviewMessages';
import { syntheticRows } from './fixtures';

const fixture = (name: string): string => path.join(__dirname, '../../fixtures', name);

test('editor DTOs from summarizeModel on digits_mlp: card, op bytes and rows agree with the model', () => {
  const summary = summarizeModel(loadModel(fixture('digits_mlp.onnx')));
  const model = toEditorModel(JSON.parse(JSON.stringify(summary)), 'digits_mlp.onnx'); // as it crosses IPC
  assert.equal(model.card.fileBytes, summary.fileBytes);
  assert.equal(model.card.parameterCount, 85_002);
  assert.equal(model.card.producer, `${summary.producer.name} ${summary.producer.version}`.trim());
  assert.deepEqual(model.card.inputs.map((t) => t.name), ['image']);
  assert.equal(model.card.inputs[0]!.shape.length, 4);
  const gemm = model.ops.find((o) => o.opType === 'Gemm')!;
  assert.equal(gemm.count, 3);
  assert.equal(gemm.weightBytes, summary.byOpType.Gemm!.bytes);
  assert.equal(gemm.weightBytes, 85_002 * 4, 'float32 weights and biases of the three Gemms');
  assert.equal(model.ops[0]!.opType, 'Gemm', 'heaviest op first');
  const gemmRows = model.rows.filter((r) => r.opType === 'Gemm');
  assert.equal(gemmRows.length, 3);
  for (const r of gemmRows) assert.ok(r.modes.includes('dynamic') && r.weightBytes > 0);
  // What the host posts passes the webview's validator.
  assert.ok(isHostToEditorMessage({ v: 1, type: 'summary', card: model.card, ops: model.ops, rowCount: model.rows.length }));
  const page = new LayerTable(model.rows).page(0, 100, { filter: '', sort: 'index', descending: false });
  assert.ok(isHostToEditorMessage({ v: 1, type: 'rows', requestId: 1, ...page }));
});

test('an already quantized model shows its format on the card', () => {
  const summary = summarizeModel(loadModel(fixture('digits_cnn_static_qnnpack_torch.onnx')));
  const model = toEditorModel(summary, 'q.onnx');
  assert.equal(model.card.quantization.format, summary.quantization.format);
  assert.notEqual(model.card.quantization.format, 'none');
  assert.ok(model.ops.some((o) => o.opType === 'QuantizeLinear' && o.count > 0));
});

test('a hostile summary never throws: wrong types become empty values', () => {
  const m = toEditorModel({ producer: 5, opsets: [1, 2], inputs: 'x', layers: [null, 7, { node: { toString: 1 }, weightBytes: -5, modes: 'dynamic' }], fileBytes: NaN }, 'f');
  assert.equal(m.card.fileBytes, 0);
  assert.equal(m.rows.length, 3);
  assert.ok(m.rows.every((r) => r.weightBytes === 0 && r.modes.length === 0));
  assert.ok(isHostToEditorMessage({ v: 1, type: 'summary', card: m.card, ops: m.ops, rowCount: 3 }));
});

test('LayerTable pages, filters and sorts 10,000 rows', () => {
  const rows = syntheticRows(10_000);
  const table = new LayerTable(rows);
  const all = table.page(9_950, 100, { filter: '', sort: 'index', descending: false });
  assert.equal(all.total, 10_000);
  assert.equal(all.rows.length, 50);
  assert.equal(all.rows[0]!.index, 9_950);
  const heavy = table.page(0, 5, { filter: '', sort: 'weightBytes', descending: true });
  const max = Math.max(...rows.map((r) => r.weightBytes));
  assert.equal(heavy.rows[0]!.weightBytes, max);
  for (let i = 1; i < heavy.rows.length; i++) assert.ok(heavy.rows[i - 1]!.weightBytes >= heavy.rows[i]!.weightBytes);
  const filtered = table.page(0, 1000, { filter: 'MATMUL', sort: 'node', descending: false });
  assert.equal(filtered.total, rows.filter((r) => r.opType === 'MatMul').length);
  assert.ok(filtered.rows.every((r) => r.opType === 'MatMul'));
  const names = filtered.rows.map((r) => r.node);
  assert.deepEqual(names, [...names].sort((a, b) => a.localeCompare(b)));
  assert.equal(table.page(0, 10, { filter: 'no such layer', sort: 'index', descending: false }).total, 0);
});

test('diagnostics attach to the rows of the nodes their data names by key; quoted names in messages do not count', () => {
  const rows: LayerRowDto[] = syntheticRows(20);
  const table = new LayerTable(rows);
  const names = new Set(rows.map((r) => r.node));
  const byNode = diagnosticsByNode(
    [
      { message: 'outlier weights', severity: 'warning', data: { node: 'layer_3', kind: 'risk' } },
      { message: "node 'layer_7' cannot be fused", severity: 'info', data: { node: 'layer_7', kind: 'risk' } },
      { message: "mentions 'layer_9' without data", severity: 'error' },
      { message: "mentions 'not_a_node' only", severity: 'error' },
      { message: 'data names a missing node', severity: 'error', data: { node: 'ghost' } },
    ],
    names,
  );
  assert.deepEqual([...byNode.keys()].sort(), ['layer_3', 'layer_7']);
  assert.equal(table.setDiagnostics(byNode), true);
  const sorted = table.page(0, 3, { filter: '', sort: 'diagnostics', descending: true });
  assert.equal(sorted.rows[0]!.node, 'layer_3'); // warning outranks info
  assert.equal(sorted.rows[1]!.node, 'layer_7');
  assert.equal(table.page(0, 10, { filter: 'cannot be fused', sort: 'index', descending: false }).total, 1);
  assert.equal(table.setDiagnostics(byNode), true);
  assert.equal(table.setDiagnostics(new Map()), true, 'clearing is a change');
  assert.equal(table.setDiagnostics(new Map()), false);
});

test('webview shell: strict CSP with a fresh nonce, no inline style or remote source', () => {
  const a = makeNonce();
  const b = makeNonce();
  assert.notEqual(a, b);
  assert.equal(Buffer.from(a, 'base64').length, 16);
  const html = webviewHtml({ cspSource: 'https://x.vscode-cdn.net', nonce: a, scriptUri: 'https://x.vscode-cdn.net/dist/webview/editor.js', styleUris: ['https://x.vscode-cdn.net/media/common.css'], title: '<b>"m"</b>' });
  // The policy is an attribute value: the browser decodes its character references before applying it.
  const attr = /http-equiv="Content-Security-Policy" content="([^"]*)"/.exec(html)?.[1] ?? '';
  const decoded = attr.replace(/&(#39|quot|lt|gt|amp);/g, (_, e: string) => ({ '#39': "'", quot: '"', lt: '<', gt: '>', amp: '&' })[e] ?? '');
  assert.equal(decoded, contentSecurityPolicy('https://x.vscode-cdn.net', a));
  assert.match(decoded, new RegExp(`script-src 'nonce-${a.replace(/[+/]/g, '\\$&')}'`));
  assert.equal(contentSecurityPolicy('S', 'N'), "default-src 'none'; img-src S data:; style-src S; font-src S; connect-src S; script-src 'nonce-N'");
  assert.doesNotMatch(html, /unsafe-inline|unsafe-eval|<style|style=|http:/);
  assert.doesNotMatch(html, /<b>/);
});

test('dashboard from a real comparison: columns carry the report numbers; exports escape hostile names', async () => {
  const compare = await compareModels(fixture('digits_cnn.onnx'), fixture('digits_cnn_static_qnnpack_torch.onnx'), {
    runs: 5,
    warmup: 1,
    perLayer: true,
    perLayerSamples: 32,
    data: fixture('digits_test_x.npy'),
    labels: fixture('digits_test_y.npy'),
  });
  const report = JSON.parse(JSON.stringify(buildReport(compare, { options: { mode: 'static', excludeNodes: ['/fc/Gemm'] } })));
  const d = toDashboard(report);
  assert.equal(d.models.length, 2);
  const [ref, cand] = d.models as [typeof d.models[0], typeof d.models[0]];
  assert.equal(ref.role, 'reference');
  assert.equal(ref.bytes, compare.size.referenceBytes);
  assert.equal(cand.sizeRatio, compare.size.ratio);
  assert.ok(cand.sizeRatio! > 3, 'int8 CNN is over 3× smaller');
  assert.equal(cand.speedup, compare.latency.speedup);
  assert.equal(cand.latency!.p99Ms, compare.latency.candidate.p99Ms);
  // The run distribution: every timed run of each model, as the engine measured them.
  assert.deepEqual(ref.samplesMs, compare.latency.reference.samplesMs);
  assert.deepEqual(cand.samplesMs, compare.latency.candidate.samplesMs);
  assert.equal(cand.samplesMs.length, 5);
  assert.equal([...cand.samplesMs].sort((a, b) => a - b)[2], compare.latency.candidate.p50Ms, 'median of 5 runs is p50');
  assert.equal(cand.fidelity!.agreement, compare.accuracy.agreement);
  assert.equal(cand.fidelity!.sqnrDb, compare.accuracy.sqnrDb);
  assert.equal(cand.fidelity!.accuracy, compare.accuracy.candidateAccuracy);
  assert.equal(ref.fidelity!.accuracy, compare.accuracy.referenceAccuracy);
  // Where the samples came from, said once for both columns.
  assert.equal(cand.fidelity?.dataSource, 'digits_test_x.npy, 360 samples, labelled');
  assert.equal(ref.fidelity?.dataSource, cand.fidelity?.dataSource);
  assert.deepEqual(cand.layers.map((l) => l.node), compare.layers!.map((l) => l.node), 'worst-first order kept');
  assert.ok(d.environment.some((e) => e.label === 'VNNI'));
  assert.ok(d.options.some((o) => o.label === 'excludeNodes'));
  assert.ok(isHostToDashboardMessage({ v: 1, type: 'report', report: d, persist: { reports: [report] } }));

  // A second variant against the same reference becomes a column; another reference starts over.
  const variant = { ...report, candidate: '/tmp/other.onnx', size: { ...report.size, ratio: 2 } };
  assert.equal(toDashboard(mergeReports([report], variant)).models.length, 3);
  assert.equal(toDashboard(mergeReports([report], { ...report })).models.length, 2, 'same candidate replaces its column');
  assert.equal(toDashboard(mergeReports([report], { ...report, reference: '/elsewhere.onnx' })).models.length, 2);

  // One complete report exports through the engine's renderers; two variants through ours.
  assert.equal(exportText('markdown', d, [report]), renderMarkdown(report));
  assert.deepEqual(JSON.parse(exportText('json', d, [report])), report);
  const both = mergeReports([report], variant);
  const md2 = exportText('markdown', toDashboard(both), both);
  assert.match(md2, /\| Size ratio \| 1\.00× \| 3\.66× \| 2\.00× \|/);
  assert.match(exportText('markdown', d, [{ ...report, accuracy: { agreement: 1 } }]), /^# Quantization report/, 'partial report falls back');

  const evil = '<img src=x onerror=alert(1)>';
  const hostile = toDashboard({ ...report, candidate: `/m/${evil}.onnx`, layers: [{ ...report.layers[0], node: evil, tensor: `${evil}|x` }] });
  const html = toHtml(hostile);
  assert.doesNotMatch(html, /<img/);
  assert.doesNotMatch(html, /<script/);
  assert.match(html, /&lt;img src=x onerror=alert\(1\)&gt;/);
  const md = toMarkdown(hostile);
  assert.doesNotMatch(md, /<img/);
  assert.match(md, /x onerror=alert\(1\)&gt;\\\|x/, 'pipes escaped inside table cells');
});
