/**
 * Seeded mutations of ONNX files for the fuzz suite. Every mutator is deterministic for a
 * given PRNG state, so a failing case is reproduced from (fixture, seed, case index).
 */
import type { Rng } from '../../src/core/util/random';

const int = (rng: Rng, n: number) => Math.floor(rng() * n);

function truncate(bytes: Uint8Array, rng: Rng): Uint8Array {
  return bytes.slice(0, int(rng, bytes.length));
}

function flipBytes(bytes: Uint8Array, rng: Rng): Uint8Array {
  const out = bytes.slice();
  const flips = 1 + int(rng, 8);
  for (let i = 0; i < flips; i++) {
    const j = int(rng, out.length);
    out[j] = out[j]! ^ (1 << int(rng, 8));
  }
  return out;
}

/** Replace a byte that looks like a length-delimited tag's length with a huge varint. */
function hugeLength(bytes: Uint8Array, rng: Rng): Uint8Array {
  for (let attempt = 0; attempt < 50; attempt++) {
    const i = int(rng, bytes.length - 1);
    if ((bytes[i]! & 0x07) === 2 && bytes[i]! >> 3 > 0) {
      const huge = [0xff, 0xff, 0xff, 0xff, 0x0f]; // 2^32-1
      const out = new Uint8Array(bytes.length + huge.length);
      out.set(bytes.subarray(0, i + 1));
      out.set(huge, i + 1);
      out.set(bytes.subarray(i + 2), i + 1 + huge.length);
      return out.subarray(0, bytes.length + huge.length - 1);
    }
  }
  return flipBytes(bytes, rng);
}

/** Change the wire type bits of a random tag-looking byte. */
function wrongWireType(bytes: Uint8Array, rng: Rng): Uint8Array {
  const out = bytes.slice();
  for (let attempt = 0; attempt < 50; attempt++) {
    const i = int(rng, out.length);
    const b = out[i]!;
    if (b >> 3 > 0 && b < 0x80) {
      out[i] = (b & ~0x07) | ((b & 0x07) ^ (1 + int(rng, 5)));
      return out;
    }
  }
  return out;
}

/** Splice a random chunk of the file over another place (keeps many valid tags, breaks structure). */
function splice(bytes: Uint8Array, rng: Rng): Uint8Array {
  const out = bytes.slice();
  const len = 1 + int(rng, 64);
  const from = int(rng, Math.max(1, out.length - len));
  const to = int(rng, Math.max(1, out.length - len));
  out.copyWithin(to, from, from + len);
  return out;
}

export const MUTATORS = { truncate, flipBytes, hugeLength, wrongWireType, splice } as const;
export type MutatorName = keyof typeof MUTATORS;

export function mutate(bytes: Uint8Array, rng: Rng): { name: MutatorName; bytes: Uint8Array } {
  const names = Object.keys(MUTATORS) as MutatorName[];
  const name = names[int(rng, names.length)]!;
  return { name, bytes: MUTATORS[name](bytes, rng) };
}
