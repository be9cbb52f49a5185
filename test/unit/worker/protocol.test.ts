// The worker⇄host message codec: what each side accepts and what it rejects (with a reason).
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { describeJob, parseHostMessage, parseWorkerMessage, validateJob } from '../../../src/shared/protocol';
import { TEST_JOB_PROTOCOL, parseTestStart, validateTestJob } from '../../../src/shared/testJobs';

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

test('the production protocol knows no test-only job; the test extension validates them', () => {
  assert.match(validateJob({ kind: 'crash', how: 'abort' }) ?? '', /unknown job kind "crash"/);
  assert.match(validateJob({ kind: 'stall', ms: 10 }) ?? '', /unknown job kind "stall"/);
  assert.equal(validateTestJob({ kind: 'crash', how: 'abort' }), undefined);
  assert.match(validateTestJob({ kind: 'crash', how: 'segv' }) ?? '', /abort or exit/);
  assert.match(validateTestJob({ kind: 'stall' }) ?? '', /ms/);
  assert.deepEqual(parseTestStart({ v: 1, id: 4, kind: 'start', job: { kind: 'stall', ms: 5 } }), { ok: true, id: 4, job: { kind: 'stall', ms: 5 } });
  assert.equal(parseTestStart({ v: 1, id: 4, kind: 'start', job: { kind: 'summarize', model: '/m.onnx' } }), undefined, 'production jobs are left to parseHostMessage');
  assert.equal(parseTestStart({ v: 1, id: 4, kind: 'cancel' }), undefined);
  assert.equal(TEST_JOB_PROTOCOL.describe({ kind: 'stall' }), 'Stall (test)');
  assert.equal(TEST_JOB_PROTOCOL.describe({ kind: 'summarize', model: '/x/m.onnx' } as { kind: string }), 'Reading m');
  assert.equal(TEST_JOB_PROTOCOL.resultMismatch('stall', { ms: 5 }), undefined);
  assert.match(TEST_JOB_PROTOCOL.resultMismatch('stall', { ms: 'x' }) ?? '', /ms/);
});
