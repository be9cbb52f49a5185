/** System and engine errors become one clear InputError/WorkError line with the right exit code. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { asEngineError, exitCodeOf, InputError, WorkError } from '../../../src/core/errors';

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('did not throw');
}

test('EISDIR, ENOTDIR, ENAMETOOLONG become InputErrors naming the path; RangeError a WorkError', () => {
  const cases: [unknown, RegExp][] = [
    [thrown(() => fs.readFileSync(os.tmpdir())), /is a folder/],
    [thrown(() => fs.readFileSync(`${__filename}/x`)), /not a folder/],
    [thrown(() => fs.readFileSync(`/tmp/${'x'.repeat(5000)}`)), /too long/],
  ];
  for (const [raw, why] of cases) {
    const e = asEngineError(raw);
    assert.ok(e instanceof InputError, String(raw));
    assert.match(e.message, why);
    assert.equal(exitCodeOf(e), 2);
  }
  const range = asEngineError(thrown(() => new Array(-1)));
  assert.ok(range instanceof WorkError);
  assert.equal(exitCodeOf(range), 1);
  const own = new InputError('x');
  assert.equal(asEngineError(own), own);
});
