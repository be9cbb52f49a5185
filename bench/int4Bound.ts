/**
 * How much better than round-to-nearest any int4 block format of MatMulNBits' kind can get on a
 * model's own weights without data: each block of 32 values along K is given the best scale and
 * zero point an exhaustive search finds (16 zero points × 96 scales from 0.4 to 1.0 of the min/max
 * scale), and the weight SQNR of that is set against min/max rounding. Without data the output
 * error of a MatMul follows its weight error, so this bounds what range clipping can add there.
 */
import { loadModel } from '../src/core/onnx/model';
import { readFloat32 } from '../src/core/onnx/tensor';

const BLOCK = 32;
const LEVELS = 15;
/** Blocks sampled per matrix (evenly spread) to keep the search to a few seconds. */
const BLOCKS_PER_MATRIX = 300;

function blockError(x: Float32Array, from: number, scale: number, zero: number): number {
  let e = 0;
  for (let i = from; i < from + BLOCK; i++) {
    const v = x[i] ?? 0;
    const q = Math.min(LEVELS, Math.max(0, Math.round(v / scale) + zero));
    const d = (q - zero) * scale - v;
    e += d * d;
  }
  return e;
}

export interface Int4Bound {
  blocks: number;
  roundToNearestDb: number;
  bestDb: number;
}

/** The MatMul weights of `file` (2-D initializers read as B), blocks taken along K as MatMulNBits does. */
export function int4Bound(file: string): Int4Bound {
  const model = loadModel(file);
  const graph = model.proto.graph;
  const weights = new Set((graph?.node ?? []).filter((n) => n.opType === 'MatMul').map((n) => n.input[1]));
  let signal = 0;
  let rtn = 0;
  let best = 0;
  let blocks = 0;
  const column = new Float32Array(BLOCK);
  for (const t of graph?.initializer ?? []) {
    if (!weights.has(t.name) || t.dims.length !== 2) continue;
    const [k = 0, n = 0] = t.dims.map(Number);
    const w = readFloat32(t, model);
    const perColumn = Math.floor(k / BLOCK);
    const total = perColumn * n;
    const step = Math.max(1, Math.floor(total / BLOCKS_PER_MATRIX));
    for (let b = 0; b < total; b += step) {
      const col = Math.floor(b / perColumn);
      const k0 = (b % perColumn) * BLOCK;
      for (let i = 0; i < BLOCK; i++) column[i] = w[(k0 + i) * n + col] ?? 0;
      let min = 0;
      let max = 0;
      for (const v of column) {
        if (v < min) min = v;
        if (v > max) max = v;
        signal += v * v;
      }
      const scale = (max - min) / LEVELS || 1e-12;
      const nearest = blockError(column, 0, scale, Math.round(-min / scale));
      let lowest = nearest;
      for (let s = 0; s < 96; s++) {
        const trial = scale * (0.4 + (0.6 * s) / 95);
        for (let z = 0; z <= LEVELS; z++) lowest = Math.min(lowest, blockError(column, 0, trial, z));
      }
      rtn += nearest;
      best += lowest;
      blocks++;
    }
  }
  model.external.close();
  return { blocks, roundToNearestDb: 10 * Math.log10(signal / rtn), bestDb: 10 * Math.log10(signal / best) };
}
