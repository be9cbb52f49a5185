// The worker⇄host message codec: what each side accepts and what it rejects (with a reason).
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { describeJob, parseHostMessage, parseWorkerMessage, validateJob } from '../../../src/shared/protocol';

describe('host → worker messages', () => {
  test('accepts a valid start and cancel', () => {
    const start = parseHostMessage({ v: 1, id: 3, kind: 'start', job: { kind: 'bench', model: '/m.onnx', runs: 10 } });
    assert.ok(start.ok && start.message.kind === 'start' && start.message.job.kind === 'bench');
    const cancel = parseHostMessage({ v: 1, id: 3, kind: 'cancel', extra: 'ignored' });
    assert.deepEqual(cancel, { ok: true, message: { v: 1, id: 3, kind: 'cancel' } });
  });

  const rejected: [string, unknown, RegExp][] = [
    ['not an object', 'start', /not an object/],
    ['wrong version', { v: 2, id: 1, kind: 'cancel' }, /version/],
    ['fractional id', { v: 1, id: 1.5, kind: 'cancel' }, /id/],
    ['unknown kind', { v: 1, id: 1, kind: 'exec' }, /unknown message kind/],
    ['unknown job', { v: 1, id: 1, kind: 'start', job: { kind: 'shell', cmd: 'rm' } }, /unknown job kind/],
    ['quantize without output', { v: 1, id: 1, kind: 'start', job: { kind: 'quantize', model: 'a.onnx', options: { mode: 'dynamic' } } }, /output/],
    ['quantize without options', { v: 1, id: 1, kind: 'start', job: { kind: 'quantize', model: 'a.onnx', output: 'b.onnx' } }, /mode/],
    ['negative runs', { v: 1, id: 1, kind: 'start', job: { kind: 'bench', model: 'a.onnx', runs: -1 } }, /runs/],
    ['non-string data', { v: 1, id: 1, kind: 'start', job: { kind: 'compare', reference: 'a', candidate: 'b', data: 7 } }, /paths/],
    ['empty model path', { v: 1, id: 1, kind: 'start', job: { kind: 'summarize', model: '' } }, /model/],
  ];
  for (const [what, message, reason] of rejected) {
    test(`rejects ${what}`, () => {
      const r = parseHostMessage(message);
      assert.equal(r.ok, false);
      assert.match((r as { reason: string }).reason, reason);
    });
  }
});

describe('worker → host messages', () => {
  test('accepts progress, log, result and error', () => {
    for (const m of [
      { v: 1, id: 1, kind: 'progress', progress: { stage: 'quantizing', fraction: 0.5, message: 'node 3/9' } },
      { v: 1, id: 1, kind: 'log', level: 'debug', message: 'x' },
      { v: 1, id: 1, kind: 'result', result: null },
      { v: 1, id: 1, kind: 'error', error: { name: 'InputError', message: 'no such file' } },
    ]) {
      assert.ok(parseWorkerMessage(m).ok, JSON.stringify(m));
    }
  });

  test('rejects out-of-range progress, unknown log levels, and results without a value', () => {
    assert.equal(parseWorkerMessage({ v: 1, id: 1, kind: 'progress', progress: { stage: 'x', fraction: 1.5 } }).ok, false);
    assert.equal(parseWorkerMessage({ v: 1, id: 1, kind: 'progress', progress: { fraction: 0.5 } }).ok, false);
    assert.equal(parseWorkerMessage({ v: 1, id: 1, kind: 'log', level: 'fatal', message: 'x' }).ok, false);
    assert.equal(parseWorkerMessage({ v: 1, id: 1, kind: 'result' }).ok, false);
    assert.equal(parseWorkerMessage({ v: 1, id: 1, kind: 'error', error: 'boom' }).ok, false);
  });
});

test('test-only jobs validate like the others', () => {
  assert.equal(validateJob({ kind: 'crash', how: 'abort' }), undefined);
  assert.match(validateJob({ kind: 'crash', how: 'segv' }) ?? '', /abort or exit/);
  assert.match(validateJob({ kind: 'stall' }) ?? '', /ms/);
});

test('job labels name the model without folder or extension', () => {
  assert.equal(describeJob({ kind: 'quantize', model: '/w/digits_mlp.onnx', output: '/w/o.onnx', options: { mode: 'dynamic' } }), 'Quantizing digits_mlp');
  assert.equal(describeJob({ kind: 'compare', reference: 'C:\\m\\a.onnx', candidate: 'b.int8.onnx' }), 'Comparing a with b.int8');
});
