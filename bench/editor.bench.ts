/**
 * Model editor: time to the editor's first payload (summary + first page of rows) for a model
 * with 100 MB of weights and for a 10,000-node model, built in a temp folder. Stages: what the
 * worker does (loadModel + summarizeModel), the IPC hop (JSON), and what the extension host does
 * (toEditorModel + first page + the webview messages). Also: re-sorting/filtering 10,000 rows.
 * Target: first payload under ~1 s for 100 MB.
 */
import * as fs from 'node:fs';
import { summarizeModel } from '../src/core/analysis/summary';
import { loadModel } from '../src/core/onnx/model';
import { toEditorModel } from '../src/extension/editor/summaryAdapter';
import { LayerTable } from '../src/extension/editor/layerTable';
import type { HostToEditorMessage, LayerQuery } from '../src/shared/webviewMessages';
import { largeMlpModel, makeTempDir, writeModelFile } from '../test/fixtures/build';
import { mlpModel } from '../test/fixtures/build/models';

const RUNS = 5;
const PAGE = 100;
const FIRST: LayerQuery = { filter: '', sort: 'index', descending: false };

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
function time<T>(fn: () => T): [T, number] {
  const t = performance.now();
  const r = fn();
  return [r, performance.now() - t];
}

function measure(label: string, file: string): void {
  const stages = { worker: [] as number[], ipc: [] as number[], host: [] as number[], total: [] as number[] };
  let ipcBytes = 0;
  let webviewBytes = 0;
  let rows = 0;
  let table!: LayerTable;
  for (let i = 0; i < RUNS; i++) {
    const [summary, worker] = time(() => {
      const model = loadModel(file);
      try {
        return summarizeModel(model);
      } finally {
        model.external.close();
      }
    });
    const [received, ipc] = time(() => {
      const text = JSON.stringify(summary);
      ipcBytes = text.length;
      return JSON.parse(text) as unknown;
    });
    const [, host] = time(() => {
      const editor = toEditorModel(received, 'model.onnx');
      table = new LayerTable(editor.rows);
      rows = editor.rows.length;
      const messages: HostToEditorMessage[] = [
        { v: 1, type: 'summary', card: editor.card, ops: editor.ops, rowCount: editor.rows.length },
        { v: 1, type: 'rows', requestId: 1, ...table.page(0, PAGE, FIRST) },
      ];
      webviewBytes = messages.reduce((n, m) => n + JSON.stringify(m).length, 0);
    });
    stages.worker.push(worker);
    stages.ipc.push(ipc);
    stages.host.push(host);
    stages.total.push(worker + ipc + host);
  }
  const [, sort] = time(() => table.page(0, PAGE, { filter: '', sort: 'weightBytes', descending: true }));
  const [, filter] = time(() => table.page(0, PAGE, { filter: 'matmul_1', sort: 'node', descending: false }));
  const mb = (fs.statSync(file).size / 2 ** 20).toFixed(0);
  console.log(`${label} (${mb} MB on disk, ${rows} layer rows):`);
  console.log(`  worker: loadModel + summarizeModel   median ${median(stages.worker).toFixed(0)} ms`);
  console.log(`  IPC: summary JSON (${(ipcBytes / 1024).toFixed(0)} KB)          median ${median(stages.ipc).toFixed(1)} ms`);
  console.log(`  host: DTOs + first page of ${PAGE} rows  median ${median(stages.host).toFixed(1)} ms (webview messages ${(webviewBytes / 1024).toFixed(0)} KB)`);
  console.log(`  first payload total                  median ${median(stages.total).toFixed(0)} ms${median(stages.total) < 1000 ? '' : ' (OVER the 1 s target)'}`);
  console.log(`  re-sort by weight ${sort.toFixed(1)} ms, filter ${filter.toFixed(1)} ms (first query of each; then cached)`);
}

export async function run(): Promise<void> {
  const { dir, cleanup } = makeTempDir('onnxq-bench-editor-');
  try {
    measure('100 MB of weights', writeModelFile(dir, 'large.onnx', largeMlpModel(100 * 2 ** 20)));
    measure('10,000 nodes', writeModelFile(dir, 'wide.onnx', mlpModel({ inDim: 8, hidden: 8, outDim: 8, layers: 3334 })));
  } finally {
    cleanup();
  }
}
