/**
 * Constant folding of layout subexpressions: a node of a safe op whose inputs are all constants
 * (initializers and Constant values of its own graph or an enclosing one) computes a constant.
 * Exporters write weights that way (Silero VAD v5/v6: Constant → Slice ×3 → Concat → Unsqueeze
 * → LSTM W; others Transpose or Reshape a weight before a MatMul), and every mode then sees an
 * activation where there is a weight.
 *
 * Only ops that move or select elements are folded (Identity, Reshape, Flatten, Squeeze,
 * Unsqueeze, Transpose, Concat, Slice, Gather, Split, and Casts that change no value), evaluated here byte for
 * byte: a folded float is the same bits ONNX Runtime would have computed. No arithmetic, nothing
 * random, nothing that grows: a fold may not produce more bytes than its inputs hold (plus
 * FOLD_SLACK for shape arithmetic), so Expand/Tile/ConstantOfShape-like growth never lands in
 * the file. An initializer a main-graph input can override (IR ≥ 4) is not a constant.
 *
 * `ConstantFolder` answers lazily (shapes first, bytes on demand) for the layer analysis;
 * `foldConstants` rewrites a model with it, copy-on-write (the input model is not modified).
 */
import { create } from '@bufbuild/protobuf';
import { attrInt, attrInts, makeNode, withFields } from './builder';
import { DataType, dtypeBits } from './dtype';
import { createHash } from 'node:crypto';
import { carryKey, indexModel, type GraphScope, type IndexedNode, type ModelIndex } from './graph-index';
import { GraphProtoSchema, ModelProtoSchema, TensorProtoSchema, type GraphProto, type ModelProto, type NodeProto, type TensorProto } from './schema';
import { makeTensor, tensorBytes, tensorShape, type TensorSource } from './tensor';

/** Op types folded when every input is constant. */
export const FOLDABLE_OPS: ReadonlySet<string> = new Set(['Identity', 'Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Transpose', 'Concat', 'Slice', 'Gather', 'Split', 'Cast']);
/** Bytes a fold may add beyond its inputs' (shape arithmetic: Concat of small int64 vectors, Gather of a shape). */
export const FOLD_SLACK = 4096;

/** A constant value: type and shape known, bytes computed on first use. */
export interface FoldedValue {
  dataType: number;
  dims: number[];
  bytes(): Uint8Array;
}

const lazy = (make: () => Uint8Array): (() => Uint8Array) => {
  let b: Uint8Array | undefined;
  return () => (b ??= make());
};

const count = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);
const byteSize = (v: FoldedValue): number => (count(v.dims) * dtypeBits(v.dataType)) / 8;

/** Integer values of a small constant (shapes, axes, indices), or undefined for other types. */
function ints(v: FoldedValue | undefined): number[] | undefined {
  if (!v) return undefined;
  const b = v.bytes();
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const n = count(v.dims);
  const out: number[] = [];
  if (v.dataType === DataType.INT64) for (let i = 0; i < n; i++) out.push(Number(view.getBigInt64(i * 8, true)));
  else if (v.dataType === DataType.INT32) for (let i = 0; i < n; i++) out.push(view.getInt32(i * 4, true));
  else return undefined;
  return out;
}

/** Copy elements from `src` (shape `inDims`) to a new array, output element i taken from offset(i). */
function gatherElements(src: Uint8Array, elementBytes: number, total: number, offsetOf: (out: number) => number): Uint8Array {
  const out = new Uint8Array(total * elementBytes);
  for (let i = 0; i < total; i++) {
    const from = offsetOf(i) * elementBytes;
    for (let b = 0; b < elementBytes; b++) out[i * elementBytes + b] = src[from + b] ?? 0;
  }
  return out;
}

/** Row-major strides of `dims`. */
function strides(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = (s[i + 1] ?? 1) * (dims[i + 1] ?? 1);
  return s;
}

