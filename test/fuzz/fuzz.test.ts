/**
 * Fuzz suite (issue: hostile input). Mutates the fixtures (truncation, flipped bytes, huge
 * declared lengths, wrong wire types, spliced chunks) and feeds hand-built hostile models
 * (nested subgraphs, overflowing dims, wrong byte lengths, unsafe external paths) to every
 * target. Each case must end in a result or an InputError/WorkError, within a time bound,
 * without memory blow-up. Seeded and reproducible: FUZZ_CASES and FUZZ_SEED override.
 * Cases that once failed live in test/fuzz/corpus/ and are replayed first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError, WorkError } from '../../src/core/errors';
import { mutate } from './mutate';
import { seededRandom } from '../../src/core/util/random';
import { hostileModels } from './hostile';
import { targets } from './targets';

const FIXTURES = path.join(__dirname, '../fixtures');
const CORPUS = path.join(__dirname, 'corpus');
const CASES = Number(process.env.FUZZ_CASES ?? 2000);
const SEED = Number(process.env.FUZZ_SEED ?? 20261123);
const CASE_TIME_LIMIT_MS = Number(process.env.FUZZ_CASE_MS ?? 5000);
const RSS_GROWTH_LIMIT = 512 * 2 ** 20;

// A folder of our own under test/, so no other suite's temp-folder cleanup can remove it mid-run.
const scratch = path.join(__dirname, '../.tmp', `fuzz-${process.pid}`);
fs.mkdirSync(scratch, { recursive: true });
process.on('exit', () => fs.rmSync(scratch, { recursive: true, force: true }));

interface Outcome {
  ok: boolean;
  error?: string;
}

async function runCase(bytes: Uint8Array, label: string): Promise<Outcome[]> {
  const dir = fs.mkdtempSync(path.join(scratch, 'case-'));
  const file = path.join(dir, 'model.onnx');
  fs.writeFileSync(file, bytes);
  const outcomes: Outcome[] = [];
  try {
    for (const target of targets) {
      const started = performance.now();
      try {
        await target.run(file, dir);
        outcomes.push({ ok: true });
      } catch (e) {
        if (!(e instanceof InputError || e instanceof WorkError)) {
          outcomes.push({ ok: false, error: `${target.name} on ${label}: unexpected ${(e as Error)?.name}: ${(e as Error)?.message}\n${(e as Error)?.stack ?? ''}` });
          continue;
        }
        if (/\n/.test(e.message.trim()) && !/usage:/.test(e.message)) {
          outcomes.push({ ok: false, error: `${target.name} on ${label}: multi-line error message` });
          continue;
        }
        outcomes.push({ ok: true });
      }
      const ms = performance.now() - started;
      if (ms > CASE_TIME_LIMIT_MS) outcomes.push({ ok: false, error: `${target.name} on ${label}: took ${ms.toFixed(0)} ms` });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return outcomes;
}

function saveToCorpus(bytes: Uint8Array, label: string): void {
  fs.mkdirSync(CORPUS, { recursive: true });
  fs.writeFileSync(path.join(CORPUS, `${label.replace(/[^a-z0-9_.-]+/gi, '_')}.onnx`), bytes);
}

test('regression corpus: every case that once failed ends cleanly', async () => {
  const files = fs.existsSync(CORPUS) ? fs.readdirSync(CORPUS).filter((f) => f.endsWith('.onnx')) : [];
  for (const f of files) {
    const failures = (await runCase(fs.readFileSync(path.join(CORPUS, f)), f)).filter((o) => !o.ok);
    assert.deepEqual(failures, [], failures.map((o) => o.error).join('\n'));
  }
});

test('hand-built hostile models end in a clear error or a result', async () => {
  for (const { name, bytes } of hostileModels()) {
    const failures = (await runCase(bytes, name)).filter((o) => !o.ok);
    if (failures.length) saveToCorpus(bytes, `hostile-${name}`);
    assert.deepEqual(failures, [], failures.map((o) => o.error).join('\n'));
  }
});

test(`${CASES} seeded mutations of the fixtures (seed ${SEED})`, async () => {
  const fixtures = fs
    .readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.onnx'))
    .map((f) => ({ name: f, bytes: new Uint8Array(fs.readFileSync(path.join(FIXTURES, f))) }));
  assert.ok(fixtures.length > 0, 'no fixtures');
  const rng = seededRandom(SEED);
  const rssStart = process.memoryUsage().rss;
  const failures: string[] = [];
  const mutators: Record<string, number> = {};
  for (let i = 0; i < CASES; i++) {
    const fixture = fixtures[i % fixtures.length]!;
    const { name, bytes } = mutate(fixture.bytes, rng);
    mutators[name] = (mutators[name] ?? 0) + 1;
    const label = `${fixture.name}-case${i}-${name}`;
    for (const o of await runCase(bytes, label)) {
      if (!o.ok) {
        failures.push(o.error!);
        saveToCorpus(bytes, label);
      }
    }
    if (failures.length >= 5) break;
  }
  const rssGrowth = process.memoryUsage().rss - rssStart;
  assert.deepEqual(failures, [], failures.join('\n\n'));
  assert.ok(rssGrowth < RSS_GROWTH_LIMIT, `resident memory grew by ${(rssGrowth / 2 ** 20).toFixed(0)} MB`);
  if (CASES >= 100) assert.ok(Object.keys(mutators).length >= 5, `all mutators exercised: ${JSON.stringify(mutators)}`);
});
