/** The restored-webview watch: reload when 'ready' does not come, stop when it does or the panel hides, give up after the last try. */
import { afterEach, beforeEach, test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { watchReady } from '../../../src/extension/webviewReady';

/** Advance the mocked clock in small steps, so the timers each callback sets fire within the span too. */
function advance(ms: number): void {
  for (let t = 0; t < ms; t += 100) mock.timers.tick(Math.min(100, ms - t));
}

beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
afterEach(() => mock.timers.reset());

function harness(attempts = 3) {
  const events: string[] = [];
  const watch = watchReady({ reload: () => events.push('reload'), giveUp: (n) => events.push(`give up after ${n}`), log: () => undefined, timeoutMs: 1000, attempts });
  return { events, watch };
}

test('a page that never says ready is loaded again each timeout, then the caller is told, once', () => {
  const { events, watch } = harness(3);
  watch.expect();
  advance(999);
  assert.deepEqual(events, []);
  advance(1);
  assert.deepEqual(events, ['reload']);
  advance(3000);
  assert.deepEqual(events, ['reload', 'reload', 'reload', 'give up after 3']);
  advance(10_000);
  assert.equal(events.length, 4, 'nothing after giving up');
});

test('ready in time: no reload; a reload that then brings the page up ends the watch and resets the count', () => {
  const { events, watch } = harness(2);
  watch.expect();
  advance(500);
  watch.ready();
  advance(5000);
  assert.deepEqual(events, []);
  // Shown again later: this time the first load fails and the reload works.
  watch.expect();
  advance(1000);
  assert.deepEqual(events, ['reload']);
  watch.ready();
  advance(5000);
  assert.deepEqual(events, ['reload']);
  // The count starts again: two more reloads before giving up.
  watch.expect();
  advance(3000);
  assert.deepEqual(events, ['reload', 'reload', 'reload', 'give up after 2']);
});

test('a hidden panel is not reloaded: its page is gone until it is shown', () => {
  const { events, watch } = harness();
  watch.expect();
  advance(400);
  watch.stop();
  advance(10_000);
  assert.deepEqual(events, []);
});
