/**
 * Weight-only block quantization: MatMul / Gemm with a constant [K, N] float weight →
 * com.microsoft.MatMulNBits, embedding Gathers → com.microsoft.GatherBlockQuantized (4 or 8 bits, blocks along K). Layout and arithmetic follow ORT's
 * packer (reference §1.9, §6.5): B uint8 [N, k_blocks, block_size·bits/8] (column-major blocks,
 * K zero-padded, element 2i in the low nibble), scales float32 [N, k_blocks], zero points packed
 * (asymmetric) or omitted (symmetric: implicit 2^(bits−1)); MLAS rounds half away from zero
 * and multiplies by the reciprocal of the scale.
 */
import { attrFloat, attrInt, makeNode } from '../onnx/builder';
import { DataType, dtypeName } from '../onnx/dtype';
import type { OnnxModel } from '../onnx/model';
import type { ExternalDataWriter } from '../onnx/save';
import type { NodeProto, TensorProto } from '../onnx/schema';
import { bytesOf, floatTensor, makeTensor, tensorShape } from '../onnx/tensor';
import type { JobContext } from '../progress';
import { dropUnreadWeights, InitializerSink, NodePacer, weightValues } from './emit';
import { ensureOpset, GraphIndex, pruneValueInfo, removeUnusedInitializers } from './graph';
import { nodeName, SkipList, type EngineResult, type NodeSelection, type ResolvedOptions } from './selection';

const MS = 'com.microsoft';

export interface BlockQuantized {
  /** uint8 [N, kBlocks, blockSize·bits/8]. */
  data: Uint8Array;
  /** float32 [N, kBlocks]. */
  scales: Float32Array;
  /** Packed uint8 [N, ceil(kBlocks·bits/8)] when asymmetric. */
  zeroPoints: Uint8Array | undefined;
  kBlocks: number;
}

/** C roundf: half away from zero. */
function roundAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/**
 * Block-quantize a row-major [K, N] weight for MatMulNBits. Each output column n gets
 * ceil(K / blockSize) blocks along K.
 */
export function quantizeBlocks(w: ArrayLike<number>, K: number, N: number, bits: 4 | 8, blockSize: number, symmetric: boolean): BlockQuantized {
  const kBlocks = Math.ceil(K / blockSize);
  const blob = (blockSize * bits) / 8;
  const qmax = (1 << bits) - 1;
  const mid = 1 << (bits - 1);
  const data = new Uint8Array(N * kBlocks * blob);
  const scales = new Float32Array(N * kBlocks);
  const zpBytesPerRow = Math.ceil((kBlocks * bits) / 8);
  const zeroPoints = symmetric ? undefined : new Uint8Array(N * zpBytesPerRow);
  // Block row by block row, reading the [K, N] weight sequentially (column-wise reads of a big
  // row-major matrix would miss the cache on every element).
  const lo = new Float64Array(N);
  const hi = new Float64Array(N);
  const ext = new Float64Array(N); // symmetric: signed value of largest magnitude
  const zps = new Int32Array(N);
  const invs = new Float32Array(N);
  for (let b = 0; b < kBlocks; b++) {
    const k0 = b * blockSize;
    const len = Math.min(blockSize, K - k0);
    lo.fill(0);
    hi.fill(0);
    ext.fill(0);
    for (let i = 0; i < len; i++) {
      const row = (k0 + i) * N;
      for (let n = 0; n < N; n++) {
        const v = w[row + n]!;
        if (symmetric) {
          if (Math.abs(v) > Math.abs(ext[n]!)) ext[n] = v;
        } else {
          if (v < lo[n]!) lo[n] = v;
          if (v > hi[n]!) hi[n] = v;
        }
      }
    }
    for (let n = 0; n < N; n++) {
      let scale: number;
      let zp: number;
      if (symmetric) {
        // The signed value of largest magnitude maps exactly to -2^(bits-1).
        scale = Math.fround(ext[n]! / -mid);
        zp = mid;
      } else {
        scale = Math.fround((hi[n]! - lo[n]!) / qmax);
        zp = scale !== 0 ? Math.min(qmax, Math.max(0, roundAway(Math.fround(-lo[n]! / scale)))) : 0;
      }
      scales[n * kBlocks + b] = scale;
      zps[n] = zp;
      invs[n] = scale !== 0 ? Math.fround(1 / scale) : 0;
      if (zeroPoints) {
        if (bits === 8) zeroPoints[n * zpBytesPerRow + b] = zp;
        else zeroPoints[n * zpBytesPerRow + (b >> 1)]! |= b & 1 ? zp << 4 : zp;
      }
    }
    for (let i = 0; i < blockSize; i++) {
      const row = (k0 + i) * N;
      const pad = i >= len; // K padding: value 0
      const byteInBlob = bits === 8 ? i : i >> 1;
      const shift = bits === 4 && i & 1 ? 4 : 0;
      for (let n = 0; n < N; n++) {
        const v = pad ? 0 : w[row + n]!;
        const q = Math.min(qmax, Math.max(0, roundAway(Math.fround(Math.fround(v * invs[n]!) + zps[n]!))));
        data[(n * kBlocks + b) * blob + byteInBlob]! |= q << shift;
      }
    }
  }
  return { data, scales, zeroPoints, kBlocks };
}

