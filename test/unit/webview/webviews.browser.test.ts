// The real webview bundles in headless Chromium, driven by the real host-side logic (summary
// adapter, LayerTable, report adapter): hostile names stay text, 10,000 layers render as a small
// window of rows, buttons post the right messages, theme variables drive the colours, CSP holds.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import type { Browser } from 'playwright-core';
import { buildWebviews, launch, openWebview, postedMatching, type WebviewPage } from './browser';
import { syntheticSummary } from './fixtures';
import { toEditorModel } from '../../../src/extension/editor/summaryAdapter';
import { LayerTable } from '../../../src/extension/editor/layerTable';
import { toDashboard } from '../../../src/extension/dashboard/reportAdapter';
import { compareModels } from '../../../src/core/evaluate/compare';
import { buildReport } from '../../../src/core/report/build';
import { quantizeFile } from '../../../src/core/quantize/index';
import { unlikeCalibration } from '../quantize/helpers';
import { isDashboardToHostMessage, isEditorToHostMessage } from '../../../src/shared/webviewMessages';

const EVIL = '<img src=x onerror="window.__pwned=1">';
let browser: Browser;
let bundles: string;

before(async () => {
  [bundles, browser] = await Promise.all([buildWebviews(), launch()]);
});
after(async () => {
  await browser?.close();
  if (bundles) fs.rmSync(bundles, { recursive: true, force: true });
});

/** A host that answers like src/extension/editor/modelEditor.ts, minus vscode. */
function editorHost(summary: unknown, trusted = true): (m: unknown, view: WebviewPage) => Promise<void> {
  const model = toEditorModel(summary, `${EVIL}.onnx`);
  const table = new LayerTable(model.rows);
  return async (m, view) => {
    if (!isEditorToHostMessage(m)) throw new Error(`webview posted a malformed message: ${JSON.stringify(m)}`);
    if (m.type === 'ready') {
      await view.send({ v: 1, type: 'trust', trusted });
      await view.send({ v: 1, type: 'loading', fileName: `${EVIL}.onnx` });
      await view.send({ v: 1, type: 'summary', card: model.card, ops: model.ops, rowCount: model.rows.length });
    } else if (m.type === 'requestRows') {
      await view.send({ v: 1, type: 'rows', requestId: m.requestId, ...table.page(m.offset, m.limit, m.query) });
    }
  };
}

