/**
 * Names from models reach terminals and Markdown inert: escape sequences, CR/BS, bidi overrides
 * and zero-width characters print as `\u{…}`, Markdown link/image syntax is escaped, and op types
 * named like Object.prototype members are plain keys. Large tables print without spreading rows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { makeGraph, makeModel, makeNode, makeValueInfo } from '../../../src/core/onnx/builder';
import { DataType } from '../../../src/core/onnx/dtype';
import { floatTensor } from '../../../src/core/onnx/tensor';
import { summarizeModel } from '../../../src/core/analysis/summary';
import { mdCell } from '../../../src/core/report/markdown';
import { table } from '../../../src/cli/io';
import { makeTempDir, writeModelFile } from '../../fixtures/build';
import { buildCli, runCli } from './inspect-helpers';
import { loadModel } from '../../../src/core/onnx/model';

const HOSTILE = ['\x1b[31mred\x1b[0m', '\x1b]52;c;cGF5bG9hZA==\x07', '\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\', '99.9\r12.0', 'ab\bc', 'a\u202Eb', 'zero\u200Bwidth'];
// eslint-disable-next-line no-control-regex -- the characters under test
const ACTIVE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/;

test('CLI tables print model names inert, and a 200,000-row table prints', () => {
  const out = table(['name', 'value'], HOSTILE.map((h, i) => [h, i]));
  assert.doesNotMatch(out, ACTIVE);
  assert.match(out, /\\u\{1b\}\[31mred/);
  const big = table(['node', 'reason'], Array.from({ length: 200_000 }, (_, i) => [`n${i}`, 'skipped']));
  assert.equal(big.split('\n').length, 200_002);
});

test('Markdown cells keep no control characters nor live link or image syntax', () => {
  for (const h of [...HOSTILE, '[click](https://evil.example)', '![img](https://evil.example/x.png)']) {
    const cell = mdCell(h);
    assert.doesNotMatch(cell, ACTIVE, JSON.stringify(h));
    assert.doesNotMatch(cell, /(^|[^\\])\[[^\]]*(^|[^\\])\]\(/, `link syntax in ${cell}`);
  }
});

test('op types named constructor, __proto__, toString are plain keys for inspect', () => {
  const tmp = makeTempDir('onnxq-names-');
  try {
    const ops = ['constructor', '__proto__', 'toString', 'hasOwnProperty'];
    const nodes = ops.map((op, i) => makeNode(op, [i === 0 ? 'x' : `t${i - 1}`], [`t${i}`], {}, { domain: 'custom.evil', name: `\x1b[2J${op}` }));
    const g = makeGraph(nodes, 'g', [makeValueInfo('x', DataType.FLOAT, [1, 4])], [makeValueInfo(`t${ops.length - 1}`, DataType.FLOAT, [1, 4])], [floatTensor('w', [4], [1, 2, 3, 4])]);
    const file = writeModelFile(tmp.dir, 'evil.onnx', makeModel(g, { '': 17, 'custom.evil': 1 }));
    const s = summarizeModel(loadModel(file));
    const counts = s.opCounts as Record<string, number>;
    for (const op of ops) assert.equal(Object.entries(counts).find(([k]) => k.endsWith(op))?.[1], 1, op);
    buildCli();
    const r = runCli(['inspect', path.resolve(file)]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, ACTIVE);
  } finally {
    tmp.cleanup();
  }
});