/** Float values of a MatMulNBits weight (for tests and error measurement): [K, N] row-major. */
export function dequantizeBlocks(q: BlockQuantized, K: number, N: number, bits: 4 | 8, blockSize: number): Float32Array {
  const out = new Float32Array(K * N);
  const blob = (blockSize * bits) / 8;
  const zpRow = Math.ceil((q.kBlocks * bits) / 8);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < q.kBlocks; b++) {
      const scale = q.scales[n * q.kBlocks + b]!;
      let zp = 1 << (bits - 1);
      if (q.zeroPoints) {
        const byte = q.zeroPoints[n * zpRow + (bits === 8 ? b : b >> 1)]!;
        zp = bits === 8 ? byte : b & 1 ? byte >> 4 : byte & 15;
      }
      for (let i = 0; i < blockSize && b * blockSize + i < K; i++) {
        const byte = q.data[(n * q.kBlocks + b) * blob + (bits === 8 ? i : i >> 1)]!;
        const v = bits === 8 ? byte : i & 1 ? byte >> 4 : byte & 15;
        out[(b * blockSize + i) * N + n] = (v - zp) * scale;
      }
    }
  }
  return out;
}

export interface WeightOnlyExtra {
  /** Symmetric blocks (no zero points). Default false: asymmetric, as ORT's tool. */
  symmetric?: boolean;
  accuracyLevel?: number;
}