/** The input element for each output element of a strided view: out[i] = in[base + Σ idx_k · step_k]. */
function stridedView(src: FoldedValue, outDims: number[], base: number, steps: number[]): FoldedValue {
  const es = dtypeBits(src.dataType) / 8;
  const outStrides = strides(outDims);
  const total = count(outDims);
  return {
    dataType: src.dataType,
    dims: outDims,
    bytes: lazy(() =>
      gatherElements(src.bytes(), es, total, (i) => {
        let off = base;
        for (let k = 0; k < outDims.length; k++) {
          const idx = Math.floor(i / (outStrides[k] ?? 1)) % (outDims[k] ?? 1);
          off += idx * (steps[k] ?? 0);
        }
        return off;
      }),
    ),
  };
}

const normAxis = (axis: number, rank: number): number | undefined => {
  const a = axis < 0 ? axis + rank : axis;
  return a >= 0 && a < rank ? a : undefined;
};

const same = (v: FoldedValue, dims: number[]): FoldedValue => ({ dataType: v.dataType, dims, bytes: v.bytes });

/** The folded outputs of one node, or undefined when it does not fold (unsupported form, bad input). */
function evaluate(node: NodeProto, ins: (FoldedValue | undefined)[]): FoldedValue[] | undefined {
  const x = ins[0];
  if (!x) return undefined;
  const rank = x.dims.length;
  const axesFrom = (pos: number): number[] | undefined => (node.input[pos] ? ints(ins[pos]) : attrInts(node, 'axes'));
  switch (node.opType) {
    case 'Identity':
      return [x];
    case 'Reshape': {
      const shape = ints(ins[1]);
      if (!shape) return undefined;
      const allowZero = attrInt(node, 'allowzero', 0) !== 0;
      const dims = shape.map((d, i) => (d === 0 && !allowZero ? (x.dims[i] ?? -2) : d));
      if (dims.some((d) => d < -1) || dims.filter((d) => d === -1).length > 1) return undefined;
      const known = count(dims.filter((d) => d !== -1));
      const total = count(x.dims);
      const out = dims.map((d) => (d === -1 ? (known === 0 ? 0 : total / known) : d));
      if (!out.every(Number.isInteger) || count(out) !== total) return undefined;
      return [same(x, out)];
    }
    case 'Flatten': {
      const axis = attrInt(node, 'axis', 1);
      const a = axis < 0 ? axis + rank : axis;
      if (a < 0 || a > rank) return undefined;
      return [same(x, [count(x.dims.slice(0, a)), count(x.dims.slice(a))])];
    }
    case 'Squeeze': {
      const axes = axesFrom(1);
      if (node.input[1] && !axes) return undefined;
      const drop = new Set<number>();
      if (axes) {
        for (const ax of axes) {
          const a = normAxis(ax, rank);
          if (a === undefined || x.dims[a] !== 1) return undefined;
          drop.add(a);
        }
      } else x.dims.forEach((d, i) => d === 1 && drop.add(i));
      return [same(x, x.dims.filter((_, i) => !drop.has(i)))];
    }
    case 'Unsqueeze': {
      const axes = axesFrom(1);
      if (!axes) return undefined;
      const outRank = rank + axes.length;
      const at = new Set<number>();
      for (const ax of axes) {
        const a = normAxis(ax, outRank);
        if (a === undefined || at.has(a)) return undefined;
        at.add(a);
      }
      const dims: number[] = [];
      let k = 0;
      for (let i = 0; i < outRank; i++) dims.push(at.has(i) ? 1 : (x.dims[k++] ?? 1));
      return [same(x, dims)];
    }
    case 'Transpose': {
      const perm = attrInts(node, 'perm') ?? x.dims.map((_, i) => rank - 1 - i);
      if (perm.length !== rank || new Set(perm).size !== rank || perm.some((p) => p < 0 || p >= rank)) return undefined;
      const inStrides = strides(x.dims);
      return [stridedView(x, perm.map((p) => x.dims[p] ?? 0), 0, perm.map((p) => inStrides[p] ?? 0))];
    }
    case 'Slice': {
      // Opset ≥ 10: starts, ends, axes, steps as inputs; before: attributes.
      const fromInputs = node.input.length >= 3;
      const starts = fromInputs ? ints(ins[1]) : attrInts(node, 'starts');
      const ends = fromInputs ? ints(ins[2]) : attrInts(node, 'ends');
      const axes = fromInputs ? (node.input[3] ? ints(ins[3]) : undefined) : attrInts(node, 'axes');
      const steps = fromInputs && node.input[4] ? ints(ins[4]) : undefined;
      if (!starts || !ends || starts.length !== ends.length || (fromInputs && node.input[3] && !axes) || (node.input[4] && !steps)) return undefined;
      const begin = x.dims.map(() => 0);
      const outDims = [...x.dims];
      const step = x.dims.map(() => 1);
      const seen = new Set<number>();
      for (let i = 0; i < starts.length; i++) {
        const a = normAxis(axes ? (axes[i] ?? 0) : i, rank);
        const s = steps ? (steps[i] ?? 1) : 1;
        if (a === undefined || seen.has(a) || s === 0 || !Number.isFinite(s)) return undefined;
        seen.add(a);
        const d = x.dims[a] ?? 0;
        const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
        const s0 = starts[i] ?? 0;
        let st = s0 < 0 ? s0 + d : s0;
        const e0 = ends[i] ?? 0;
        let en = e0 < 0 ? e0 + d : e0;
        if (s > 0) {
          st = clamp(st, 0, d);
          en = clamp(en, 0, d);
        } else {
          st = clamp(st, 0, d - 1);
          en = clamp(en, -1, d - 1);
        }
        begin[a] = st;
        step[a] = s;
        outDims[a] = Math.max(0, Math.ceil((en - st) / s));
      }
      const inStrides = strides(x.dims);
      const base = begin.reduce((off, b, k) => off + b * (inStrides[k] ?? 0), 0);
      return [stridedView(x, outDims, outDims.some((d) => d === 0) ? 0 : base, step.map((s, k) => s * (inStrides[k] ?? 0)))];
    }
    case 'Concat': {
      const parts = ins.slice(0, node.input.length);
      if (parts.some((p) => !p || p.dataType !== x.dataType || p.dims.length !== rank)) return undefined;
      const a = normAxis(attrInt(node, 'axis', 0), rank);
      if (a === undefined) return undefined;
      const list = parts as FoldedValue[];
      if (list.some((p) => p.dims.some((d, k) => k !== a && d !== x.dims[k]))) return undefined;
      const dims = [...x.dims];
      dims[a] = list.reduce((s, p) => s + (p.dims[a] ?? 0), 0);
      const es = dtypeBits(x.dataType) / 8;
      const outer = count(x.dims.slice(0, a));
      const inner = count(x.dims.slice(a + 1)) * es;
      return [
        {
          dataType: x.dataType,
          dims,
          bytes: lazy(() => {
            const out = new Uint8Array(count(dims) * es);
            let at = 0;
            const bytes = list.map((p) => p.bytes());
            for (let o = 0; o < outer; o++) {
              list.forEach((p, j) => {
                const chunk = (p.dims[a] ?? 0) * inner;
                out.set((bytes[j] ?? new Uint8Array(0)).subarray(o * chunk, (o + 1) * chunk), at);
                at += chunk;
              });
            }
            return out;
          }),
        },
      ];
    }
    case 'Gather': {
      const indices = ins[1];
      const idx = ints(indices);
      const a = normAxis(attrInt(node, 'axis', 0), rank);
      if (!indices || !idx || a === undefined) return undefined;
      const d = x.dims[a] ?? 0;
      const fixed = idx.map((i) => (i < 0 ? i + d : i));
      if (fixed.some((i) => i < 0 || i >= d)) return undefined;
      const dims = [...x.dims.slice(0, a), ...indices.dims, ...x.dims.slice(a + 1)];
      const es = dtypeBits(x.dataType) / 8;
      const outer = count(x.dims.slice(0, a));
      const inner = count(x.dims.slice(a + 1)) * es;
      return [
        {
          dataType: x.dataType,
          dims,
          bytes: lazy(() => {
            const src = x.bytes();
            const out = new Uint8Array(count(dims) * es);
            let at = 0;
            for (let o = 0; o < outer; o++) {
              for (const i of fixed) {
                const from = (o * d + i) * inner;
                out.set(src.subarray(from, from + inner), at);
                at += inner;
              }
            }
            return out;
          }),
        },
      ];
    }
    case 'Split': {
      const a = normAxis(attrInt(node, 'axis', 0), rank);
      if (a === undefined) return undefined;
      const n = node.output.length;
      const d = x.dims[a] ?? 0;
      let sizes = node.input[1] ? ints(ins[1]) : attrInts(node, 'split');
      if (node.input[1] && !sizes) return undefined;
      if (!sizes) {
        // Equal parts; opset 18's num_outputs lets the last one be smaller.
        const part = Math.ceil(d / n);
        if (d % n !== 0 && getNumOutputs(node) === undefined) return undefined;
        sizes = Array.from({ length: n }, (_, i) => Math.max(0, Math.min(part, d - i * part)));
      }
      if (sizes.length !== n || sizes.some((s) => s < 0) || sizes.reduce((s, v) => s + v, 0) !== d) return undefined;
      const inStrides = strides(x.dims);
      let start = 0;
      return sizes.map((s) => {
        const dims = [...x.dims];
        dims[a] = s;
        const v = stridedView(x, dims, s === 0 || dims.some((k) => k === 0) ? 0 : start * (inStrides[a] ?? 0), inStrides);
        start += s;
        return v;
      });
    }
    case 'Cast':
      return castExact(x, attrInt(node, 'to', 0));
    default:
      return undefined;
  }
}

