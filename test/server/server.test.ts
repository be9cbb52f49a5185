/**
 * The built language server (dist/server.js --stdio) driven over JSON-RPC on copies of the
 * fixtures in a temporary folder: diagnostics, hovers, symbols, navigation, lenses, recipes,
 * code actions, file changes, corrupted and unsafe models.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CodeAction, CodeLens, CompletionItem, Diagnostic, DocumentSymbol, Hover, Location } from 'vscode-languageserver-protocol';
import { loadModel } from '../../src/core/onnx/model';
import { analyzeLayers } from '../../src/core/analysis/layers';
import { readFloat32 } from '../../src/core/onnx/tensor';
import { modelToBytes } from '../../src/core/onnx/save';
import { makeGraph, makeModel, makeNode, makeValueInfo } from '../../src/core/onnx/builder';
import { floatTensor } from '../../src/core/onnx/tensor';
import { DataType } from '../../src/core/onnx/dtype';
import { TensorProto_DataLocation } from '../../src/core/onnx/schema';
import { formatBytes } from '../../src/core/report/format';
import { encodeNpy } from '../../src/core/data/npy';
import { quantizeFile } from '../../src/core/quantize';
import { compareModels } from '../../src/core/evaluate/compare';
import { buildReport, writeReports } from '../../src/core/report';
import { latestReportAbout } from '../../src/core/report/locate';
import { textViewUri } from '../../src/server/uris';
import { TestClient } from './client';

const FIXTURES = path.join(__dirname, '../fixtures');
let dir: string;
let client: TestClient;

const fileUri = (p: string) => pathToFileURL(p).href;
const textUri = textViewUri;
const pos = (line: number, character: number) => ({ line, character });

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnxq-server-'));
  for (const f of ['digits_mlp.onnx', 'digits_cnn.onnx', 'digits_cnn_static_qnnpack_torch.onnx', 'digits_calib_x.npy']) fs.copyFileSync(path.join(FIXTURES, f), path.join(dir, f));
  client = await TestClient.start();
});

after(async () => {
  await client.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Open a model's text view the way the extension does: ask for the text, then open it. */
async function openView(model: string): Promise<{ uri: string; lines: string[] }> {
  const { text } = await client.request<{ text: string }>('onnxQuantizer/renderText', { uri: fileUri(model) });
  const uri = textUri(model);
  client.open(uri, 'onnx-text', text);
  return { uri, lines: text.split('\n') };
}

const lineOf = (lines: string[], needle: string) => {
  const i = lines.findIndex((l) => l.includes(needle));
  assert.ok(i >= 0, `no line with ${needle}`);
  return i;
};

test('text view of the MLP: one Information per weighted layer, with the node in data, published once (not on the .onnx file)', async () => {
  const model = path.join(dir, 'digits_mlp.onnx');
  const { uri, lines } = await openView(model);
  const diags = await client.diagnosticsFor(uri);
  const infos = diags.filter((d) => d.severity === 3);
  assert.deepEqual(infos.map((d) => (d.data as { node: string }).node).sort(), ['/fc1/Gemm', '/fc2/Gemm', '/fc3/Gemm']);
  const fc1 = infos.find((d) => (d.data as { node: string }).node === '/fc1/Gemm')!;
  // 256×64 float32 weight; int8 per-tensor: one byte per element plus scale and zero point.
  assert.match(fc1.message, new RegExp(`^Gemm → int8 dynamic: ${formatBytes(256 * 64 * 4)} → ${formatBytes(256 * 64 + 5)}`));
  assert.equal(fc1.range.start.line, lineOf(lines, '["/fc1/Gemm"]'));
  assert.equal(lines[fc1.range.start.line]!.slice(fc1.range.start.character, fc1.range.end.character), 'Gemm');
  assert.equal(client.diagnostics.get(fileUri(model)), undefined, 'nothing is published on the binary .onnx');
});

