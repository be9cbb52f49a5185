/** Run a model in ONNX Runtime on feeds and compare its outputs with a reference run, output by output. */
import { ErrorAccumulator } from '../../src/core/evaluate/stats';
import { float16BitsToFloat32 } from '../../src/core/onnx/float16';
import { createSession, type OrtTensor } from '../../src/core/runtime/ort';

export type Outputs = Record<string, OrtTensor>;

export async function runAll(model: string, feedSets: Record<string, OrtTensor>[]): Promise<Outputs[]> {
  const session = await createSession(model, { threads: 1 });
  try {
    const out: Outputs[] = [];
    for (const feeds of feedSets) out.push(await session.run(feeds));
    return out;
  } finally {
    await session.release();
  }
}

/** Values as float64 numbers; float16 from its bits, bools as 0/1, strings not numeric (undefined). */
export function numericValues(t: OrtTensor): Float64Array | undefined {
  const d = t.data as ArrayLike<number | bigint | string | boolean>;
  if (t.type === 'string') return undefined;
  if (t.type === 'float16' && d instanceof Uint16Array) return Float64Array.from(d, float16BitsToFloat32);
  const out = new Float64Array(d.length);
  for (let i = 0; i < d.length; i++) out[i] = Number(d[i]);
  return out;
}

export interface OutputComparison {
  name: string;
  /** null when identical. */
  sqnrDb: number | null;
  cosine: number;
  maxAbsError: number;
  /** Shape, type or string content differs: no numeric comparison possible. */
  mismatch?: string;
}

/** Compare candidate outputs with the reference, per output name, over all data sets. */
export function compareOutputs(reference: Outputs[], candidate: Outputs[]): OutputComparison[] {
  const names = Object.keys(reference[0] ?? {});
  return names.map((name) => {
    const acc = new ErrorAccumulator();
    for (const [i, ref] of reference.entries()) {
      const r = ref[name];
      const c = candidate[i]?.[name];
      if (!r || !c) return { name, sqnrDb: -Infinity, cosine: 0, maxAbsError: Infinity, mismatch: 'output missing' };
      if (r.dims.join('x') !== c.dims.join('x')) return { name, sqnrDb: -Infinity, cosine: 0, maxAbsError: Infinity, mismatch: `shape [${c.dims}] instead of [${r.dims}]` };
      if (r.type !== c.type) return { name, sqnrDb: -Infinity, cosine: 0, maxAbsError: Infinity, mismatch: `type ${c.type} instead of ${r.type}` };
      const rv = numericValues(r);
      const cv = numericValues(c);
      if (!rv || !cv) {
        const same = (r.data as string[]).every((s, k) => s === (c.data as string[])[k]);
        if (!same) return { name, sqnrDb: -Infinity, cosine: 0, maxAbsError: Infinity, mismatch: 'strings differ' };
        continue;
      }
      acc.add(rv, cv);
    }
    return { name, sqnrDb: acc.sqnrDb, cosine: acc.cosine, maxAbsError: acc.maxAbsError };
  });
}

/**
 * The worst output SQNR; an output within 1e-6 of the reference everywhere counts as identical
 * (an all-zero reference has no signal to measure noise against).
 */
export function worstSqnr(comparisons: OutputComparison[]): number | null {
  let worst: number | null = null;
  for (const c of comparisons) {
    if (c.sqnrDb === null) continue;
    const s = c.maxAbsError <= 1e-6 ? null : c.sqnrDb;
    if (s !== null && (worst === null || s < worst)) worst = s;
  }
  return worst;
}