function getNumOutputs(node: NodeProto): number | undefined {
  return node.attribute.some((at) => at.name === 'num_outputs') ? attrInt(node, 'num_outputs', 0) : undefined;
}

const INT_RANGES: Partial<Record<number, [number, number, number]>> = {
  // [min, max, bytes]
  [DataType.INT8]: [-128, 127, 1],
  [DataType.UINT8]: [0, 255, 1],
  [DataType.INT16]: [-32768, 32767, 2],
  [DataType.UINT16]: [0, 65535, 2],
  [DataType.INT32]: [-(2 ** 31), 2 ** 31 - 1, 4],
  [DataType.UINT32]: [0, 2 ** 32 - 1, 4],
  [DataType.INT64]: [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 8],
};

/**
 * Casts that are exact: to the same type, integer → integer when every value fits. float16 →
 * float32 of a weight is left to widening (quantize/widen.ts): folded here it would store a
 * float16 model's weights as float32 whatever the mode does with them.
 */
function castExact(x: FoldedValue, to: number): FoldedValue[] | undefined {
  if (to === x.dataType) return [x];
  const target = INT_RANGES[to];
  const values = INT_RANGES[x.dataType] ? readInts(x) : undefined;
  if (!target || !values || values.some((v) => v < target[0] || v > target[1])) return undefined;
  return [{ dataType: to, dims: x.dims, bytes: lazy(() => writeInts(values, to, target[2])) }];
}