test('a tracked model without a view (the model editor) gets its findings on the text view it would open; they stay there when a view opens and closes, and clear when untracked', async () => {
  const model = path.join(dir, 'tracked.onnx');
  fs.copyFileSync(path.join(dir, 'digits_mlp.onnx'), model);
  client.notify('onnxQuantizer/trackModel', { uri: fileUri(model) });
  const tracked = await client.diagnosticsFor(textUri(model), (d) => d.some((x) => x.message.startsWith('Gemm')));
  const { uri } = await openView(model);
  assert.equal(uri, textUri(model));
  client.close(uri);
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(client.diagnostics.get(uri)?.map((d) => d.message), tracked.map((d) => d.message), 'still shown for the model editor');
  client.notify('onnxQuantizer/untrackModel', { uri: fileUri(model) });
  await client.diagnosticsFor(uri, (d) => d.length === 0);
  assert.equal(client.diagnostics.get(fileUri(model)), undefined);
  fs.rmSync(model);
});

test('hover on a weight shows its statistics and the scale quantization would choose', async () => {
  const model = path.join(dir, 'digits_mlp.onnx');
  const { uri, lines } = await openView(model);
  const line = lineOf(lines, '["/fc1/Gemm"]');
  const col = lines[line]!.indexOf('"fc1.weight"') + 3;
  const h = await client.request<Hover>('textDocument/hover', { textDocument: { uri }, position: pos(line, col) });
  const text = (h.contents as { value: string }).value;
  const w = readFloat32(loadModel(model).proto.graph!.initializer.find((t) => t.name === 'fc1.weight')!);
  let min = Infinity;
  let max = -Infinity;
  for (const x of w) {
    min = Math.min(min, x);
    max = Math.max(max, x);
  }
  assert.match(text, /initializer · float32\[256, 64\] · 64\.0 KiB/);
  assert.ok(text.includes(`| ${min.toPrecision(4)} | ${max.toPrecision(4)} |`), text);
  // Symmetric int8: scale = max|w| / 127 (float32), zero point 0.
  const scale = Math.fround(Math.max(-min, max) / 127);
  assert.ok(text.includes(`scale ${scale.toPrecision(6)}, zero point 0`), text);
  assert.match(text, /used by `\/fc1\/Gemm`/);

  const outCol = lines[line]!.indexOf('"/fc1/Gemm_output_0"') + 2;
  const outHover = await client.request<Hover>('textDocument/hover', { textDocument: { uri }, position: pos(line, outCol) });
  assert.match((outHover.contents as { value: string }).value, /tensor · float32 \(element type inferred; shape not declared\)/);

  const opCol = lines[line]!.indexOf('= Gemm') + 3;
  const nodeHover = await client.request<Hover>('textDocument/hover', { textDocument: { uri }, position: pos(line, opCol) });
  assert.match((nodeHover.contents as { value: string }).value, /quantizable: dynamic, static/);
});

test('definition goes to the producer, references list every line using a tensor, symbols group by op type', async () => {
  const model = path.join(dir, 'digits_mlp.onnx');
  const { uri, lines } = await openView(model);
  const gemm = lineOf(lines, '["/fc1/Gemm"]');
  const defs = await client.request<Location[]>('textDocument/definition', { textDocument: { uri }, position: pos(gemm, lines[gemm]!.indexOf('("/Flatten_output_0"') + 2) });
  assert.deepEqual(defs.map((d) => d.range.start.line), [lineOf(lines, '["/Flatten"]')]);
  const weightDef = await client.request<Location[]>('textDocument/definition', { textDocument: { uri }, position: pos(gemm, lines[gemm]!.indexOf('"fc1.bias"') + 1) });
  assert.deepEqual(weightDef.map((d) => d.range.start.line), [lineOf(lines, 'float[256] "fc1.bias"')]);

  const refs = await client.request<Location[]>('textDocument/references', {
    textDocument: { uri },
    position: pos(gemm, lines[gemm]!.indexOf('"/fc1/Gemm_output_0"') + 1),
    context: { includeDeclaration: true },
  });
  assert.deepEqual(refs.map((r) => r.range.start.line), [gemm, lineOf(lines, '["/relu1/Relu"]')]);

  const symbols = await client.request<DocumentSymbol[]>('textDocument/documentSymbol', { textDocument: { uri } });
  assert.deepEqual(symbols.map((s) => [s.name, s.children?.length]), [['Flatten', 1], ['Gemm', 3], ['Relu', 2], ['initializers', 6]]);
  assert.deepEqual(symbols[1]!.children!.map((c) => c.name), ['/fc1/Gemm', '/fc2/Gemm', '/fc3/Gemm']);
});