test('model editor: hostile names render as text, 10,000 layers virtualised, sort/filter/buttons work, theme colours apply', async () => {
  const summary = syntheticSummary(10_000, (i) => (i % 500 === 0 ? `${EVIL}#${i}` : `layer_${i}`));
  (summary as { producer: unknown }).producer = { name: '<script>window.__pwned=2</script>', version: EVIL };
  (summary as { inputs: unknown }).inputs = [{ name: EVIL, dtype: 'float32', shape: [1, EVIL] }];
  const view = await openWebview(browser, bundles, 'editor', editorHost(summary));
  const { page } = view;
  await page.locator('[data-testid=layer-row][data-node]').first().waitFor();

  // Hostile strings are text, nowhere markup.
  assert.equal(await page.locator('img').count(), 0);
  assert.equal(await page.locator('main script').count(), 0);
  assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
  assert.equal(await page.getByTestId('model-title').textContent(), `${EVIL}.onnx`);
  assert.match((await page.getByTestId('card-producer').textContent())!, /^<script>window.__pwned=2<\/script> <img/);
  assert.equal(await page.locator('[data-testid=layer-row]').first().getAttribute('data-node'), `${EVIL}#0`);
  assert.equal(await page.locator('[data-testid=layer-row]').first().locator('.c-name').textContent(), `${EVIL}#0`);
  assert.equal(await page.getByTestId('op-count-Conv').textContent(), '1,667×');

  // Only a window of the 10,000 rows exists; the scroll height covers all of them.
  const rendered = await page.locator('[data-testid=layer-row]:not([hidden])').count();
  assert.ok(rendered > 10 && rendered < 100, `${rendered} rows in the DOM`);
  assert.equal(await page.locator('.virtual-spacer').evaluate((el) => el.getBoundingClientRect().height), 240_000);
  await page.getByTestId('layer-viewport').evaluate((el) => (el.scrollTop = el.scrollHeight));
  await page.locator('[data-testid=layer-row][aria-rowindex="10000"]').waitFor();
  assert.equal(await page.locator('[data-testid=layer-row][aria-rowindex="10000"]').getAttribute('data-node'), 'layer_9999');
  assert.ok((await page.locator('[data-testid=layer-row]:not([hidden])').count()) < 100);
  const pagesAsked = view.posted.filter((m) => (m as { type: string }).type === 'requestRows').length;
  assert.ok(pagesAsked >= 2 && pagesAsked < 10, `${pagesAsked} pages requested`);

  // Filter (host-side) and sort by weight.
  await page.getByTestId('layer-filter').fill('onerror');
  await page.waitForFunction(() => document.querySelector('[data-testid=layer-count]')?.textContent === '20 of 10,000 layers');
  // Exactly the 20 matches are on screen: no pooled row left over as a "…" ghost below them.
  await page.waitForFunction(() => Array.from(document.querySelectorAll('[data-testid=layer-row]')).filter((el) => el.getBoundingClientRect().height > 0).length === 20);
  const shown = await page.locator('[data-testid=layer-row]').evaluateAll((els) => els.filter((el) => el.getBoundingClientRect().height > 0).map((el) => el.querySelector('.c-name')?.textContent ?? ''));
  assert.equal(shown.length, 20);
  assert.ok(shown.every((name) => name.includes('onerror')), JSON.stringify(shown));
  await page.getByTestId('layer-filter').fill('');
  await page.getByTestId('sort-weightBytes').click();
  await page.waitForFunction(() => document.querySelector('[data-column=weightBytes]')?.getAttribute('aria-sort') === 'descending');
  const maxBytes = Math.max(...toEditorModel(summary, 'x').rows.map((r) => r.weightBytes));
  const top = toEditorModel(summary, 'x').rows.filter((r) => r.weightBytes === maxBytes).sort((a, b) => b.index - a.index)[0]!;
  await page.waitForFunction((node) => document.querySelector('[data-testid=layer-row][aria-rowindex="1"]')?.getAttribute('data-node') === node, top.node);

  // Buttons post commands with no arguments the host must trust.
  await page.getByTestId('btn-quantize').click();
  await page.getByTestId('btn-show-as-text').click();
  const commands = (await postedMatching(view, (m) => m.type === 'runCommand', 2)).map((m) => (m as { command: string }).command);
  assert.deepEqual(commands, ['quantize', 'showAsText']);

  // A row's Graph action (and a double click on the row) names the row's node key, hostile or not.
  const first = page.locator('[data-testid=layer-row][aria-rowindex="1"]');
  await first.hover();
  await first.getByTestId('row-show-in-graph').click();
  await page.locator('[data-testid=layer-row][aria-rowindex="2"] .c-op').dblclick();
  const second = await page.locator('[data-testid=layer-row][aria-rowindex="2"]').getAttribute('data-node');
  const jumps = (await postedMatching(view, (m) => m.type === 'showInGraph', 2)).map((m) => (m as { node: string }).node);
  assert.deepEqual(jumps, [top.node, second]);

  // Colours come from the theme variables VS Code sets on <html>.
  const colourOf = (): Promise<string[]> =>
    page.evaluate(() => [getComputedStyle(document.body).color, getComputedStyle(document.querySelector('.op-chart .bar')!).fill]);
  await page.evaluate(() => {
    document.documentElement.style.setProperty('--vscode-editor-foreground', 'rgb(10, 20, 30)');
    document.documentElement.style.setProperty('--vscode-charts-blue', 'rgb(0, 0, 200)');
    document.body.className = 'vscode-light';
  });
  assert.deepEqual(await colourOf(), ['rgb(10, 20, 30)', 'rgb(0, 0, 200)']);
  await page.evaluate(() => {
    document.documentElement.style.setProperty('--vscode-editor-foreground', 'rgb(240, 240, 240)');
    document.documentElement.style.setProperty('--vscode-charts-blue', 'rgb(100, 150, 255)');
    document.body.className = 'vscode-high-contrast';
  });
  assert.deepEqual(await colourOf(), ['rgb(240, 240, 240)', 'rgb(100, 150, 255)']);

  // A malformed host message is dropped; the view keeps working.
  await view.send({ v: 1, type: 'rows', requestId: 1, offset: 0, total: 5, rows: [{ node: 1 }] });
  await view.send({ v: 1, type: 'summaryError', message: EVIL });
  assert.equal(await page.getByTestId('summary-error').textContent(), EVIL);
  assert.equal(await page.locator('img').count(), 0);
  assert.deepEqual(await view.problems(), []);
  await page.close();
});