function readInts(x: FoldedValue): number[] {
  const b = x.bytes();
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const n = count(x.dims);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    switch (x.dataType) {
      case DataType.INT8: out.push(view.getInt8(i)); break;
      case DataType.UINT8: out.push(view.getUint8(i)); break;
      case DataType.INT16: out.push(view.getInt16(i * 2, true)); break;
      case DataType.UINT16: out.push(view.getUint16(i * 2, true)); break;
      case DataType.INT32: out.push(view.getInt32(i * 4, true)); break;
      case DataType.UINT32: out.push(view.getUint32(i * 4, true)); break;
      default: out.push(Number(view.getBigInt64(i * 8, true)));
    }
  }
  return out;
}

function writeInts(values: number[], to: number, size: number): Uint8Array {
  const out = new Uint8Array(values.length * size);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => {
    switch (to) {
      case DataType.INT8: view.setInt8(i, v); break;
      case DataType.UINT8: view.setUint8(i, v); break;
      case DataType.INT16: view.setInt16(i * 2, v, true); break;
      case DataType.UINT16: view.setUint16(i * 2, v, true); break;
      case DataType.INT32: view.setInt32(i * 4, v, true); break;
      case DataType.UINT32: view.setUint32(i * 4, v, true); break;
      default: view.setBigInt64(i * 8, BigInt(v), true);
    }
  });
  return out;
}