test('code lenses over the graph signature count quantizable layers and bytes saved', async () => {
  const model = path.join(dir, 'digits_mlp.onnx');
  const { uri, lines } = await openView(model);
  // The node lines' "Keep float" lenses are the quick-fix test's.
  const lenses = (await client.request<CodeLens[]>('textDocument/codeLens', { textDocument: { uri } })).filter((l) => l.command?.command !== 'onnxQuantizer.setLayerExcluded');
  assert.ok(lenses.every((l) => l.range.start.line === lineOf(lines, 'torch_jit (')));
  assert.equal(lenses[0]!.command!.title, '3 quantizable layers with weights');
  const before = (256 * 64 + 256 * 256 + 10 * 256) * 4;
  const afterInt8 = 256 * 64 + 5 + 256 * 256 + 5 + 10 * 256 + 5;
  assert.ok(lenses.some((l) => l.command!.title === `dynamic: ${formatBytes(before)} → ${formatBytes(afterInt8)} (saves ${formatBytes(before - afterInt8)})`), JSON.stringify(lenses));
});

test('an already quantized (QDQ) model: no size notes, a lens counting its quantized nodes', async () => {
  const model = path.join(dir, 'digits_cnn_static_qnnpack_torch.onnx');
  const { uri } = await openView(model);
  const diags = await client.diagnosticsFor(uri);
  assert.equal(diags.filter((d) => d.message.includes('→ int8')).length, 0);
  const lenses = await client.request<CodeLens[]>('textDocument/codeLens', { textDocument: { uri } });
  const titles = lenses.map((l) => l.command!.title);
  assert.equal(titles[0], '0 quantizable layers with weights');
  assert.ok(titles.some((t) => /^\d+ nodes already quantized$/.test(t)), titles.join(' | '));
  client.close(uri);
});

test('a node finding carries a link to the graph (its code)', async () => {
  const model = path.join(dir, 'digits_mlp.onnx');
  const { uri } = await openView(model);
  const diags = await client.diagnosticsFor(uri);
  for (const list of [diags]) {
    const nodes = list.filter((d) => (d.data as { node?: string } | undefined)?.node);
    assert.ok(nodes.length >= 3, JSON.stringify(list));
    for (const d of nodes) {
      assert.equal(d.code, 'show in graph');
      const [command, query = ''] = (d.codeDescription?.href ?? '').split('?');
      assert.equal(command, 'command:onnxQuantizer.openGraph');
      assert.deepEqual(JSON.parse(decodeURIComponent(query)), [fileUri(model), (d.data as { node: string }).node]);
    }
  }
});