export async function quantizeWeightOnly(
  model: OnnxModel,
  options: ResolvedOptions,
  selection: NodeSelection,
  ctx: JobContext = {},
  writer?: ExternalDataWriter,
  extra: WeightOnlyExtra = {},
): Promise<EngineResult> {
  const proto = model.proto;
  const graph = proto.graph!;
  const index = new GraphIndex(graph);
  const sink = new InitializerSink(graph, writer);
  const skips = new SkipList();
  const rewritten = new Set<string>();
  const blockSize = options.blockSize;
  const symmetric = extra.symmetric ?? false;
  const modeOps = new Set(['MatMul', 'Gemm', 'Gather']);
  const out: NodeProto[] = [];
  let quantized = 0;

  const init = (name: string | undefined): TensorProto | undefined => (name ? index.initializers.get(name) : undefined);
  /** The node's per-node override, else the global --weight-bits. */
  const bitsFor = (node: NodeProto): 4 | 8 => selection.overridesFor(node).bits ?? options.weightBits;

  const rewrite = (node: NodeProto): { nodes: NodeProto[] } | { skip: string } => {
    const isGemm = node.opType === 'Gemm';
    const [a, b, c] = node.input;
    if (!a || !b) return { skip: 'missing input' };
    if (init(a)) return { skip: 'input A is constant (fold it instead)' };
    const wt = init(b);
    if (!wt) return { skip: 'B is not a constant weight (activation × activation)' };
    if (wt.dataType !== DataType.FLOAT) return { skip: `B is ${dtypeName(wt.dataType)}, only float32 weights are quantized` };
    if (wt.dims.length !== 2) return { skip: `B has rank ${wt.dims.length}, MatMulNBits needs a 2-D weight` };
    if (isGemm && attrInt(node, 'transA', 0) !== 0) return { skip: 'transA=1 is not supported' };
    const transB = isGemm && attrInt(node, 'transB', 0) !== 0;
    const alpha = isGemm ? attrFloat(node, 'alpha', 1) : 1;
    const beta = isGemm ? attrFloat(node, 'beta', 1) : 1;
    const ct = init(c);
    if (isGemm && c && !ct && beta !== 1) return { skip: 'non-constant C with beta ≠ 1' };
    const [d0, d1] = tensorShape(wt) as [number, number];
    const K = transB ? d1 : d0;
    const N = transB ? d0 : d1;
    if (K < 16) return { skip: `K = ${K} is too small for block quantization` };
    const bits = bitsFor(node);
    const src = weightValues(wt, model);
    let w: Float32Array = src;
    if (transB || alpha !== 1) {
      w = new Float32Array(K * N);
      for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) w[k * N + n] = (transB ? src[n * K + k]! : src[k * N + n]!) * alpha;
    }
    const q = quantizeBlocks(w, K, N, bits, blockSize, symmetric);
    const qName = index.unique(`${b}_Q${bits}`);
    const sName = index.unique(`${b}_scales`);
    sink.add(makeTensor(qName, DataType.UINT8, [N, q.kBlocks, (blockSize * bits) / 8], q.data));
    sink.add(floatTensor(sName, [N, q.kBlocks], q.scales));
    const inputs = [a, qName, sName];
    if (q.zeroPoints) {
      const zName = index.unique(`${b}_zero_points`);
      sink.add(makeTensor(zName, DataType.UINT8, [N, Math.ceil((q.kBlocks * bits) / 8)], q.zeroPoints));
      inputs.push(zName);
    }
    rewritten.add(b);
    const y = node.output[0]!;
    const name = nodeName(node);
    const mmOut = isGemm && c ? index.unique(`${y}_matmul`) : y;
    const attrs = { K, N, bits, block_size: blockSize, accuracy_level: extra.accuracyLevel ?? 0 };
    const list = [makeNode('MatMulNBits', inputs, [mmOut], attrs, { name: index.unique(`${name}_Q${bits}`), domain: MS })];
    if (isGemm && c) {
      let bias = c;
      if (ct && beta !== 1) {
        bias = index.unique(`${c}_beta`);
        sink.add(floatTensor(bias, tensorShape(ct), Float32Array.from(weightValues(ct, model), (v) => v * beta)));
        rewritten.add(c);
      }
      list.push(makeNode('Add', [mmOut, bias], [y], {}, { name: index.unique(`${name}_bias_add`) }));
    }
    return { nodes: list };
  };

  /**
   * Embedding tables → com.microsoft.GatherBlockQuantized (uint8 data, 4/8 bits, blocks along the
   * row, gather_axis 0, quantize_axis last): each row is quantized like a MatMulNBits column.
   */
  const rewriteGather = (node: NodeProto): { nodes: NodeProto[] } | { skip: string } => {
    const [data, indices] = node.input;
    const table = init(data);
    if (!table || !indices) return { skip: 'data is not a constant table' };
    if (table.dataType !== DataType.FLOAT) return { skip: `table is ${dtypeName(table.dataType)}` };
    if (table.dims.length !== 2) return { skip: `table has rank ${table.dims.length}, expected 2` };
    if (attrInt(node, 'axis', 0) !== 0) return { skip: 'Gather axis ≠ 0' };
    if (init(indices)) return { skip: 'constant indices (fold it instead)' };
    const [V, D] = tensorShape(table) as [number, number];
    const bits = bitsFor(node);
    if (D % blockSize !== 0) return { skip: `row length ${D} is not a multiple of the block size ${blockSize}` };
    const values = weightValues(table, model);
    // quantizeBlocks blocks along K of a [K, N] matrix; an embedding blocks along its rows: transpose.
    const t = new Float32Array(V * D);
    for (let v = 0; v < V; v++) for (let d = 0; d < D; d++) t[d * V + v] = values[v * D + d]!;
    const q = quantizeBlocks(t, D, V, bits, blockSize, symmetric);
    const qName = index.unique(`${data}_Q${bits}`);
    const sName = index.unique(`${data}_scales`);
    sink.add(makeTensor(qName, DataType.UINT8, [V, (D * bits) / 8], q.data));
    sink.add(floatTensor(sName, [V, q.kBlocks], q.scales));
    const inputs = [qName, indices, sName];
    if (q.zeroPoints) {
      const zName = index.unique(`${data}_zero_points`);
      sink.add(makeTensor(zName, DataType.UINT8, [V, Math.ceil((q.kBlocks * bits) / 8)], q.zeroPoints));
      inputs.push(zName);
    }
    rewritten.add(data!);
    const attrs = { gather_axis: 0, quantize_axis: 1, block_size: blockSize, bits };
    return { nodes: [makeNode('GatherBlockQuantized', inputs, [node.output[0]!], attrs, { name: index.unique(`${nodeName(node)}_Q${bits}`), domain: MS })] };
  };

  const nodes = graph.node;
  const pacer = new NodePacer(ctx, nodes.length);
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i]!;
    await pacer.step(i);
    if ((node.domain !== '' && node.domain !== 'ai.onnx') || !modeOps.has(node.opType)) {
      out.push(node);
      continue;
    }
    if (node.opType === 'Gather' && !init(node.input[0])) {
      out.push(node); // shape/index Gathers are not candidates at all
      continue;
    }
    const verdict = selection.check(node, modeOps);
    const r = !verdict.selected ? { skip: verdict.reason } : node.opType === 'Gather' ? rewriteGather(node) : rewrite(node);
    if ('skip' in r) {
      skips.add(node, r.skip);
      out.push(node);
    } else {
      out.push(...r.nodes);
      quantized++;
    }
  }
  graph.node = out;
  dropUnreadWeights(graph, rewritten);
  removeUnusedInitializers(graph);
  pruneValueInfo(graph);
  if (quantized > 0) ensureOpset(proto, MS, 1);
  return { proto, quantizedNodes: quantized, skippedNodes: skips.toArray(), warnings: [] };
}


