// Runtime validators of the webview messages: good messages pass, malformed ones are rejected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  isDashboardToHostMessage,
  isEditorToHostMessage,
  isHostToDashboardMessage,
  isHostToEditorMessage,
  type DashboardDto,
  type LayerRowDto,
} from '../../../src/shared/webviewMessages';

const query = { filter: 'conv', sort: 'weightBytes', descending: true };
const row: LayerRowDto = { index: 3, node: 'fc1', label: 'fc1', opType: 'Gemm', weightBytes: 65536, modes: ['dynamic'], notes: [], diagnostics: [{ severity: 'warning', message: 'x' }] };
const dashboard: DashboardDto = {
  title: 't',
  models: [
    { label: 'a', path: '/a.onnx', role: 'reference', bytes: 10, sizeRatio: 1, latency: { p50Ms: 1, p90Ms: 2, p99Ms: 3 }, speedup: 1, samplesMs: [1, 2], fidelity: null, layers: [] },
    {
      label: 'b', path: '/b.onnx', role: 'candidate', bytes: 3, sizeRatio: 3.3, latency: null, speedup: null, samplesMs: [],
      fidelity: { samples: 64, agreement: 1, cosine: 0.99, sqnrDb: null, identical: true, maxAbsError: 0, accuracy: null },
      layers: [{ node: 'n', opType: 'Conv', tensor: 't', sqnrDb: 30, identical: false, localSqnrDb: 28, cosine: 0.999 }],
    },
  ],
  environment: [{ label: 'CPU', value: 'x' }],
  options: [],
};

test('editor → host: accepts each message kind', () => {
  for (const m of [
    { v: 1, type: 'ready' },
    { v: 1, type: 'retry' },
    { v: 1, type: 'requestRows', requestId: 7, offset: 100, limit: 100, query },
    { v: 1, type: 'runCommand', command: 'showAsText' },
    { v: 1, type: 'showInGraph', node: '/stem/Conv' },
  ]) assert.equal(isEditorToHostMessage(m), true, JSON.stringify(m));
});

test('editor → host: rejects malformed messages', () => {
  const bad: unknown[] = [
    null, undefined, 42, 'ready', [], {},
    { type: 'ready' }, // no version
    { v: 2, type: 'ready' },
    { v: 1, type: 'nope' },
    { v: 1, type: 'runCommand', command: 'workbench.action.terminal.new' }, // only our four commands
    { v: 1, type: 'runCommand' },
    { v: 1, type: 'showInGraph', node: '' },
    { v: 1, type: 'showInGraph', node: 'x'.repeat(5000) },
    { v: 1, type: 'showInGraph' },
    { v: 1, type: 'requestRows', requestId: -1, offset: 0, limit: 10, query },
    { v: 1, type: 'requestRows', requestId: 1, offset: 0.5, limit: 10, query },
    { v: 1, type: 'requestRows', requestId: 1, offset: 0, limit: 0, query },
    { v: 1, type: 'requestRows', requestId: 1, offset: 0, limit: 1e6, query },
    { v: 1, type: 'requestRows', requestId: 1, offset: 0, limit: 10, query: { ...query, sort: '__proto__' } },
    { v: 1, type: 'requestRows', requestId: 1, offset: 0, limit: 10, query: { ...query, filter: 'x'.repeat(10_000) } },
    { v: 1, type: 'requestRows', requestId: 1, offset: 0, limit: 10, query: { ...query, descending: 'yes' } },
    { v: 1, type: 'requestRows', requestId: 1, offset: Infinity, limit: 10, query },
  ];
  for (const m of bad) assert.equal(isEditorToHostMessage(m), false, JSON.stringify(m));
});

test('host → editor: rows and summaries are checked field by field', () => {
  assert.equal(isHostToEditorMessage({ v: 1, type: 'rows', requestId: 1, offset: 0, total: 1, rows: [row] }), true);
  assert.equal(isHostToEditorMessage({ v: 1, type: 'rows', requestId: 1, offset: 0, total: 1, rows: [{ ...row, node: 5 }] }), false);
  assert.equal(isHostToEditorMessage({ v: 1, type: 'rows', requestId: 1, offset: 0, total: 1, rows: [{ ...row, diagnostics: [{ severity: 'fatal', message: 'x' }] }] }), false);
  assert.equal(isHostToEditorMessage({ v: 1, type: 'rows', requestId: 1, offset: 0, total: 1, rows: [{ ...row, weightBytes: -1 }] }), false);
  assert.equal(isHostToEditorMessage({ v: 1, type: 'summaryError', message: 'boom' }), true);
  assert.equal(isHostToEditorMessage({ v: 1, type: 'trust', trusted: false }), true);
  assert.equal(isHostToEditorMessage({ v: 1, type: 'trust', trusted: true }), true);
  assert.equal(isHostToEditorMessage({ v: 1, type: 'trust', trusted: 'no' }), false);
  assert.equal(isHostToEditorMessage({ v: 1, type: 'trust' }), false);
  assert.equal(isHostToEditorMessage({ v: 1, type: 'summary', card: {}, ops: [], rowCount: 0 }), false);
});