test('quick fixes and "Keep float" lenses run the recipe commands, only for nodes the recipe\'s mode quantizes', async () => {
  const model = path.join(dir, 'digits_mlp.onnx');
  const { uri, lines } = await openView(model);
  const diags = await client.diagnosticsFor(uri);
  const fc2 = diags.find((d) => (d.data as { node: string }).node === '/fc2/Gemm');
  assert.ok(fc2, 'a diagnostic on /fc2/Gemm');
  const ask = () => client.request<CodeAction[]>('textDocument/codeAction', { textDocument: { uri }, range: fc2.range, context: { diagnostics: [fc2] } });
  const nodeLenses = async () =>
    (await client.request<CodeLens[]>('textDocument/codeLens', { textDocument: { uri } }))
      .filter((l) => l.command?.command === 'onnxQuantizer.setLayerExcluded')
      .map((l) => [l.range.start.line, l.command?.title, ...(l.command?.arguments ?? [])]);
  // No recipe yet: offered in every mode that quantizes the node; the extension writes the recipe (the view is read-only).
  const actions = await ask();
  assert.deepEqual(actions.map((a) => a.title), ['Exclude /fc2/Gemm from quantization (dynamic, static, weight-only)', 'Use per-channel for /fc2/Gemm', 'Show /fc2/Gemm in Graph']);
  assert.deepEqual(actions[2]?.command, { title: 'Show in Graph', command: 'onnxQuantizer.openGraph', arguments: [fileUri(model), '/fc2/Gemm'] });
  assert.equal(actions[0]?.edit, undefined);
  assert.deepEqual(actions[0]?.command?.arguments, [fileUri(model), '/fc2/Gemm', true]);
  assert.deepEqual(actions[1]?.command?.command, 'onnxQuantizer.setLayerPerChannel');
  assert.deepEqual(
    (await nodeLenses()).map((l) => l.slice(1, 2)),
    [['Keep float (dynamic, static, weight-only)'], ['Keep float (dynamic, static, weight-only)'], ['Keep float (dynamic, static, weight-only)']],
    'the three Gemms, not Flatten or Relu',
  );

  // A static recipe keeping /fc2/Gemm float: no fix for it, a lens to quantize it again.
  const recipePath = path.join(dir, 'digits_mlp.quant.json');
  fs.writeFileSync(recipePath, JSON.stringify({ model: 'digits_mlp.onnx', mode: 'static', options: { calibrationData: 'digits_calib_x.npy' }, nodes: { '/fc2/Gemm': { exclude: true } } }));
  try {
    assert.deepEqual((await ask()).map((a) => a.title), ['Show /fc2/Gemm in Graph']);
    const titles = (await nodeLenses()).map((l) => [l[1], l[3], l[4]]);
    assert.deepEqual((await nodeLenses()).map((l) => l[0]), ['/fc1/Gemm', '/fc2/Gemm', '/fc3/Gemm'].map((n) => lineOf(lines, `"${n}"`)), 'each on its node\'s line');
    assert.deepEqual(titles, [
      ['Keep float (static)', '/fc1/Gemm', true],
      ['Kept float by the recipe · Quantize again', '/fc2/Gemm', false],
      ['Keep float (static)', '/fc3/Gemm', true],
    ]);
  } finally {
    fs.rmSync(recipePath);
  }
  client.close(uri);
});

test('mode-aware offers on the CNN: dynamic leaves its Convs and pooling alone, static offers them but not Flatten or Relu', async () => {
  const model = path.join(dir, 'digits_cnn.onnx');
  const { uri } = await openView(model);
  const recipePath = path.join(dir, 'digits_cnn.quant.json');
  const offered = async () =>
    (await client.request<CodeLens[]>('textDocument/codeLens', { textDocument: { uri } })).filter((l) => l.command?.command === 'onnxQuantizer.setLayerExcluded').map((l) => l.command?.arguments?.[1] as string);
  try {
    fs.writeFileSync(recipePath, JSON.stringify({ model: 'digits_cnn.onnx', mode: 'dynamic' }));
    assert.deepEqual(await offered(), ['/fc/Gemm']);
    fs.writeFileSync(recipePath, JSON.stringify({ model: 'digits_cnn.onnx', mode: 'static', options: { calibrationData: 'digits_calib_x.npy' } }));
    assert.deepEqual(await offered(), ['/stem/stem.0/Conv', '/res1/res1.0/Conv', '/res2/res2.0/Conv', '/Add', '/down/down.0/Conv', '/pool/GlobalAveragePool', '/fc/Gemm']);
  } finally {
    fs.rmSync(recipePath, { force: true });
  }
  client.close(uri);
  // An already quantized model: its recipe would change nothing, so nothing is offered.
  const quantized = path.join(dir, 'digits_cnn_static_qnnpack_torch.onnx');
  const q = await openView(quantized);
  const lenses = await client.request<CodeLens[]>('textDocument/codeLens', { textDocument: { uri: q.uri } });
  assert.equal(lenses.filter((l) => l.command?.command === 'onnxQuantizer.setLayerExcluded').length, 0);
  client.close(q.uri);
});

