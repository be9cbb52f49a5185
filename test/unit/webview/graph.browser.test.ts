// The graph webview in headless Chromium, fed the real worker output (buildGraphView + layoutGraph)
// of the digits CNN and its QDQ export: it paints with the theme's colours, arrow keys follow
// edges, Enter opens the details, search lands on a tensor and shows its scale and zero point,
// Q/DQ units fold on request, exclusion and the heat legend work, the CSP holds.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { buildWebviews, launch, openWebview, postedMatching, type WebviewPage } from './browser';
import { loadModel } from '../../../src/core/onnx/model';
import { buildGraphView } from '../../../src/core/graph/graphView';
import { layoutGraph } from '../../../src/core/graph/layout';
import { isGraphToHostMessage, type GraphDto, type GraphToHostMessage } from '../../../src/shared/graphMessages';

const FIXTURES = path.join(__dirname, '../../fixtures');
let browser: Browser;
let bundles: string;

before(async () => {
  [bundles, browser] = await Promise.all([buildWebviews(), launch()]);
});
after(async () => {
  await browser?.close();
  if (bundles) fs.rmSync(bundles, { recursive: true, force: true });
});

/** Answers like src/extension/graph/graphPanel.ts, with the worker's job run in process. */
function graphHost(file: string, extra: { errors?: { node: string; sqnrDb: number }[] } = {}): (m: unknown, view: WebviewPage) => Promise<void> {
  const model = loadModel(path.join(FIXTURES, file));
  return async (m, view) => {
    if (!isGraphToHostMessage(m)) throw new Error(`webview posted a malformed message: ${JSON.stringify(m)}`);
    if (m.type === 'ready' || m.type === 'relayout') {
      const graph = layoutGraph(buildGraphView(model, m.type === 'relayout' ? { expanded: m.expanded, collapsed: m.collapsed, units: m.units } : {}));
      graph.errors = extra.errors ?? [];
      await view.send({ v: 1, type: 'graph', graph, excluded: [] });
    }
  };
}

const selectedKey = (page: Page): Promise<string | null> => page.getByTestId('graph-canvas').getAttribute('data-selected');

/** The canvas pixel at a graph point, with the view fitted as webview/graph.ts fits it. */
async function pixelAt(page: Page, g: GraphDto, x: number, y: number): Promise<number[]> {
  return page.evaluate(
    ({ x, y, gw, gh }) => {
      const canvas = document.querySelector('canvas') as HTMLCanvasElement;
      const r = canvas.getBoundingClientRect();
      const scale = Math.min(r.width / gw, r.height / gh, 2);
      const tx = (r.width - gw * scale) / 2, ty = Math.max(0, (r.height - gh * scale) / 2);
      const dpr = window.devicePixelRatio || 1;
      const d = canvas.getContext('2d')?.getImageData(Math.round((x * scale + tx) * dpr), Math.round((y * scale + ty) * dpr), 1, 1).data;
      return d ? [d[0] ?? 0, d[1] ?? 0, d[2] ?? 0] : [];
    },
    { x, y, gw: g.width, gh: g.height },
  );
}

test('graph view: theme colours by state, arrows follow edges, Enter opens details, exclude posts the node key', async () => {
  const g = layoutGraph(buildGraphView(loadModel(path.join(FIXTURES, 'digits_cnn.onnx'))));
  const view = await openWebview(browser, bundles, 'graph', graphHost('digits_cnn.onnx'));
  const { page } = view;
  await page.evaluate(() => {
    document.documentElement.style.setProperty('--vscode-charts-blue', 'rgb(0, 0, 200)');
    document.documentElement.style.setProperty('--vscode-editor-background', 'rgb(255, 255, 255)');
    document.body.className = 'vscode-light';
  });
  const ops = g.nodes.filter((n) => n.kind === 'op').length;
  await page.waitForFunction((ops) => document.querySelector('[data-testid=graph-status]')?.textContent?.startsWith(`${ops} nodes`), ops);
  await page.waitForFunction(() => performance.getEntriesByName('graph-first-paint').length > 0);
  // A quantizable Conv's state stripe is the theme's blue; empty canvas is the theme's background.
  const conv = g.nodes.find((n) => n.opType === 'Conv');
  assert.ok(conv);
  await page.waitForTimeout(50);
  assert.deepEqual(await pixelAt(page, g, conv.x - conv.width / 2 + 2, conv.y), [0, 0, 200]);
  assert.deepEqual(await pixelAt(page, g, 1, 1), [255, 255, 255]);

  // Keyboard: the first key selects the input marker, ArrowDown goes to its consumer and on along the edges.
  await page.getByTestId('graph-canvas').focus();
  await page.keyboard.press('ArrowDown');
  assert.equal(await selectedKey(page), 'image');
  await page.keyboard.press('ArrowDown');
  assert.equal(await selectedKey(page), '/stem/stem.0/Conv');
  await page.keyboard.press('ArrowDown');
  assert.equal(await selectedKey(page), '/stem/stem.2/Relu');
  await page.keyboard.press('ArrowUp');
  assert.equal(await selectedKey(page), '/stem/stem.0/Conv');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'graph-details');
  const details = page.getByTestId('graph-details');
  assert.match((await details.textContent()) ?? '', /Conv\s*\/stem\/stem\.0\/Conv/);
  assert.equal(await page.getByTestId('graph-state').textContent(), 'quantizable in this mode');
  // The weight's row shows dtype, shape and statistics.
  const weight = page.locator('[data-testid=graph-tensor]').nth(1);
  assert.match((await weight.textContent()) ?? '', /float32 \[\d+, 1, 3, 3\] · initializer.*min .* max .* std/);

  await page.getByTestId('graph-exclude').click();
  const actions = await postedMatching(view, (m) => m.type === 'action', 1);
  assert.deepEqual(actions, [{ v: 1, type: 'action', action: 'exclude', target: '/stem/stem.0/Conv' }]);
  assert.equal(await page.getByTestId('graph-state').textContent(), 'kept float: excluded');
  assert.deepEqual(await view.problems(), []);
  await page.close();
});