test('dashboard messages both ways', () => {
  assert.equal(isDashboardToHostMessage({ v: 1, type: 'excludeNodes', model: 1, nodes: ['conv1'] }), true);
  assert.equal(isDashboardToHostMessage({ v: 1, type: 'excludeNodes', model: 1, nodes: [] }), false);
  assert.equal(isDashboardToHostMessage({ v: 1, type: 'excludeNodes', model: 1, nodes: [''] }), false);
  assert.equal(isDashboardToHostMessage({ v: 1, type: 'excludeNodes', model: -1, nodes: ['a'] }), false);
  assert.equal(isDashboardToHostMessage({ v: 1, type: 'showInGraph', model: 1, node: 'conv1' }), true);
  assert.equal(isDashboardToHostMessage({ v: 1, type: 'showInGraph', model: 1, node: '' }), false);
  assert.equal(isDashboardToHostMessage({ v: 1, type: 'showInGraph', model: 0.5, node: 'conv1' }), false);
  assert.equal(isDashboardToHostMessage({ v: 1, type: 'export', format: 'pdf' }), false);
  assert.equal(isDashboardToHostMessage({ v: 1, type: 'export', format: 'html' }), true);
  assert.equal(isHostToDashboardMessage({ v: 1, type: 'report', report: dashboard, persist: null }), true);
  const nanLatency = structuredClone(dashboard);
  nanLatency.models[0]!.latency!.p50Ms = NaN;
  assert.equal(isHostToDashboardMessage({ v: 1, type: 'report', report: nanLatency, persist: null }), false);
  const badRole = structuredClone(dashboard) as unknown as { models: { role: string }[] };
  badRole.models[1]!.role = 'admin';
  assert.equal(isHostToDashboardMessage({ v: 1, type: 'report', report: badRole, persist: null }), false);
});

test('fuzz: random mutations of valid messages never crash a validator and keep types honest', () => {
  let seed = 12345;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const junk = [null, undefined, -1, 0.5, NaN, 1e300, '', 'x'.repeat(5000), [], {}, true, { v: 1 }, ['a', 1]];
  const valid: [unknown, (x: unknown) => boolean][] = [
    [{ v: 1, type: 'requestRows', requestId: 7, offset: 100, limit: 100, query }, isEditorToHostMessage],
    [{ v: 1, type: 'runCommand', command: 'quantize' }, isEditorToHostMessage],
    [{ v: 1, type: 'showInGraph', node: 'conv1' }, isEditorToHostMessage],
    [{ v: 1, type: 'showInGraph', model: 1, node: 'conv1' }, isDashboardToHostMessage],
    [{ v: 1, type: 'rows', requestId: 1, offset: 0, total: 1, rows: [row] }, isHostToEditorMessage],
    [{ v: 1, type: 'report', report: dashboard, persist: null }, isHostToDashboardMessage],
    [{ v: 1, type: 'excludeNodes', model: 1, nodes: ['conv1'] }, isDashboardToHostMessage],
  ];
  const paths = (x: unknown, prefix: string[] = []): string[][] =>
    typeof x === 'object' && x !== null ? Object.entries(x).flatMap(([k, v]) => [[...prefix, k], ...paths(v, [...prefix, k])]) : [];
  const kind = (x: unknown): string => (x === null ? 'null' : Array.isArray(x) ? 'array' : typeof x === 'number' ? (Number.isFinite(x) ? 'number' : 'nonfinite') : typeof x);
  const NULLABLE = new Set(['sqnrDb', 'localSqnrDb', 'cosine', 'bytes', 'sizeRatio', 'latency', 'speedup', 'fidelity', 'samples', 'agreement', 'maxAbsError', 'accuracy', 'persist']);
  let rejected = 0;
  for (let i = 0; i < 2000; i++) {
    const [base, validate] = valid[Math.floor(rand() * valid.length)]!;
    const m = structuredClone(base) as Record<string, unknown>;
    const all = paths(m).filter((p) => p.at(-1) !== 'persist');
    const path = all[Math.floor(rand() * all.length)]!;
    let parent: Record<string, unknown> = m;
    for (const k of path.slice(0, -1)) parent = parent[k] as Record<string, unknown>;
    const value = junk[Math.floor(rand() * junk.length)];
    const before = parent[path.at(-1)!];
    parent[path.at(-1)!] = value;
    const ok = validate(m);
    // Accepted only if the new value has the old one's JSON kind (or null where the field is nullable).
    const key = path.at(-1)!;
    if (ok) assert.ok(kind(value) === kind(before) || (NULLABLE.has(key) && (value === null || kind(value) === 'number')), `accepted ${key} = ${String(value)} (was ${JSON.stringify(before)})`);
    if (!ok) rejected++;
  }
  assert.ok(rejected > 1000, `only ${rejected} mutations rejected`);
});