test('recipe checks: unknown nodes, op types the mode cannot quantize, calibration data that does not fit', async () => {
  const recipePath = path.join(dir, 'checks.quant.json');
  const uri = fileUri(recipePath);
  const recipe = (calibrationData: string) =>
    JSON.stringify(
      {
        model: 'digits_mlp.onnx',
        mode: 'static',
        options: { calibrationData, opTypes: ['Gemm', 'LSTM', 'Flatten'], excludeNodes: ['/nope'] },
        nodes: { '/Flatten': { perChannel: true }, '/fc1/Gemm': { exclude: true }, '/fc2/Gemm': { perChannel: false }, '/fc3/Gemm': { bits: 8 } },
      },
      null,
      2,
    );
  // Float samples, but flattened: [4, 64] where the model takes [N, 1, 8, 8].
  fs.writeFileSync(path.join(dir, 'flat.npy'), encodeNpy({ dtype: 'float32', shape: [4, 64], data: new Uint8Array(4 * 64 * 4) }));
  client.open(uri, 'json', recipe('flat.npy'));
  const diags = await client.diagnosticsFor(uri, (d) => d.length > 0);
  const messages = diags.map((d) => d.message);
  assert.ok(messages.includes("no node named '/nope' in digits_mlp.onnx"), messages.join('\n'));
  assert.ok(messages.includes('no LSTM node in digits_mlp.onnx'), messages.join('\n'));
  assert.ok(messages.includes('static mode cannot quantize the Flatten nodes of this model'), messages.join('\n'));
  assert.ok(messages.includes("static mode does not quantize '/Flatten' (Flatten): this override has no effect"), messages.join('\n'));
  const calib = diags.find((d) => d.range.start.line === recipe('').split('\n').findIndex((l) => l.includes('calibrationData')))!;
  assert.equal(calib.severity, 1);
  assert.equal(calib.message, "data for input 'image' has shape [4, 64], the model expects rank 4 ([batch, 1, 8, 8]) with samples on the first axis");
  // Per-node perChannel is applied by the quantizer: nothing flagged on '/fc2/Gemm'; "bits" is weight-only, so flagged in static mode.
  const lineOf = (key: string) => recipe('').split('\n').findIndex((l) => l.includes(`"${key}"`));
  assert.deepEqual(diags.filter((d) => d.range.start.line === lineOf('/fc2/Gemm')), []);
  assert.deepEqual(
    diags.filter((d) => d.range.start.line === lineOf('/fc3/Gemm')).map((d) => [d.severity, d.message]),
    [[2, '"bits" applies to weight-only mode only: no effect in static mode']],
  );
  assert.equal(diags.filter((d) => d.severity === 3).length, 0);
  assert.equal(diags.length, 6);

  client.change(uri, recipe('digits_calib_x.npy'), 2);
  const fixed = await client.diagnosticsFor(uri, (d) => d.length === 5);
  assert.equal(fixed.filter((d) => d.severity === 1).length, 0);

  client.change(uri, recipe('missing.npy'), 3);
  const missing = await client.diagnosticsFor(uri, (d) => d.length === 6);
  assert.deepEqual(missing.filter((d) => d.severity === 1).map((d) => d.message), [`calibration data '${path.join(dir, 'missing.npy')}' does not exist`]);
  client.close(uri);
});

test('recipe per-node perChannel in dynamic mode: applied on a Gemm (no diagnostic), flagged on a Conv (ConvInteger is per tensor)', async () => {
  const uri = fileUri(path.join(dir, 'cnn_dynamic.quant.json'));
  const text = JSON.stringify(
    { model: 'digits_cnn.onnx', mode: 'dynamic', options: { quantizeConv: true }, nodes: { '/stem/stem.0/Conv': { perChannel: true }, '/fc/Gemm': { perChannel: false } } },
    null,
    2,
  );
  client.open(uri, 'json', text);
  const diags = await client.diagnosticsFor(uri, (d) => d.length > 0);
  const lineOf = (key: string) => text.split('\n').findIndex((l) => l.includes(`"${key}"`));
  assert.deepEqual(
    diags.map((d) => [d.range.start.line, d.message]),
    [[lineOf('/stem/stem.0/Conv'), `dynamic mode quantizes Conv weights per tensor: "perChannel" has no effect on '/stem/stem.0/Conv'`]],
  );
  client.close(uri);
});

test('recipe completion offers node names and op types from the model', async () => {
  const uri = fileUri(path.join(dir, 'complete.quant.json'));
  const text = '{\n  "model": "digits_mlp.onnx",\n  "mode": "dynamic",\n  "options": { "opTypes": [""] },\n  "nodes": { "" }\n}\n';
  client.open(uri, 'json', text);
  const lines = text.split('\n');
  const nodeItems = await client.request<CompletionItem[]>('textDocument/completion', { textDocument: { uri }, position: pos(4, lines[4]!.indexOf('""') + 1) });
  assert.deepEqual(
    nodeItems.map((i) => i.label),
    ['/Flatten', '/fc1/Gemm', '/relu1/Relu', '/fc2/Gemm', '/relu2/Relu', '/fc3/Gemm'],
  );
  assert.equal((nodeItems[1]!.textEdit as { newText: string }).newText, '"/fc1/Gemm"');
  const opItems = await client.request<CompletionItem[]>('textDocument/completion', { textDocument: { uri }, position: pos(3, lines[3]!.indexOf('""') + 1) });
  assert.deepEqual(opItems.map((i) => i.label), ['Flatten', 'Gemm', 'Relu']);
  client.close(uri);
});

