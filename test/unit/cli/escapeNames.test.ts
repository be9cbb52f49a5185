/**
 * A model whose input, output, node, tensor and dim names carry ANSI/OSC escapes, CR/BS, bidi
 * overrides, zero-width characters and Markdown link and image syntax, through every CLI command
 * that prints them (inspect, quantize with skipped nodes and fidelity tables, auto-exclusion and
 * its Markdown report, compare with the per-layer table and its Markdown report, bench, an error
 * line): nothing active reaches the
 * terminal or the Markdown, and the names are still there in their inert spelling.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeNpy } from '../../../src/core/data/npy';
import { ESCAPE_NAMES, escapeNamesModel, gaussian, makeTempDir, writeModelFile } from '../../fixtures/build';
import { buildCli, runCli, type CliResult } from './inspect-helpers';

// eslint-disable-next-line no-control-regex -- the characters under test
const ACTIVE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/;
/** Markdown link or image syntax that a renderer would make live (an unescaped `[…](`). */
const LIVE_LINK = /(^|[^\\])!?\[[^\]\n]*[^\\\n]?\]\(/m;

const tmp = makeTempDir('onnxq-escape-names-');
process.on('exit', tmp.cleanup);
let model: string;
let quantized: string;

before(() => {
  buildCli();
  model = writeModelFile(tmp.dir, 'escapes.onnx', escapeNamesModel());
  quantized = path.join(tmp.dir, 'escapes.int8.onnx');
});

function assertInert(r: CliResult, what: string, expectCode = 0): void {
  assert.equal(r.code, expectCode, `${what}: exit ${r.code}\n${r.stderr}`);
  for (const [stream, text] of [['stdout', r.stdout], ['stderr', r.stderr]] as const) {
    const hit = ACTIVE.exec(text);
    assert.equal(hit, null, `${what}: ${stream} carries U+${hit?.[0].codePointAt(0)?.toString(16)} near ${JSON.stringify(text.slice(Math.max(0, (hit?.index ?? 0) - 40), (hit?.index ?? 0) + 40))}`);
  }
}

test('inspect prints every name inert', () => {
  const r = runCli(['inspect', model]);
  assertInert(r, 'inspect');
  assert.match(r.stdout, /\\u\{1b\}\[31mred/, 'the input name is shown, inert');
  // JSON keeps the exact names: what it escapes reads back as the same characters.
  const json = runCli(['inspect', model, '--json']);
  assertInert(json, 'inspect --json');
  const layers = (JSON.parse(json.stdout) as { layers: { node: string }[] }).layers.map((l) => l.node);
  assert.deepEqual(layers.sort(), [ESCAPE_NAMES.matmul, ESCAPE_NAMES.add, ESCAPE_NAMES.relu, ESCAPE_NAMES.matmul2].sort());
});

test('quantize: the result, skipped-nodes and fidelity tables print names inert', () => {
  const r = runCli(['quantize', model, '-o', quantized, '--exclude-nodes', ESCAPE_NAMES.matmul2, '--no-speed-check']);
  assertInert(r, 'quantize');
  assert.ok(fs.existsSync(quantized));
  assert.match(r.stdout, /ab\\u\{8\}c/, 'the kept-float node is listed, inert');
});

function assertInertMarkdown(file: string): void {
  const text = fs.readFileSync(file, 'utf8');
  const hit = ACTIVE.exec(text);
  assert.equal(hit, null, `${path.basename(file)} carries U+${hit?.[0].codePointAt(0)?.toString(16)}`);
  assert.doesNotMatch(text, LIVE_LINK, path.basename(file));
  assert.match(text, /click/, `the node names are in ${path.basename(file)}`);
}

test('compare: tables and the Markdown report keep no escape nor live link', () => {
  const r = runCli(['compare', model, quantized, '--per-layer', '--runs', '5', '--report']);
  assertInert(r, 'compare');
  const md = path.join(tmp.dir, 'escapes.int8.quant-report.md');
  assert.ok(fs.existsSync(md), `no Markdown report in ${fs.readdirSync(tmp.dir).join(', ')}`);
  assertInertMarkdown(md);
});

test('quantize --auto-exclude: its tables and its Markdown report keep no escape nor live link', () => {
  const data = path.join(tmp.dir, 'samples.npy');
  fs.writeFileSync(data, encodeNpy({ dtype: 'float32', shape: [8, 16], data: new Uint8Array(new Float32Array(gaussian(128, 1, 5)).buffer) }));
  const out = path.join(tmp.dir, 'escapes.auto.onnx');
  const r = runCli(['quantize', model, '-o', out, '--auto-exclude', 'sqnr:200', '--data', data, '--no-speed-check']);
  assertInert(r, 'auto-exclude');
  const mds = fs.readdirSync(tmp.dir).filter((f) => f.startsWith('escapes.auto') && f.endsWith('.md'));
  assert.ok(mds.length > 0, `no Markdown report in ${fs.readdirSync(tmp.dir).join(', ')}`);
  for (const md of mds) assertInertMarkdown(path.join(tmp.dir, md));
});

test('bench prints the input names inert', () => {
  assertInert(runCli(['bench', model, '--runs', '5', '--warmup', '1']), 'bench');
});

test('an error naming a model string prints it inert', () => {
  const r = runCli(['quantize', model, '-o', path.join(tmp.dir, 'never.onnx'), '--input-shape', `${ESCAPE_NAMES.input}\x1b[5m=1x16`, '--no-speed-check']);
  assertInert(r, 'error line', 2);
  assert.match(r.stderr, /^error: /m);
  assert.equal(fs.existsSync(path.join(tmp.dir, 'never.onnx')), false);
});