test('model editor in Restricted Mode: Quantize/Benchmark/Compare disabled with a reason until trust is granted', async () => {
  const view = await openWebview(browser, bundles, 'editor', editorHost(syntheticSummary(20, (i) => `layer_${i}`), false));
  const { page } = view;
  await page.locator('[data-testid=layer-row][data-node]').first().waitFor();
  for (const id of ['btn-quantize', 'btn-benchmark', 'btn-compare']) {
    const b = page.getByTestId(id);
    assert.equal(await b.getAttribute('disabled'), '', `${id} disabled`);
    assert.equal(await b.evaluate((el) => (el as HTMLElement & { disabled: boolean }).disabled), true, `${id} disabled property`);
    assert.equal(await b.getAttribute('title'), 'Requires a trusted workspace');
  }
  const text = page.getByTestId('btn-show-as-text');
  assert.equal(await text.getAttribute('disabled'), null);
  assert.equal(await text.getAttribute('title'), null);

  // Clicking a disabled button posts nothing; Show as Text still works.
  await page.getByTestId('btn-quantize').click({ force: true });
  await page.getByTestId('btn-compare').dispatchEvent('click');
  await text.click();
  assert.deepEqual((await postedMatching(view, (m) => m.type === 'runCommand', 1)).map((m) => (m as { command: string }).command), ['showAsText']);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(view.posted.filter((m) => (m as { type: string }).type === 'runCommand').length, 1);

  // The host grants trust (onDidGrantWorkspaceTrust): the buttons come back.
  await view.send({ v: 1, type: 'trust', trusted: true });
  for (const id of ['btn-quantize', 'btn-benchmark', 'btn-compare']) {
    assert.equal(await page.getByTestId(id).getAttribute('disabled'), null, `${id} enabled`);
    assert.equal(await page.getByTestId(id).getAttribute('title'), null);
  }
  await page.getByTestId('btn-benchmark').click();
  const commands = (await postedMatching(view, (m) => m.type === 'runCommand', 2)).map((m) => (m as { command: string }).command);
  assert.deepEqual(commands, ['showAsText', 'benchmark']);
  assert.deepEqual(await view.problems(), []);
  await page.close();
});