test('a per-layer report next to the model adds SQNR warnings; severities follow the settings', async () => {
  const model = path.join(dir, 'digits_mlp.onnx');
  const { uri } = await openView(model);
  const report = path.join(dir, 'digits_mlp.quant-report.json');
  fs.writeFileSync(
    report,
    JSON.stringify({ label: 'static int8', layers: [{ tensor: '/fc2/Gemm_output_0', node: '/fc2/Gemm', sqnrDb: 9.8, cosine: 0.95 }, { tensor: 'logits', node: '/fc3/Gemm', sqnrDb: 31.2, cosine: 0.999 }] }),
  );
  client.notify('workspace/didChangeWatchedFiles', { changes: [{ uri: fileUri(report), type: 1 }] });
  const diags = await client.diagnosticsFor(uri, (d) => d.some((x) => x.message.startsWith('SQNR')));
  const sqnr = diags.filter((d) => d.message.startsWith('SQNR'));
  assert.equal(sqnr.length, 1);
  assert.equal(sqnr[0]!.message, "SQNR 9.8 dB after static int8 (tensor '/fc2/Gemm_output_0', cosine 0.9500): consider keeping float");
  assert.equal((sqnr[0]!.data as { node: string }).node, '/fc2/Gemm');

  client.config = { layerSeverity: 'off', accuracySeverity: 'error' };
  client.notify('workspace/didChangeConfiguration', { settings: null });
  const after = await client.diagnosticsFor(uri, (d) => d.length === 1 && d[0]!.severity === 1);
  assert.match(after[0]!.message, /^SQNR 9\.8 dB/);
  client.config = {};
  client.notify('workspace/didChangeConfiguration', { settings: null });
  await client.diagnosticsFor(uri, (d) => d.length === 4);
  fs.rmSync(report);
});

test('a comparison report beside the quantized model puts its findings on the float model, not on the candidate', async () => {
  const float = path.join(dir, 'digits_mlp.onnx');
  const candidate = path.join(dir, 'digits_mlp.int8.onnx');
  await quantizeFile(float, candidate, { mode: 'dynamic' });
  const compared = await compareModels(float, candidate, { runs: 2, warmup: 0, perLayer: true, data: path.join(FIXTURES, 'digits_test_x.npy') });
  const files = writeReports(buildReport(compared, { options: { mode: 'dynamic' } }), candidate);
  assert.equal(files.json, path.join(dir, 'digits_mlp.int8.quant-report.json'), 'one naming: the report sits beside the candidate');
  assert.equal(latestReportAbout(float), files.json);
  assert.equal(latestReportAbout(candidate), undefined, 'the candidate is not what the report is about');
  const measured = (compared.layers ?? []).flatMap((l) => (l.sqnrDb === null ? [] : [{ node: l.node, sqnrDb: l.sqnrDb }]));
  const worst = measured.sort((a, b) => a.sqnrDb - b.sqnrDb)[0];
  assert.ok(worst, 'the comparison measured per-layer error');
  // Every layer under the threshold, so the findings are the report's rows.
  client.config = { sqnrThresholdDb: 200 };
  client.notify('workspace/didChangeConfiguration', { settings: null });
  const view = await openView(float);
  const candidateView = await openView(candidate);
  client.notify('workspace/didChangeWatchedFiles', { changes: [{ uri: fileUri(files.json), type: 1 }] });
  const diags = await client.diagnosticsFor(view.uri, (d) => d.some((x) => x.message.startsWith('SQNR')));
  const row = diags.find((d) => (d.data as { node?: string } | undefined)?.node === worst.node && d.message.startsWith('SQNR'));
  assert.ok(row, `no SQNR finding on ${worst.node}: ${JSON.stringify(diags.map((d) => d.message))}`);
  assert.equal(row.message.split(' (tensor')[0], `SQNR ${worst.sqnrDb.toFixed(1)} dB after dynamic → digits_mlp.int8.onnx`);
  assert.equal(row.range.start.line, lineOf(view.lines, worst.node));
  const onCandidate = await client.diagnosticsFor(candidateView.uri);
  assert.deepEqual(onCandidate.filter((d) => d.message.startsWith('SQNR')), [], 'no accuracy findings on the quantized model');
  client.config = {};
  client.notify('workspace/didChangeConfiguration', { settings: null });
  client.close(view.uri);
  client.close(candidateView.uri);
  for (const f of [candidate, files.json, files.markdown, files.html]) fs.rmSync(f);
});

