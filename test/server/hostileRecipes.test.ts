/**
 * Hostile recipes against the built language server: a committed `*.quant.json` whose model,
 * output or calibration data is absolute, uses `..`, leads outside the workspace through a link
 * or names a FIFO or device gets an Error on that path and the path is never read (a real model
 * behind it would otherwise yield its node checks); in an untrusted workspace no recipe path is
 * read until the client says the workspace is trusted. The server keeps answering throughout.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Diagnostic } from 'vscode-languageserver-protocol';
import { TestClient } from './client';

const FIXTURES = path.join(__dirname, '../fixtures');
let top: string;
let ws: string;
let outside: string;
let client: TestClient;

const fileUri = (p: string) => pathToFileURL(p).href;

before(async () => {
  top = fs.mkdtempSync(path.join(os.tmpdir(), 'onnxq-hostile-recipes-'));
  ws = path.join(top, 'ws');
  outside = path.join(top, 'outside');
  fs.mkdirSync(ws);
  fs.mkdirSync(outside);
  for (const f of ['digits_mlp.onnx', 'digits_calib_x.npy']) {
    fs.copyFileSync(path.join(FIXTURES, f), path.join(ws, f));
    fs.copyFileSync(path.join(FIXTURES, f), path.join(outside, f));
  }
  execFileSync('mkfifo', [path.join(ws, 'pipe.onnx'), path.join(ws, 'calib_pipe.npy')]);
  fs.symlinkSync(path.join(outside, 'digits_mlp.onnx'), path.join(ws, 'link.onnx'));
  fs.symlinkSync('/dev/zero', path.join(ws, 'zero.npy'));
  fs.mkdirSync(path.join(ws, 'sub'));
  fs.symlinkSync(path.join(ws, 'digits_mlp.onnx'), path.join(ws, 'sub', 'inner.onnx'));
  // Calibration folders: one whose entry links out of the workspace, one whose entry links inside it.
  fs.mkdirSync(path.join(ws, 'calib_out'));
  fs.symlinkSync(path.join(outside, 'digits_calib_x.npy'), path.join(ws, 'calib_out', 'image.npy'));
  fs.mkdirSync(path.join(ws, 'calib_in'));
  fs.symlinkSync(path.join(ws, 'digits_calib_x.npy'), path.join(ws, 'calib_in', 'image.npy'));
  client = await TestClient.start({ folders: [ws] });
});

after(async () => {
  await client.stop();
  fs.rmSync(top, { recursive: true, force: true });
});

/** A recipe that, once its model is read, always gets the "no node named '/nope'" warning. */
function recipeText(fields: Record<string, unknown>): string {
  return JSON.stringify({ model: 'digits_mlp.onnx', mode: 'static', options: { calibrationData: 'digits_calib_x.npy', excludeNodes: ['/nope'] }, ...fields }, null, 2);
}

let opened = 0;
async function diagnose(text: string, folder = ws, c = client): Promise<Diagnostic[]> {
  const uri = fileUri(path.join(folder, `hostile${++opened}.quant.json`));
  c.open(uri, 'json', text);
  const diags = await c.diagnosticsFor(uri);
  c.close(uri);
  return diags;
}

const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => l.includes(needle));
const READ_MODEL = "no node named '/nope' in digits_mlp.onnx";

test('a well-formed recipe is checked against its model (the control for the refusals below)', async () => {
  const diags = await diagnose(recipeText({}));
  assert.deepEqual(diags.map((d) => d.message), [READ_MODEL]);
});

