/** The TextMate grammar tokenizes rendered models as intended (vscode-textmate, the engine VS Code uses). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as oniguruma from 'vscode-oniguruma';
import * as vsctm from 'vscode-textmate';
import { loadModel } from '../../../src/core/onnx/model';
import { makeGraph, makeModel, makeNode, makeValueInfo } from '../../../src/core/onnx/builder';
import { DataType } from '../../../src/core/onnx/dtype';
import { renderModel } from '../../../src/core/text/render';

const GRAMMAR = path.join(__dirname, '../../../syntaxes/onnx-text.tmLanguage.json');

async function loadGrammar(): Promise<vsctm.IGrammar> {
  const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({ createOnigScanner: (p: string[]) => new oniguruma.OnigScanner(p), createOnigString: (s: string) => new oniguruma.OnigString(s) }),
    loadGrammar: async () => vsctm.parseRawGrammar(fs.readFileSync(GRAMMAR, 'utf8'), GRAMMAR),
  });
  return (await registry.loadGrammar('source.onnx-text'))!;
}

/** Token text → innermost scope, for every line. */
function tokenize(grammar: vsctm.IGrammar, text: string): { text: string; scope: string }[] {
  let state = vsctm.INITIAL;
  const out: { text: string; scope: string }[] = [];
  for (const line of text.split('\n')) {
    const r = grammar.tokenizeLine(line, state);
    for (const t of r.tokens) out.push({ text: line.slice(t.startIndex, t.endIndex), scope: t.scopes[t.scopes.length - 1]! });
    state = r.ruleStack;
  }
  return out;
}

const scopeOf = (tokens: { text: string; scope: string }[], text: string) => tokens.find((t) => t.text === text)?.scope;

test('grammar colours header keys, graph name, types, labels, op types, attributes, numbers and comments', async () => {
  const grammar = await loadGrammar();
  const text = renderModel(loadModel(path.join(__dirname, '../../fixtures/digits_mlp.onnx')).proto).text;
  const tokens = tokenize(grammar, text);
  assert.equal(scopeOf(tokens, 'ir_version'), 'keyword.other.header.onnx-text');
  assert.equal(scopeOf(tokens, '"pytorch"'), 'string.quoted.double.onnx-text');
  assert.equal(scopeOf(tokens, 'torch_jit'), 'entity.name.type.graph.onnx-text');
  assert.equal(scopeOf(tokens, 'float'), 'storage.type.onnx-text');
  assert.equal(scopeOf(tokens, 'batch'), 'variable.other.dimension.onnx-text');
  assert.equal(scopeOf(tokens, '"/fc1/Gemm"'), 'entity.name.label.onnx-text');
  assert.equal(scopeOf(tokens, 'Gemm'), 'entity.name.function.operator.onnx-text');
  assert.equal(scopeOf(tokens, 'alpha'), 'variable.parameter.attribute.onnx-text');
  assert.equal(scopeOf(tokens, '1.0'), 'constant.numeric.onnx-text');
  assert.equal(scopeOf(tokens, '"fc1.weight"'), 'variable.other.tensor.onnx-text');
  assert.equal(scopeOf(tokens, '# 65,536 bytes'), 'comment.line.number-sign.onnx-text');
});

test('grammar: contrib domains, string attributes and a node after a multi-attribute line', async () => {
  const grammar = await loadGrammar();
  const g = makeGraph(
    [
      makeNode('MatMulNBits', ['x', 'w'], ['y'], { K: 16, bits: 4 }, { domain: 'com.microsoft', name: 'mm' }),
      makeNode('Resize', ['y'], ['z'], { mode: 'nearest' }, { name: 'rs' }),
    ],
    'g',
    [makeValueInfo('x', DataType.FLOAT, ['N', 16]), makeValueInfo('w', DataType.UINT8, [4, 1, 8])],
    [makeValueInfo('z', DataType.FLOAT, ['N', 4])],
  );
  const tokens = tokenize(grammar, renderModel(makeModel(g, { '': 17, 'com.microsoft': 1 })).text);
  assert.equal(scopeOf(tokens, 'com.microsoft.'), 'entity.name.namespace.onnx-text');
  assert.equal(scopeOf(tokens, 'MatMulNBits'), 'entity.name.function.operator.onnx-text');
  assert.equal(scopeOf(tokens, '"nearest"'), 'string.quoted.double.onnx-text');
  assert.equal(scopeOf(tokens, 'Resize'), 'entity.name.function.operator.onnx-text');
  assert.equal(scopeOf(tokens, 'uint8'), 'storage.type.onnx-text');
});