/** Whether values of this type are folded: whole-byte numeric elements (no strings, no packed 4-bit). */
const foldableType = (t: number): boolean => t !== DataType.STRING && t !== DataType.UNDEFINED && dtypeBits(t) >= 8 && dtypeBits(t) % 8 === 0;

/** Main-graph initializers a graph input of the same name can replace at run time (IR ≥ 4): not constants. */
export function overridableInitializers(proto: ModelProto): Set<string> {
  const graph = proto.graph;
  if (!graph || proto.irVersion < 4n) return new Set();
  const inputs = new Set(graph.input.map((i) => i.name));
  return new Set(graph.initializer.filter((t) => inputs.has(t.name)).map((t) => t.name));
}

/**
 * Which tensors of an indexed model are constants or fold into one. One forward pass over the
 * nodes in index order (a graph's nodes in order, each body after the graph that holds it), so an
 * outer-scope constant is known before a body reads it; bytes are computed only when asked for.
 */
export class ConstantFolder {
  private readonly values = new Map<string, FoldedValue>();
  private readonly foldedNodes = new Set<NodeProto>();

  constructor(
    readonly index: ModelIndex,
    source: TensorSource,
    overridable: ReadonlySet<string> = new Set(),
  ) {
    for (const { node } of index.nodes) {
      if ((node.domain !== '' && node.domain !== 'ai.onnx') || !FOLDABLE_OPS.has(node.opType) || node.output.length === 0) continue;
      const ins = node.input.map((name) => (name ? this.constantOrFolded(name, source, overridable) : undefined));
      if (node.input.some((name, i) => name && !ins[i]) || !ins[0]) continue;
      if (ins.some((v) => v && !foldableType(v.dataType))) continue;
      let outs: FoldedValue[] | undefined;
      try {
        outs = evaluate(node, ins);
      } catch {
        outs = undefined;
      }
      if (!outs || outs.length !== node.output.length || node.output.some((o) => !o)) continue;
      const inBytes = ins.reduce((s, v) => s + (v ? byteSize(v) : 0), 0);
      if (outs.reduce((s, v) => s + byteSize(v), 0) > inBytes + FOLD_SLACK) continue;
      node.output.forEach((o, i) => {
        const v = outs[i];
        if (v) this.values.set(o, v);
      });
      this.foldedNodes.add(node);
    }
  }

  private constantOrFolded(name: string, source: TensorSource, overridable: ReadonlySet<string>): FoldedValue | undefined {
    const folded = this.values.get(name);
    if (folded) return folded;
    const c = this.index.constant(name);
    if (!c || (c.kind === 'initializer' && c.scope.depth === 0 && overridable.has(name))) return undefined;
    let dims: number[];
    try {
      dims = tensorShape(c.tensor);
    } catch {
      return undefined;
    }
    const v: FoldedValue = { dataType: c.tensor.dataType, dims, bytes: lazy(() => tensorBytes(c.tensor, source)) };
    this.values.set(name, v);
    return v;
  }

  /** Whether the node computes constants only (it becomes a Constant when folded). */
  folds(node: NodeProto): boolean {
    return this.foldedNodes.has(node);
  }

  get foldedCount(): number {
    return this.foldedNodes.size;
  }

