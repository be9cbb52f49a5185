import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTempDir, markupModel, writeAllFixtures, writeExternalDataModel, writeModelFile, type ExternalCase } from '../../fixtures/build';
import { seededRandom } from '../../../src/core/util/random';
import { ROOT, buildCli, runCli } from './inspect-helpers';

const FIXTURES = path.join(ROOT, 'test/fixtures');
const tmp = makeTempDir('onnxq-inspect-cli-');
process.on('exit', tmp.cleanup);

before(() => buildCli());

/** Exit 2, nothing on stdout, exactly one stderr line starting `error:` (no stack). */
function assertInputError(args: string[], message?: RegExp): void {
  const r = runCli(args);
  assert.equal(r.code, 2, `exit code for ${args.join(' ')}: ${r.stderr}`);
  assert.equal(r.stdout, '');
  const lines = r.stderr.split('\n').filter((l) => l.length > 0);
  assert.equal(lines.length, 1, `one stderr line, got:\n${r.stderr}`);
  assert.match(lines[0]!, /^error: /);
  assert.ok(!/\n\s+at /.test(r.stderr), 'no stack trace');
  if (message) assert.match(lines[0]!, message);
}

test('--json prints one JSON object with the contract keys; the table view names the model', () => {
  const file = path.join(FIXTURES, 'digits_cnn.onnx');
  const r = runCli(['inspect', file, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  for (const key of ['fileBytes', 'irVersion', 'producer', 'opsets', 'inputs', 'outputs', 'nodeCount', 'opCounts', 'initializerCount', 'parameterCount', 'initializerBytes', 'quantization', 'layers']) {
    assert.ok(key in s, `key ${key}`);
  }
  assert.deepEqual(Object.keys(s.quantization).slice(0, 2), ['format', 'quantizedNodeCount']);
  for (const l of s.layers) for (const key of ['node', 'opType', 'modes', 'weightBytes', 'notes']) assert.ok(key in l, `layer key ${key}`);
  assert.equal(s.fileBytes, fs.statSync(file).size);
  const table = runCli(['inspect', file]);
  assert.equal(table.code, 0);
  assert.match(table.stdout, /IR version\s+7/);
  assert.match(table.stdout, /Conv\s+4/);
  assert.match(table.stdout, /quantization\s+none/);
});

test('built fixtures with subgraphs, quantized tensors and risks inspect with exit 0 in both views', () => {
  // (--json on every built fixture runs in inspect-oracle.test.ts.)
  const dir = path.join(tmp.dir, 'built');
  fs.mkdirSync(dir);
  const files = writeAllFixtures(dir).filter((f) => /subgraphs|qdq_conv|matmul_nbits|unfusable|outlier|external/.test(f));
  assert.equal(files.length, 6);
  for (const file of files) {
    const r = runCli(['inspect', file]);
    assert.equal(r.code, 0, `${file}: ${r.stderr}`);
    assert.match(r.stdout, /^Model\n/);
  }
  const outlier = runCli(['inspect', files.find((f) => f.includes('outlier'))!]).stdout;
  assert.match(outlier, /! matmul_outlier: weight 'W_outlier' range is outlier-dominated/);
  const qdq = runCli(['inspect', files.find((f) => f.includes('qdq_conv'))!]).stdout;
  assert.match(qdq, /W_quantized\s+weight\s+int8\s+per-channel ×4 axis 0: 0\.005\.\.0\.04\s+0\.\.0\s+-128\.\.127 of -128\.\.127\s+1 \/ 1/);
});

test('terminal control characters in names do not reach the table output', () => {
  const proto = markupModel();
  proto.graph!.node[0]!.name = 'evil\u001b[2J\u001b]0;title\u0007name';
  const file = writeModelFile(tmp.dir, 'escape.onnx', proto);
  const r = runCli(['inspect', file]);
  assert.equal(r.code, 0, r.stderr);
  // eslint-disable-next-line no-control-regex -- the test looks for control characters
  assert.ok(!/[\u0000-\u0008\u000b-\u001f\u007f]/.test(r.stdout), 'no control characters');
  assert.match(r.stdout, /evil\\u\{1b\}\[2J\\u\{1b\}\]0;title\\u\{7\}name/);
  // JSON keeps the exact name (JSON.stringify escapes control characters).
  assert.equal(JSON.parse(runCli(['inspect', file, '--json']).stdout).layers[0].node, proto.graph!.node[0]!.name);
});

test('missing file, folder, usage errors → exit 2 with one error line', () => {
  assertInputError(['inspect', path.join(tmp.dir, 'nope.onnx')], /no such file/);
  assertInputError(['inspect', tmp.dir], /is a folder/);
  assertInputError(['inspect'], /expected one MODEL/);
  assertInputError(['inspect', 'a.onnx', 'b.onnx']);
  assertInputError(['inspect', path.join(FIXTURES, 'digits_mlp.onnx'), '--bogus']);
});

test('files that are not ONNX models → exit 2', () => {
  const cases: [string, Uint8Array | string][] = [
    ['empty.onnx', new Uint8Array(0)],
    ['text.onnx', 'hello, this is not a model\n'],
    ['json.onnx', JSON.stringify({ graph: { node: [] }, ir_version: 8 })],
    ['png.onnx', Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 73, 72, 68, 82])],
    ['npy.onnx', fs.readFileSync(path.join(FIXTURES, 'digits_test_y.npy'))],
  ];
  for (const [name, content] of cases) {
    const file = path.join(tmp.dir, name);
    fs.writeFileSync(file, content);
    assertInputError(['inspect', file, '--json'], /not (a valid |an )ONNX model/);
  }
});