test('a model changed on disk gets new diagnostics and a modelChanged notification; deleted, its diagnostics clear', async () => {
  const model = path.join(dir, 'changing.onnx');
  fs.copyFileSync(path.join(dir, 'digits_mlp.onnx'), model);
  client.notify('onnxQuantizer/trackModel', { uri: fileUri(model) });
  await client.diagnosticsFor(textUri(model), (d) => d.some((x) => x.message.startsWith('Gemm')));
  fs.copyFileSync(path.join(dir, 'digits_cnn.onnx'), model);
  client.notify('workspace/didChangeWatchedFiles', { changes: [{ uri: fileUri(model), type: 2 }] });
  const cnn = await client.diagnosticsFor(textUri(model), (d) => d.some((x) => x.message.startsWith('Conv')));
  assert.ok(cnn.some((d) => /^Conv → int8 static/.test(d.message)));
  await client.until('modelChanged', () => client.notifications.some((n) => n.method === 'onnxQuantizer/modelChanged' && (n.params as { uri: string }).uri === fileUri(model)));
  fs.rmSync(model);
  client.notify('workspace/didChangeWatchedFiles', { changes: [{ uri: fileUri(model), type: 3 }] });
  await client.diagnosticsFor(textUri(model), (d) => d.length === 0);
});