  /** The value a folded node's output takes (undefined for tensors no fold computes). */
  folded(name: string): FoldedValue | undefined {
    const p = this.index.producer(name)?.node;
    return p && this.foldedNodes.has(p) ? this.values.get(name) : undefined;
  }

  /** A folded output's type and shape as a tensor without data (for sizes; its values are not read). */
  shapeOnly(name: string): TensorProto | undefined {
    const v = this.folded(name);
    return v ? create(TensorProtoSchema, { name, dataType: v.dataType, dims: v.dims.map((d) => BigInt(d)) }) : undefined;
  }

  /** A folded output as a tensor (bytes computed now). */
  tensor(name: string): TensorProto | undefined {
    const v = this.folded(name);
    return v ? makeTensor(name, v.dataType, v.dims, v.bytes()) : undefined;
  }
}

export interface FoldResult {
  proto: ModelProto;
  /** Nodes replaced by Constant nodes, by op type. */
  folded: Map<string, number>;
  total: number;
}

/**
 * The model with every foldable node replaced by a Constant node holding its value (same output
 * names, same node name and key), and the constants only folded nodes read dropped. Folds that
 * give the same bytes (one weight sliced alike in two If branches) become one Constant, placed in
 * the innermost graph enclosing every reader (they read it from the outer scope), so a weight
 * shared before the fold stays shared. Graphs and nodes that change are copied; everything else
 * is shared with `proto`, which is not modified.
 */
