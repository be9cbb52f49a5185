// node:test reporter writing one JSON document: counts plus every test (file, name, state, ms, error).
export default async function* jsonReporter(source) {
  const tests = [];
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { name, file, details, skip, todo } = event.data;
    if (details?.type === 'suite') continue;
    const state = event.type === 'test:fail' ? 'failed' : skip || todo ? 'skipped' : 'passed';
    const err = details?.error;
    tests.push({ file, name, state, ms: Math.round(details?.duration_ms ?? 0),
      ...(err ? { error: String(err.cause?.message ?? err.message ?? err) } : {}) });
  }
  const count = (s) => tests.filter((t) => t.state === s).length;
  yield JSON.stringify({ passed: count('passed'), failed: count('failed'), skipped: count('skipped'), tests }, null, 2) + '\n';
}