test('a corrupted model gives exactly one Error and the server keeps answering', async () => {
  const model = path.join(dir, 'corrupt.onnx');
  const bytes = fs.readFileSync(path.join(dir, 'digits_mlp.onnx'));
  fs.writeFileSync(model, bytes.subarray(0, 3000));
  const { uri, lines } = await openView(model);
  assert.match(lines[0]!, /^# corrupt\.onnx: .*not a valid ONNX model/);
  const diags = await client.diagnosticsFor(uri);
  assert.equal(diags.length, 1);
  assert.equal(diags[0]!.severity, 1);
  assert.match(diags[0]!.message, /not a valid ONNX model/);
  assert.equal(await client.request('textDocument/hover', { textDocument: { uri }, position: pos(0, 2) }), null);
  const again = await client.request<{ text: string }>('onnxQuantizer/renderText', { uri: fileUri(path.join(dir, 'digits_cnn.onnx')) });
  assert.match(again.text, /= Conv/);
  assert.equal(client.child.exitCode, null);
});

test('paths with spaces and # survive the URI round trip', async () => {
  const sub = path.join(dir, 'my models #1');
  fs.mkdirSync(sub);
  const model = path.join(sub, 'digits mlp.onnx');
  fs.copyFileSync(path.join(dir, 'digits_mlp.onnx'), model);
  const { uri } = await openView(model);
  assert.match(uri, /my%20models%20%231\/digits%20mlp\.onnx\.txt$/);
  const diags = await client.diagnosticsFor(uri, (d) => d.length > 0);
  assert.ok(diags.some((d) => d.message.startsWith('Gemm →')));
  client.close(uri);
});

test('external data outside the model folder is refused with one Error', async () => {
  const sub = path.join(dir, 'unsafe');
  fs.mkdirSync(sub);
  fs.writeFileSync(path.join(dir, 'outside.bin'), Buffer.alloc(16));
  const w = floatTensor('w', [2, 2], [1, 2, 3, 4]);
  w.rawData = new Uint8Array(0);
  w.dataLocation = TensorProto_DataLocation.EXTERNAL;
  w.externalData = [
    { $typeName: 'onnx.StringStringEntryProto', key: 'location', value: '../outside.bin' },
    { $typeName: 'onnx.StringStringEntryProto', key: 'length', value: '16' },
  ];
  const g = makeGraph([makeNode('MatMul', ['x', 'w'], ['y'])], 'g', [makeValueInfo('x', DataType.FLOAT, [2, 2])], [makeValueInfo('y', DataType.FLOAT, [2, 2])], [w]);
  const model = path.join(sub, 'unsafe.onnx');
  fs.writeFileSync(model, modelToBytes(makeModel(g)));
  client.notify('onnxQuantizer/trackModel', { uri: fileUri(model) });
  const diags = await client.diagnosticsFor(textUri(model));
  assert.equal(diags.length, 1);
  assert.equal(diags[0]!.severity, 1);
  assert.match(diags[0]!.message, /external data for tensor 'w' points outside the model's folder \('\.\.\/outside\.bin'\); refused/);
});

test('diagnostics fit the chosen mode: a static-only risk is a hint in dynamic mode, a CNN in dynamic mode gets a top-level hint for static', async () => {
  // A LayerNormalization (QDQ around it is pure overhead, in static mode only) after a MatMul.
  const d = 32;
  const g = makeGraph(
    [makeNode('MatMul', ['x', 'w'], ['h'], {}, { name: 'mm' }), makeNode('LayerNormalization', ['h', 'gamma', 'beta'], ['y'], { axis: -1 }, { name: 'ln' })],
    'g',
    [makeValueInfo('x', DataType.FLOAT, [1, d])],
    [makeValueInfo('y', DataType.FLOAT, [1, d])],
    [floatTensor('w', [d, d], Array.from({ length: d * d }, (_, i) => Math.sin(i))), floatTensor('gamma', [d], new Array(d).fill(1)), floatTensor('beta', [d], new Array(d).fill(0))],
  );
  const model = path.join(dir, 'layernorm.onnx');
  fs.writeFileSync(model, modelToBytes(makeModel(g)));
  const { uri } = await openView(model);
  const risk = (list: Diagnostic[]) => list.find((x) => /LayerNormalization has no fused int8 kernel/.test(x.message));
  const dynamic = risk(await client.diagnosticsFor(uri, (l) => risk(l) !== undefined));
  assert.equal(dynamic?.severity, 4, 'a hint while the mode is dynamic');
  assert.match(dynamic?.message ?? '', /\(static mode only; the chosen mode is dynamic\)$/);
  // Static in the settings: the same risk is a warning again.
  client.config = { mode: 'static' };
  client.notify('workspace/didChangeConfiguration', { settings: null });
  const staticRisk = risk(await client.diagnosticsFor(uri, (l) => risk(l)?.severity === 2));
  assert.doesNotMatch(staticRisk?.message ?? '', /static mode only/);
  client.config = {};
  client.notify('workspace/didChangeConfiguration', { settings: null });
  client.close(uri);

  // digits_cnn: dynamic quantizes only the Gemm (5 KiB of 584.5 KiB): the view's first line says static is the mode for it.
  const cnn = await openView(path.join(dir, 'digits_cnn.onnx'));
  const fit = (list: Diagnostic[]) => list.find((x) => x.range.start.line === 0 && /mode leaves/.test(x.message));
  const hint = fit(await client.diagnosticsFor(cnn.uri, (l) => fit(l) !== undefined));
  assert.equal(hint?.severity, 3);
  const layers = analyzeLayers(loadModel(path.join(dir, 'digits_cnn.onnx')));
  const convBytes = layers.filter((l) => l.opType === 'Conv').reduce((n, l) => n + l.weightBytes, 0);
  const allBytes = layers.reduce((n, l) => n + l.weightBytes, 0);
  assert.equal(hint?.message, `dynamic mode leaves ${formatBytes(convBytes)} of the ${formatBytes(allBytes)} of weights float (4 Conv): static mode quantizes ${formatBytes(convBytes)} of them`);
  // The MLP fits dynamic mode: no such line.
  const mlp = await openView(path.join(dir, 'digits_mlp.onnx'));
  assert.equal(fit(await client.diagnosticsFor(mlp.uri, (l) => l.length > 0)), undefined);
  client.close(cnn.uri);
  client.close(mlp.uri);
  fs.rmSync(model);
});