test('dashboard: metrics side by side, per-layer rows with exclude, exports, state saved, hostile names inert', async () => {
  const report = {
    kind: 'onnx-quantizer-report',
    reference: '/models/net.onnx',
    candidate: `/models/${EVIL}.int8.onnx`,
    size: { referenceBytes: 600_434, candidateBytes: 163_976, ratio: 3.662 },
    latency: {
      reference: { p50Ms: 0.104, p90Ms: 0.147, p99Ms: 0.164, samplesMs: [0.1, 0.11, 0.104, 0.16] },
      candidate: { p50Ms: 0.084, p90Ms: 0.142, p99Ms: 0.172, samplesMs: [0.08, 0.09, 0.084, 0.17] },
      speedup: 1.246, runs: 4, batch: 1, threads: 2,
    },
    accuracy: { samples: 360, agreement: 0.9972, cosine: 0.999928, sqnrDb: 37.766, identical: false, maxAbsError: 0.459, referenceAccuracy: 1, candidateAccuracy: 0.9972, inputs: 'data', dataFile: '/models/net_test_x.npy', labelsFile: '/models/net_test_y.npy' },
    layers: [
      { tensor: 't1', node: EVIL, opType: 'Add', sqnrDb: 32.2, identical: false, cosine: 0.9997, localSqnrDb: 32.2 },
      ...Array.from({ length: 40 }, (_, i) => ({ tensor: `t${i + 2}`, node: `/conv${i}`, opType: 'Conv', sqnrDb: 40 + i, identical: false, cosine: 0.9999, localSqnrDb: 41 + i })),
    ],
    environment: { ortVersion: '1.30.0', nodeVersion: 'v20', platform: 'linux', arch: 'x64', cpuModel: EVIL, logicalCpus: 2, cpuFlags: { avx2: true, avx512f: false, avx512vnni: false, avxvnni: true, amx: false }, threads: 2 },
    options: { mode: 'static', calibrationMethod: 'minmax' },
  };
  const view = await openWebview(browser, bundles, 'dashboard', async (m, v) => {
    if (!isDashboardToHostMessage(m)) throw new Error(`malformed: ${JSON.stringify(m)}`);
    if (m.type === 'ready') await v.send({ v: 1, type: 'report', report: toDashboard(report), persist: { reports: [report] } });
  }, { 'Export JSON': 'JSON exportieren', 'Show all {0} layers': 'Alle {0} Schichten zeigen', '</script><b>': 'x' });
  const { page } = view;
  await page.getByTestId('summary-table').waitFor();
  assert.equal(await page.getByTestId('size-ratio').textContent(), '3.66×');
  assert.equal(await page.getByTestId('speedup').textContent(), '1.25×');
  assert.equal(await page.getByTestId('agreement').textContent(), '99.72 %');
  assert.equal(await page.getByTestId('sqnr').textContent(), '37.8 dB');
  assert.equal(await page.getByTestId('accuracy').textContent(), '99.72 %');
  assert.equal(await page.getByTestId('reference-accuracy').textContent(), '100.00 %');
  assert.equal(await page.getByTestId('data-source').textContent(), 'net_test_x.npy, 360 samples, labelled');
  assert.equal(await page.locator('[data-testid=latency-chart] rect.bar').count(), 6 + 3, 'p50/p90/p99 for two models plus the legend');
  assert.equal(await page.locator('[data-testid=latency-distribution] line.tick').count(), 8);
  assert.equal(await page.locator('[data-testid=environment] dd[data-label=VNNI]').textContent(), 'yes');

  // Worst first, 30 shown, then all.
  assert.equal(await page.getByTestId('layer-error-row').count(), 30);
  assert.equal(await page.getByTestId('layer-error-row').first().getAttribute('data-node'), EVIL);
  // Strings come from the l10n bundle in the shell (placeholders filled), English otherwise.
  assert.equal(await page.getByTestId('btn-export-json').textContent(), 'JSON exportieren');
  assert.equal(await page.getByTestId('btn-export-html').textContent(), 'Export HTML');
  assert.equal(await page.getByTestId('btn-more-layers').textContent(), 'Alle 41 Schichten zeigen');
  await page.getByTestId('btn-more-layers').click();
  assert.equal(await page.getByTestId('layer-error-row').count(), 41);
  await page.getByTestId('layer-error-row').first().getByTestId('btn-exclude').click();
  await page.getByTestId('layer-error-row').first().getByTestId('btn-show-in-graph').click();
  await page.getByTestId('btn-export-json').click();
  const sent = await postedMatching(view, (m) => m.type !== 'ready', 3);
  assert.deepEqual(sent, [
    { v: 1, type: 'excludeNodes', model: 1, nodes: [EVIL] },
    { v: 1, type: 'showInGraph', model: 1, node: EVIL },
    { v: 1, type: 'export', format: 'json' },
  ]);
  assert.deepEqual(await page.evaluate(() => (window as unknown as { __state: () => unknown }).__state()), { reports: [report] });
  assert.equal(await page.locator('img').count(), 0);
  assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
  assert.deepEqual(await view.problems(), []);
  await page.close();
});