test('truncated models (seeded random offsets) → exit 2 with one error line', () => {
  const bytes = fs.readFileSync(path.join(FIXTURES, 'digits_cnn_static_qnnpack_torch.onnx'));
  const rng = seededRandom(2024);
  for (let i = 0; i < 6; i++) {
    const cut = 1 + Math.floor(rng() * (bytes.length - 2));
    const file = path.join(tmp.dir, `truncated-${cut}.onnx`);
    fs.writeFileSync(file, bytes.subarray(0, cut));
    assertInputError(['inspect', file, '--json']);
  }
});

test('corrupted models → exit 2 with one error line', () => {
  const bytes = fs.readFileSync(path.join(FIXTURES, 'digits_mlp.onnx'));
  // The graph field (7, length-delimited) claims more bytes than the file has.
  const graphTag = bytes.indexOf(0x3a);
  const longGraph = Buffer.concat([bytes.subarray(0, graphTag + 1), Buffer.from([0xff, 0xff, 0xff, 0x7f]), bytes.subarray(graphTag + 4)]);
  // An invalid wire type (7) in the first tag.
  const badTag = Buffer.from(bytes);
  badTag[0] = 0x0f;
  // A varint that never ends.
  const endless = Buffer.concat([bytes.subarray(0, 2), Buffer.alloc(32, 0xff)]);
  for (const [name, content] of [['long-graph', longGraph], ['bad-tag', badTag], ['endless-varint', endless]] as const) {
    const file = path.join(tmp.dir, `${name}.onnx`);
    fs.writeFileSync(file, content);
    assertInputError(['inspect', file, '--json'], /not a valid ONNX model|not an ONNX model/);
  }
});

test('random bit flips never crash: exit 0 with JSON, or exit 2 with one error line', () => {
  const bytes = fs.readFileSync(path.join(FIXTURES, 'digits_cnn_static_qnnpack_torch.onnx'));
  const rng = seededRandom(77);
  for (let i = 0; i < 6; i++) {
    const flipped = Buffer.from(bytes);
    for (let k = 0; k < 4; k++) flipped[Math.floor(rng() * flipped.length)]! ^= 1 << Math.floor(rng() * 8);
    const file = path.join(tmp.dir, `flipped-${i}.onnx`);
    fs.writeFileSync(file, flipped);
    const r = runCli(['inspect', file, '--json']);
    assert.ok(r.code === 0 || r.code === 2, `case ${i}: exit ${r.code}: ${r.stderr}`);
    if (r.code === 0) JSON.parse(r.stdout);
    else assert.match(r.stderr, /^error: [^\n]*\n$/);
  }
});

test('unsafe or broken external data → exit 2 naming the problem', () => {
  const expected: [ExternalCase, RegExp][] = [
    ['absolute', /absolute path/],
    ['dotdot', /outside the model's folder/],
    ['symlink', /symlink outside/],
    ['missing', /is missing/],
    ['past-eof', /which has only/],
  ];
  for (const [kind, message] of expected) {
    const dir = path.join(tmp.dir, `ext-${kind}`);
    fs.mkdirSync(dir);
    const { model } = writeExternalDataModel(dir, kind);
    assertInputError(['inspect', model, ...(kind === 'symlink' ? [] : ['--json'])], message);
  }
});