test('graph view of a QDQ model: search a tensor and land on it with its scale and zero point, fold Q/DQ units, heat legend', async () => {
  const model = loadModel(path.join(FIXTURES, 'digits_cnn_static_qnnpack_torch.onnx'));
  const g = buildGraphView(model);
  const quantized = g.tensors.find((t) => t.quant && t.quant.scale !== '—' && g.nodes.some((n) => n.outputs.includes(t.name)));
  assert.ok(quantized?.quant);
  const producer = g.nodes.find((n) => n.outputs.includes(quantized.name));
  const gemm = g.nodes.find((n) => n.opType === 'Gemm');
  assert.ok(producer && gemm);
  const view = await openWebview(browser, bundles, 'graph', graphHost('digits_cnn_static_qnnpack_torch.onnx', { errors: [{ node: gemm.key, sqnrDb: 12.5 }] }));
  const { page } = view;
  await page.waitForFunction(() => /nodes/.test(document.querySelector('[data-testid=graph-status]')?.textContent ?? ''));
  assert.match((await page.getByTestId('graph-heat').textContent()) ?? '', /added error \(SQNR\)/);

  await page.getByTestId('graph-search').fill(quantized.name);
  const result = page.locator('[data-testid=graph-search-result]', { hasText: 'tensor' }).first();
  await result.click();
  assert.equal(await selectedKey(page), producer.key);
  const row = page.locator(`[data-testid=graph-tensor].selected`);
  assert.equal(await row.getAttribute('data-name'), quantized.name);
  assert.equal(await row.getByTestId('graph-quant').textContent(), `${quantized.quant.type} · scale ${quantized.quant.scale} · zero point ${quantized.quant.zeroPoint} · ${quantized.quant.axis}`);

  // Fold the Q/DQ units: the host lays the graph out again and the Conv units read "uint8 Conv".
  await page.getByTestId('graph-collapse').check();
  const relayouts = await postedMatching(view, (m) => m.type === 'relayout', 1);
  assert.deepEqual(relayouts, [{ v: 1, type: 'relayout', expanded: [], collapsed: true, units: [] }]);
  await page.getByTestId('graph-search').fill('uint8 Conv');
  await page.locator('[data-testid=graph-search-result]').first().waitFor();
  assert.ok((await page.locator('[data-testid=graph-search-result]').count()) >= 4);
  await page.locator('[data-testid=graph-search-result]').first().click();
  assert.equal(await page.getByTestId('graph-state').textContent(), 'quantized (integer kernel or Q/DQ unit)');

  // Unfold that one unit (the others stay folded), then fold it again; the selection stays on its head.
  const status = async (): Promise<number> => Number(/^(\d+) nodes/.exec((await page.getByTestId('graph-status').textContent()) ?? '')?.[1]);
  const head = await selectedKey(page);
  const all = layoutGraph(buildGraphView(model));
  const headIndex = all.nodes.findIndex((n) => n.key === head);
  const members = all.nodes.filter((n, i) => n.unit === headIndex && i !== headIndex).length;
  assert.ok(members > 0);
  const folded = await status();
  await page.getByTestId('graph-fold-unit').click();
  const unfold = ((await postedMatching(view, (m) => m.type === 'relayout', 2)) as GraphToHostMessage[])[1];
  assert.ok(unfold && unfold.type === 'relayout' && !unfold.collapsed && !unfold.units.includes(head ?? '') && unfold.units.length > 0);
  await page.waitForFunction((n) => document.querySelector('[data-testid=graph-status]')?.textContent?.startsWith(`${n} nodes`), folded + members);
  assert.equal(await selectedKey(page), head);
  assert.equal(await page.getByTestId('graph-fold-unit').textContent(), 'Fold unit');
  // Fold it again from one of its members.
  const member = all.nodes.find((n, i) => n.unit === headIndex && i !== headIndex);
  assert.ok(member);
  await page.getByTestId('graph-search').fill(member.key);
  await page.locator('[data-testid=graph-search-result]', { hasText: 'node' }).first().click();
  assert.equal(await selectedKey(page), member.key);
  await page.getByTestId('graph-fold-unit').click();
  await page.waitForFunction((n) => document.querySelector('[data-testid=graph-status]')?.textContent?.startsWith(`${n} nodes`), folded);
  assert.equal(await selectedKey(page), head);
  assert.deepEqual(await view.problems(), []);
  await page.close();
});