test('dashboard: a real comparison draws the run-timing distribution, one tick per timed run', async () => {
  const fixture = (name: string): string => `${__dirname}/../../fixtures/${name}`;
  const compare = await compareModels(fixture('digits_cnn.onnx'), fixture('digits_cnn_static_qnnpack_torch.onnx'), { runs: 12, warmup: 1 });
  const report = JSON.parse(JSON.stringify(buildReport(compare)));
  const view = await openWebview(browser, bundles, 'dashboard', async (m, v) => {
    if (isDashboardToHostMessage(m) && m.type === 'ready') await v.send({ v: 1, type: 'report', report: toDashboard(report), persist: { reports: [report] } });
  });
  const { page } = view;
  const chart = page.getByTestId('latency-distribution');
  await chart.waitFor();
  assert.equal(await chart.locator('svg[role=img]').count(), 1);
  assert.equal(await chart.locator('g.ticks').count(), 2, 'reference and candidate rows');
  assert.equal(await chart.locator('g.ticks').nth(0).locator('line.tick').count(), 12);
  assert.equal(await chart.locator('g.ticks').nth(1).locator('line.tick').count(), 12);
  // The axis spans the fastest to the slowest run of both models.
  const all = [...compare.latency.reference.samplesMs!, ...compare.latency.candidate.samplesMs!];
  const axis = await chart.locator('text.axis-label:not([data-scale])').allTextContents();
  assert.equal(axis.length, 2);
  // Stalls 10× the fastest run switch to a log axis, and say so.
  assert.equal(await chart.locator('text[data-scale=log]').count(), Math.max(...all) / Math.min(...all) >= 10 ? 1 : 0);
  // A 100× stall added to the candidate's runs: the axis turns logarithmic.
  const stalled = { ...report, latency: { ...report.latency, candidate: { ...report.latency.candidate, samplesMs: [...report.latency.candidate.samplesMs, 100 * Math.max(...all)] } } };
  await view.send({ v: 1, type: 'report', report: toDashboard(stalled), persist: { reports: [stalled] } });
  await page.locator('[data-testid=latency-distribution] text[data-scale=log]').waitFor();
  assert.equal(await page.locator('[data-testid=latency-distribution] g.ticks').nth(1).locator('line.tick').count(), 13);
  assert.ok(Math.abs(parseFloat(axis[0]!) - Math.min(...all)) < 0.01 * Math.max(1, Math.min(...all)), `${axis[0]} vs ${Math.min(...all)}`);
  assert.ok(Math.abs(parseFloat(axis[1]!) - Math.max(...all)) <= 0.05 + 0.01 * Math.max(...all), `${axis[1]} vs ${Math.max(...all)}`);
  assert.deepEqual(await view.problems(), []);
  await page.close();
});

test('dashboard: the quantizer\'s fidelity check shows the same figure, in bold below the floor (CNN calibrated on unlike data)', async () => {
  const fixture = (name: string): string => `${__dirname}/../../fixtures/${name}`;
  const dir = fs.mkdtempSync(`${os.tmpdir()}/oq-dash-fidelity-`);
  try {
    const calib = unlikeCalibration(`${dir}/dim.npy`);
    const out = `${dir}/cnn.int8.onnx`;
    const q = await quantizeFile(fixture('digits_cnn.onnx'), out, { mode: 'static', calibrationData: calib, fidelityData: fixture('digits_test_x.npy'), speedCheck: false });
    const compare = await compareModels(fixture('digits_cnn.onnx'), out, { runs: 3, warmup: 0 });
    const report = JSON.parse(JSON.stringify(buildReport(compare, { quantize: q })));
    const view = await openWebview(browser, bundles, 'dashboard', async (m, v) => {
      if (isDashboardToHostMessage(m) && m.type === 'ready') await v.send({ v: 1, type: 'report', report: toDashboard(report), persist: { reports: [report] } });
    });
    const cell = view.page.getByTestId('quantize-fidelity');
    await cell.waitFor();
    const text = (await cell.textContent()) ?? '';
    const sqnr = q.fidelity?.outputs[0]?.sqnrDb;
    const worst = q.fidelity?.worstLayers?.[0]?.node;
    assert.ok(typeof sqnr === 'number' && worst, JSON.stringify(q.fidelity));
    assert.ok(text.startsWith(`${sqnr.toFixed(1)} dB`), text);
    assert.match(text, /below the floor/);
    assert.ok(text.includes(worst), text);
    assert.equal(await cell.evaluate((el) => getComputedStyle(el).fontWeight), '700');
    assert.equal(await view.page.getByTestId('reference-quantize-fidelity').textContent(), '—');
    assert.deepEqual(await view.problems(), []);
    await view.page.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
