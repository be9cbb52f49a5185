import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { commands } from '../../../src/cli/commands';
import type { CliIO } from '../../../src/cli/io';
import { exitCodeOf, oneLine } from '../../../src/core/errors';
import { loadModel } from '../../../src/core/onnx/model';
import { saveModel } from '../../../src/core/onnx/save';
import { buildOutlierMlp, fixture, quantizerAvailable, tempDir, TEST_X, TEST_Y } from './helpers';

const dir = tempDir('cli');

/**
 * Run a command in this process with a capturing CliIO, turning errors into exit codes as main()
 * does (stdout itself belongs to the test runner). One test below runs the real binary.
 */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIO = { out: (t) => void (stdout += t.endsWith('\n') ? t : `${t}\n`), err: (t) => void (stderr += t.endsWith('\n') ? t : `${t}\n`), interactive: false };
  const command = commands.find((c) => c.name === args[0])!;
  try {
    return { code: await command.run(args.slice(1), io, new AbortController().signal), stdout, stderr };
  } catch (e) {
    return { code: exitCodeOf(e), stdout, stderr: `${stderr}error: ${oneLine(e)}\n` };
  }
}

test('compare --json: the cli.md keys with their types, one JSON object', async () => {
  const r = await cli(['compare', fixture('digits_mlp.onnx'), fixture('digits_mlp.onnx'), '--data', TEST_X, '--labels', TEST_Y, '--runs', '3', '--per-layer', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(j.size).sort(), ['candidateBytes', 'ratio', 'referenceBytes']);
  for (const side of ['reference', 'candidate']) for (const k of ['p50Ms', 'p90Ms', 'p99Ms']) assert.equal(typeof j.latency[side][k], 'number');
  assert.equal(typeof j.latency.speedup, 'number');
  for (const k of ['samples', 'agreement', 'cosine', 'maxAbsError', 'referenceAccuracy', 'candidateAccuracy']) assert.equal(typeof j.accuracy[k], 'number', k);
  assert.ok('sqnrDb' in j.accuracy);
  assert.equal(j.accuracy.sqnrDb, null);
  assert.equal(j.accuracy.identical, true);
  assert.equal(j.accuracy.referenceAccuracy, 0.975);
  assert.ok(Array.isArray(j.layers) && j.layers.length === 6);
  for (const l of j.layers) for (const k of ['tensor', 'node', 'sqnrDb', 'cosine']) assert.ok(k in l, k);
});

test('compare without --per-layer has no layers; bench --json has the cli.md keys', async () => {
  const c = await cli(['compare', fixture('digits_mlp.onnx'), fixture('digits_mlp.onnx'), '--runs', '2', '--json']);
  assert.equal(c.code, 0, c.stderr);
  assert.equal('layers' in JSON.parse(c.stdout), false);
  const b = await cli(['bench', fixture('digits_cnn.onnx'), '--runs', '5', '--warmup', '1', '--batch', '2', '--threads', '1', '--json']);
  assert.equal(b.code, 0, b.stderr);
  const j = JSON.parse(b.stdout);
  for (const k of ['runs', 'batch', 'threads', 'meanMs', 'p50Ms', 'p90Ms', 'p99Ms', 'minMs', 'maxMs']) assert.equal(typeof j[k], 'number', k);
  assert.deepEqual([j.runs, j.batch, j.threads], [5, 2, 1]);
});

test('mismatched input names: exit 2, one error line', async () => {
  const m = loadModel(fixture('digits_cnn.onnx'));
  const g = m.proto.graph!;
  g.input[0]!.name = 'pixels';
  for (const n of g.node) n.input = n.input.map((i) => (i === 'image' ? 'pixels' : i));
  const renamed = path.join(dir, 'renamed.onnx');
  saveModel(m.proto, renamed, { force: true });
  // The real binary (src/cli/main.ts through tsx): exit status and stderr as users see them.
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(__dirname, '../../../src/cli/main.ts'), 'compare', fixture('digits_cnn.onnx'), renamed, '--json'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^error: reference and candidate have different inputs: reference \[image\], candidate \[pixels\]\n$/);
});

test('bad usage is exit 2: missing candidate, bad --runs, missing data file', async () => {
  assert.equal((await cli(['compare', fixture('digits_mlp.onnx')])).code, 2);
  assert.equal((await cli(['bench', fixture('digits_mlp.onnx'), '--runs', 'many'])).code, 2);
  assert.equal((await cli(['bench', fixture('digits_mlp.onnx'), '--data', path.join(dir, 'nope.npy')])).code, 2);
});

test('compare --report writes the JSON, Markdown and HTML reports next to the candidate', async () => {
  const cand = path.join(dir, 'cand.onnx');
  fs.copyFileSync(fixture('digits_mlp.onnx'), cand);
  const r = await cli(['compare', fixture('digits_mlp.onnx'), cand, '--runs', '2', '--report']);
  assert.equal(r.code, 0, r.stderr);
  for (const ext of ['json', 'md', 'html']) assert.ok(fs.existsSync(path.join(dir, `cand.quant-report.${ext}`)), ext);
  assert.match(r.stdout, /latency p50/);
});

test('quantize --auto-exclude: JSON lists what was kept in float and why; reports are written', quantizerAvailable() ? {} : { todo: 'quantizer not available yet' }, async () => {
  const model = buildOutlierMlp(path.join(dir, 'outlier.onnx'));
  const out = path.join(dir, 'outlier.int8.onnx');
  const r = await cli(['quantize', model, '-o', out, '--auto-exclude', 'sqnr:25', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.output, out);
  assert.equal(j.autoExclude.met, true);
  assert.equal(j.autoExclude.excluded[0].node, 'mm2_outlier');
  assert.equal(typeof j.autoExclude.excluded[0].localSqnrDb, 'number');
  assert.ok(j.skippedNodes.some((s: { node: string }) => s.node === 'mm2_outlier'));
  for (const f of j.reportFiles) assert.ok(fs.existsSync(f), f);
  const report = JSON.parse(fs.readFileSync(path.join(dir, 'outlier.int8.quant-report.json'), 'utf8'));
  assert.equal(report.autoExclude.excluded[0].node, 'mm2_outlier');
  assert.equal(report.quantize.mode, 'dynamic');
  assert.equal((await cli(['quantize', model, '-o', path.join(dir, 'x.onnx'), '--labels', TEST_Y])).code, 2);
  assert.equal((await cli(['quantize', model, '-o', path.join(dir, 'y.onnx'), '--auto-exclude', 'sqnr'])).code, 2);
});
