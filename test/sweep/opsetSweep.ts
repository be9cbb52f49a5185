/**
 * Opset conversion over Debian's ONNX backend test models: every model below opset 13 (ai.onnx)
 * that ONNX Runtime runs is converted to each target opset (13 and 11 by default) and run on the
 * test's inputs; its outputs must equal the test's expected outputs (backend tolerance) or the
 * unconverted model's. Prints converted / refused with reason / wrong / crashed counts.
 *
 *   npm run sweep:opset [-- --targets 13,11] [-- --filter softmax]
 */
import { InputError } from '../../src/core/errors';
import { opsetVersion } from '../../src/core/onnx/builder';
import { convertOpset } from '../../src/core/onnx/opset';
import type { OrtTensor } from '../../src/core/runtime/ort';
import { feedsFor, listCases, loadCase, outputMismatch, runProto, testdataInstalled } from './backendCases';

export interface SweepCounts {
  converted: number;
  refused: number;
  wrong: number;
  crashed: number;
  notRunnable: number;
}

export interface SweepOutcome {
  id: string;
  target: number;
  verdict: 'converted' | 'refused' | 'wrong' | 'crashed' | 'not runnable';
  detail?: string;
  summary?: string;
}

/** Convert one case to `target` and check it; the verdict with the reason. */
export async function checkCase(id: string, targets: number[]): Promise<SweepOutcome[]> {
  const c = loadCase(id);
  const from = opsetVersion(c.model, '') ?? 1;
  const out: SweepOutcome[] = [];
  const graph = c.model.graph;
  if (!graph) return targets.map((target) => ({ id, target, verdict: 'not runnable', detail: 'no graph' }));
  if (graph.input.some((v) => v.type?.value.case !== 'tensorType') || graph.output.some((v) => v.type?.value.case !== 'tensorType')) {
    return targets.map((target) => ({ id, target, verdict: 'not runnable', detail: 'non-tensor inputs or outputs' }));
  }
  let feeds;
  try {
    feeds = feedsFor(c.model, c.inputs);
  } catch (e) {
    return targets.map((target) => ({ id, target, verdict: 'not runnable', detail: (e as Error).message.split('\n')[0] }));
  }
  // ONNX Runtime no longer runs some opset 1-6 definitions (Add-6, Gemm-6, BatchNormalization-6...):
  // those are checked against the expected outputs alone.
  let original: OrtTensor[] | undefined;
  let originalError: string | undefined;
  try {
    original = await runProto(c.model, feeds);
  } catch (e) {
    originalError = (e as Error).message.split('\n')[0];
  }
  for (const target of targets.filter((t) => t > from)) {
    let converted;
    try {
      converted = convertOpset(c.model, target);
    } catch (e) {
      if (e instanceof InputError) {
        out.push({ id, target, verdict: 'refused', detail: e.message });
        continue;
      }
      out.push({ id, target, verdict: 'crashed', detail: `converter: ${(e as Error).stack}` });
      continue;
    }
    let actual;
    try {
      actual = await runProto(converted.proto, feeds);
    } catch (e) {
      const message = (e as Error).message.split('\n')[0] ?? '';
      // Failing the same way as the original (missing kernel, locale...) is not the converter's doing.
      const same = message === originalError;
      out.push({ id, target, verdict: same ? 'not runnable' : 'crashed', detail: `ONNX Runtime: ${message}`, summary: converted.conversion.summary });
      continue;
    }
    const problems: string[] = [];
    actual.forEach((t, i) => {
      const expected = c.outputs[i];
      const vsExpected = expected ? outputMismatch(t, expected) : 'no expected output';
      const first = original?.[i];
      const vsOriginal = first ? outputMismatch(t, first, 1e-5, 1e-6) : 'original not run';
      if (vsExpected && vsOriginal) problems.push(`output ${i}: ${vsOriginal} (original model), ${vsExpected} (expected)`);
    });
    out.push({ id, target, verdict: problems.length ? 'wrong' : 'converted', summary: converted.conversion.summary, ...(problems.length ? { detail: problems.join('; ') } : {}) });
  }
  return out;
}

/** The cases the sweep looks at: ai.onnx opset below 13. */
export function oldOpsetCases(filter?: string): string[] {
  return listCases().filter((id) => {
    if (filter && !id.includes(filter)) return false;
    const v = opsetVersion(loadCase(id).model, '') ?? 1;
    return v < 13;
  });
}

async function main(): Promise<void> {
  if (!testdataInstalled()) {
    console.error('libonnx-testdata is not installed (apt-get install libonnx-testdata)');
    process.exit(2);
  }
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const targets = (arg('--targets') ?? '13,11').split(',').map(Number);
  const cases = oldOpsetCases(arg('--filter'));
  const all: SweepOutcome[] = [];
  for (const id of cases) all.push(...(await checkCase(id, targets)));
  for (const target of targets) {
    const mine = all.filter((o) => o.target === target);
    const count = (v: SweepOutcome['verdict']) => mine.filter((o) => o.verdict === v).length;
    console.log(`\nopset ${target}: ${count('converted')} converted and equal, ${count('refused')} refused, ${count('wrong')} wrong, ${count('crashed')} crashed (${count('not runnable')} not run by ONNX Runtime as they are)`);
    for (const o of mine.filter((o) => o.verdict !== 'converted' && o.verdict !== 'not runnable')) console.log(`  ${o.verdict.padEnd(8)} ${o.id}: ${o.detail}`);
  }
  const bad = all.filter((o) => o.verdict === 'wrong' || o.verdict === 'crashed').length;
  process.exit(bad ? 1 : 0);
}

if (require.main === module) void main();