for (const [label, model, reason] of [
  ['absolute', '/dev/zero', /^"model" '\/dev\/zero' leaves the recipe's folder/],
  ['with ..', '../outside/digits_mlp.onnx', /^"model" '\.\.\/outside\/digits_mlp\.onnx' leaves the recipe's folder/],
  ['a link out of the workspace', 'link.onnx', /^"model" 'link\.onnx' leads outside the workspace folder \(through a link\); refused$/],
  ['a FIFO', 'pipe.onnx', /^"model" 'pipe\.onnx' is a FIFO \(named pipe\), not a regular file; refused$/],
] as const) {
  test(`a recipe model that is ${label} gets one Error on "model" and is not read`, async () => {
    const text = recipeText({ model });
    const started = performance.now();
    const diags = await diagnose(text);
    assert.ok(performance.now() - started < 2000, `answered in ${(performance.now() - started).toFixed(0)} ms`);
    const [only, ...rest] = diags;
    assert.ok(only && rest.length === 0, diags.map((d) => d.message).join('\n'));
    assert.equal(only.severity, 1);
    assert.match(only.message, reason);
    assert.equal(only.range.start.line, lineOf(text, '"model"'));
  });
}

test('calibration data that is a device, a FIFO or outside is refused on its line; the model is still checked', async () => {
  for (const [calibrationData, reason] of [
    ['/dev/zero', /leaves the recipe's folder/],
    ['zero.npy', /leads outside the workspace folder/],
    ['calib_pipe.npy', /is a FIFO \(named pipe\), not a regular file; refused/],
    ['../outside/digits_calib_x.npy', /leaves the recipe's folder/],
  ] as const) {
    const text = recipeText({ options: { calibrationData, excludeNodes: ['/nope'] } });
    const diags = await diagnose(text);
    const [error, ...more] = diags.filter((d) => d.severity === 1);
    assert.ok(error && more.length === 0, `${calibrationData}: ${diags.map((d) => d.message).join('\n')}`);
    assert.match(error.message, reason);
    assert.equal(error.range.start.line, lineOf(text, '"calibrationData"'));
    assert.ok(diags.some((d) => d.message === READ_MODEL), 'the model itself is still checked');
  }
});

test('a calibration folder whose entry links out of the workspace is refused on its line, unread; a link inside is read', async () => {
  const text = recipeText({ options: { calibrationData: 'calib_out', excludeNodes: ['/nope'] } });
  const diags = await diagnose(text);
  const [error, ...more] = diags.filter((d) => d.severity === 1);
  assert.ok(error && more.length === 0, diags.map((d) => d.message).join('\n'));
  assert.match(error.message, /'image\.npy' in data folder '.*calib_out' is a link leading out of the folder and '.*ws'; refused/);
  assert.ok(!error.message.includes(outside), 'the link target is not revealed');
  assert.equal(error.range.start.line, lineOf(text, '"calibrationData"'));
  // The same data through a link that stays in the workspace fits the model: no Error.
  const inside = await diagnose(recipeText({ options: { calibrationData: 'calib_in', excludeNodes: ['/nope'] } }));
  assert.deepEqual(inside.map((d) => d.message), [READ_MODEL]);
});

test('an output outside the folder is an Error on "output"; a link inside the workspace is fine', async () => {
  const text = recipeText({ output: '../../escaped.onnx' });
  const diags = await diagnose(text);
  const errors = diags.filter((d) => d.severity === 1);
  assert.deepEqual(errors.map((d) => [d.range.start.line, d.message]), [[lineOf(text, '"output"'), `"output" '../../escaped.onnx' leaves the recipe's folder: a recipe may only name files in its folder or below`]]);
  // sub/inner.onnx links to a model inside the workspace: allowed.
  const inner = await diagnose(recipeText({ model: 'inner.onnx', mode: 'dynamic', options: { excludeNodes: ['/nope'] } }), path.join(ws, 'sub'));
  assert.deepEqual(inner.map((d) => d.message), ["no node named '/nope' in inner.onnx"]);
});

test('an output naming the recipe itself is an Error on "output"', async () => {
  const self = `hostile${opened + 1}.quant.json`; // the name diagnose() gives the next recipe
  const text = recipeText({ output: self });
  const errors = (await diagnose(text)).filter((d) => d.severity === 1);
  assert.deepEqual(errors.map((d) => [d.range.start.line, d.message]), [[lineOf(text, '"output"'), `"output" '${self}' would overwrite this recipe; choose another output`]]);
});

test('a recipe in a folder outside the workspace reads nothing', async () => {
  const diags = await diagnose(recipeText({}), outside);
  assert.ok(!diags.some((d) => d.message === READ_MODEL), diags.map((d) => d.message).join('\n'));
  assert.match(diags.find((d) => d.range.start.line === 1)?.message ?? '', /^"model" 'digits_mlp\.onnx' leads outside the workspace folder/);
});

test('the server keeps answering and stays small after the hostile recipes', async () => {
  const { text } = await client.request<{ text: string }>('onnxQuantizer/renderText', { uri: fileUri(path.join(ws, 'digits_mlp.onnx')) });
  assert.match(text, /= Gemm/);
  const rss = Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${client.child.pid}/status`, 'utf8'))?.[1]) * 1024;
  assert.ok(rss < 512 * 2 ** 20, `server RSS ${(rss / 2 ** 20).toFixed(0)} MiB`);
  assert.equal(client.child.exitCode, null);
});

test('untrusted: no recipe path is read until the client says the workspace is trusted', async () => {
  const untrusted = await TestClient.start({ trusted: false, folders: [ws] });
  try {
    const uri = fileUri(path.join(ws, 'untrusted.quant.json'));
    const text = recipeText({});
    untrusted.open(uri, 'json', text);
    const diags = await untrusted.diagnosticsFor(uri);
    assert.deepEqual(diags.map((d) => [d.severity, d.range.start.line, d.message]), [[3, lineOf(text, '"model"'), 'Restricted Mode: the files this recipe names are not read until the workspace is trusted']]);
    const completions = await untrusted.request<unknown[]>('textDocument/completion', { textDocument: { uri }, position: { line: lineOf(text, '/nope'), character: 8 } });
    assert.deepEqual(completions, []);
    untrusted.notify('onnxQuantizer/workspaceTrusted', {});
    const trusted = await untrusted.diagnosticsFor(uri, (d) => d.some((x) => x.message === READ_MODEL));
    assert.ok(!trusted.some((d) => d.severity === 3), 'the Restricted Mode note is gone');
  } finally {
    await untrusted.stop();
  }
});
