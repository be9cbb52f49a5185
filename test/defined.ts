import assert from 'node:assert/strict';

/** The value, asserted present: a test fails here, naming what was missing, instead of on a later `undefined`. */
export function defined<T>(value: T | undefined | null, what: string): T {
  assert.ok(value !== undefined && value !== null, `${what} is missing`);
  return value;
}