export function foldConstants(proto: ModelProto, source: TensorSource): FoldResult {
  const index = indexModel(proto);
  const folder = new ConstantFolder(index, source, overridableInitializers(proto));
  const folded = new Map<string, number>();
  if (folder.foldedCount === 0) return { proto, folded, total: 0 };

  const orphans = new Set<string>();
  const foldedOutputs: string[] = [];
  for (const { node } of index.nodes) {
    if (!folder.folds(node)) continue;
    folded.set(node.opType, (folded.get(node.opType) ?? 0) + 1);
    for (const i of node.input) if (i) orphans.add(i);
    foldedOutputs.push(...node.output);
  }
  // What still reads each name after the fold (any graph; outputs of every graph count).
  const graphOutputs = new Set<string>();
  for (const { graph } of index.scopes) for (const o of graph.output) graphOutputs.add(o.name);
  const readers = (name: string): IndexedNode[] => index.consumers(name).filter((e) => e.node.input.includes(name) && !folder.folds(e.node));
  const read = new Set(graphOutputs);
  for (const { node } of index.nodes) if (!folder.folds(node)) for (const i of node.input) if (i) read.add(i);
  // Constants (original, or folded values) that only folded nodes read.
  const dead = new Set([...orphans].filter((n) => !read.has(n) && (index.constant(n) || folder.folded(n))));

  // Same bytes, one Constant: grouped by content; a graph output keeps its own.
  const groups = new Map<string, string[]>();
  for (const o of foldedOutputs) {
    if (!read.has(o) || graphOutputs.has(o)) continue;
    const v = folder.folded(o);
    if (!v) continue;
    const key = `${v.dataType}|${v.dims.join(',')}|${createHash('sha256').update(v.bytes()).digest('hex')}`;
    groups.set(key, [...(groups.get(key) ?? []), o]);
  }
  const hoisted = new Set<string>();
  const prepend = new Map<GraphScope, string[]>();
  const rename = new Map<NodeProto, Map<string, string>>();
  for (const members of groups.values()) {
    if (members.length < 2) continue;
    const [canonical] = members as [string, ...string[]];
    const users = members.flatMap((m) => readers(m).map((e) => ({ e, m })));
    let at: GraphScope | undefined = users[0]?.e.scope;
    for (const { e } of users) at = at && commonScope(at, e.scope);
    if (!at) continue;
    for (const m of members) hoisted.add(m);
    prepend.set(at, [...(prepend.get(at) ?? []), canonical]);
    for (const { e, m } of users) {
      if (m === canonical) continue;
      let map = rename.get(e.node);
      if (!map) rename.set(e.node, (map = new Map()));
      map.set(m, canonical);
    }
  }

  const constantNode = (o: string, name: string, from: NodeProto): NodeProto => carryKey(from, makeNode('Constant', [], [o], { value: foldedTensor(folder, o) }, { name }));
  // Bodies first (index scopes are in pre-order): an owner node is rebuilt once its bodies are.
  const newGraph = new Map<GraphProto, GraphProto>();
  for (const scope of [...index.scopes].reverse()) {
    const g = scope.graph;
    const nodes: NodeProto[] = [];
    for (const c of prepend.get(scope) ?? []) {
      const from = index.producer(c)?.node;
      if (!from) continue;
      nodes.push(constantNode(c, from.output[0] === c ? from.name : '', from));
    }
    let changed = nodes.length > 0;
    for (const node of g.node) {
      if (folder.folds(node)) {
        changed = true;
        node.output.forEach((o, k) => {
          if (!dead.has(o) && !hoisted.has(o)) nodes.push(constantNode(o, k === 0 ? node.name : '', node));
        });
        continue;
      }
      if (node.opType === 'Constant' && node.output[0] && dead.has(node.output[0]) && index.constant(node.output[0])?.scope === scope) {
        changed = true;
        continue;
      }
      const names = rename.get(node);
      const bodiesChanged = node.attribute.some((a) => (a.g && newGraph.has(a.g)) || a.graphs.some((x) => newGraph.has(x)));
      if (names || bodiesChanged) {
        changed = true;
        const attribute = !bodiesChanged
          ? node.attribute
          : node.attribute.map((a) =>
              (a.g && newGraph.has(a.g)) || a.graphs.some((x) => newGraph.has(x))
                ? withFields(a, { g: a.g ? (newGraph.get(a.g) ?? a.g) : undefined, graphs: a.graphs.map((x) => newGraph.get(x) ?? x) })
                : a,
            );
        const input = names ? node.input.map((i) => names.get(i) ?? i) : node.input;
        nodes.push(carryKey(node, withFields(node, { input, attribute })));
        continue;
      }
      nodes.push(node);
    }
    const initializer = g.initializer.filter((t) => !(dead.has(t.name) && index.constant(t.name)?.scope === scope));
    if (initializer.length !== g.initializer.length) changed = true;
    if (!changed) continue;
    const gone = new Set(g.initializer.filter((t) => !initializer.includes(t)).map((t) => t.name));
    // IR < 4 lists initializers as main-graph inputs too: those declarations go with them.
    const input = scope.depth === 0 ? g.input.filter((i) => !gone.has(i.name)) : g.input;
    newGraph.set(g, create(GraphProtoSchema, { ...g, node: nodes, initializer, input }));
  }
  const main = proto.graph ? newGraph.get(proto.graph) : undefined;
  const total = [...folded.values()].reduce((a, b) => a + b, 0);
  return { proto: main ? create(ModelProtoSchema, { ...proto, graph: main }) : proto, folded, total };
}

function foldedTensor(folder: ConstantFolder, name: string): TensorProto {
  const t = folder.tensor(name);
  if (!t) throw new Error(`constant fold: no value for '${name}'`);
  return t;
}

/** The innermost graph enclosing both (each scope is within itself). */
function commonScope(a: GraphScope, b: GraphScope): GraphScope | undefined {
  const chain = new Set<GraphScope>();
  for (let s: GraphScope | undefined = a; s; s = s.parent) chain.add(s);
  for (let s: GraphScope | undefined = b; s; s = s.parent) if (chain.has(s)) return s;
  return undefined;
}

/** `Slice×18, Concat×9` for a result line. */
export function foldedText(folded: ReadonlyMap<string, number>): string {
  return [...folded].sort((a, b) => b[1] - a[1]).map(([op, n]) => `${op}×${n}`).join(', ');
}
