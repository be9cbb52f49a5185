/**
 * Dynamic quantization (weights int8 offline, activations uint8 at run time), emitting exactly
 * the patterns ONNX Runtime's CPU provider fuses (reference §2b, §6.7):
 *   MatMul(x, W)  → DynamicQuantizeLinear(x) + MatMulInteger + Cast(FLOAT) + Mul(x_scale·W_scale)
 *                   (ORT fuses to MatMulIntegerToFloat / DynamicQuantizeMatMul, bias Add included)
 *   Gemm          → the same after folding transB/alpha into W, plus Add(beta·C)
 *   Gather(table) → uint8 table + Gather + DequantizeLinear (embeddings shrink 4×)
 *   LSTM          → com.microsoft.DynamicQuantizeLSTM (W, R int8, transposed to [dirs, in, 4H])
 *   Conv          → ConvInteger + Cast + Mul (+ Add bias) only with quantizeConv
 * One DynamicQuantizeLinear is shared by every consumer of the same activation.
 */
import { attrFloat, attrInt, makeNode } from '../onnx/builder';
import { DataType, dtypeName } from '../onnx/dtype';
import type { OnnxModel } from '../onnx/model';
import type { ExternalDataWriter } from '../onnx/save';
import type { NodeProto, TensorProto } from '../onnx/schema';
import { bytesOf, floatTensor, int8Tensor, makeTensor, tensorShape, uint8Tensor } from '../onnx/tensor';
import type { JobContext } from '../progress';
import { dropUnreadWeights, InitializerSink, NodePacer, weightValues } from './emit';
import { ensureOpset, GraphIndex, pruneValueInfo, removeUnusedInitializers } from './graph';
import { computeQuantParams, quantRange } from './math';
import { nodeName, SkipList, type EngineResult, type NodeSelection, type ResolvedOptions } from './selection';
import { quantizeInt8Symmetric, roundHalfEvenFast } from './weights';

const MS = 'com.microsoft';

interface ActivationQ {
  q: string;
  scale: string;
  zp: string;
}

interface WeightQ {
  q: string;
  scale: string;
  zp: string;
}

type Rewrite = { nodes: NodeProto[] } | { skip: string };

export async function quantizeDynamic(
  model: OnnxModel,
  options: ResolvedOptions,
  selection: NodeSelection,
  ctx: JobContext = {},
  writer?: ExternalDataWriter,
): Promise<EngineResult> {
  const proto = model.proto;
  const graph = proto.graph!;
  const index = new GraphIndex(graph);
  const sink = new InitializerSink(graph, writer);
  const skips = new SkipList();
  const warnings: string[] = [];
  const activations = new Map<string, ActivationQ>();
  const weightCache = new Map<string, WeightQ>();
  const rewritten = new Set<string>(); // float initializers whose consumers were rewritten
  let usesContrib = false;
  let quantized = 0;
  let clippedWeights = 0;

  const modeOps = new Set(['MatMul', 'Gemm', 'Gather', 'LSTM', 'Conv', 'Attention']);
  const convWanted = options.quantizeConv || !!selection.opTypes?.has('Conv');
  const out: NodeProto[] = [];
  const nodes = graph.node;

  const init = (name: string | undefined): TensorProto | undefined => (name ? index.initializers.get(name) : undefined);
  /** The node's per-node override, else the global option. */
  const perChannelFor = (node: NodeProto): boolean => selection.overridesFor(node).perChannel ?? options.perChannel;

  /** One shared DynamicQuantizeLinear per activation tensor. */
  const quantizeActivation = (x: string): ActivationQ => {
    let a = activations.get(x);
    if (!a) {
      const base = x.replace(/[^A-Za-z0-9_./:-]/g, '_');
      a = { q: index.unique(`${base}_quantized`), scale: index.unique(`${base}_scale`), zp: index.unique(`${base}_zero_point`) };
      out.push(makeNode('DynamicQuantizeLinear', [x], [a.q, a.scale, a.zp], {}, { name: index.unique(`${base}_QuantizeLinear`) }));
      activations.set(x, a);
    }
    return a;
  };

  /** int8 symmetric weights from float values already laid out as the integer op wants them. */
  const emitWeight = (baseName: string, values: Float32Array, shape: number[], axis: number | undefined, scaleDims: number[]): WeightQ => {
    const w = quantizeInt8Symmetric(values, shape, axis, options.reduceRange);
    clippedWeights += w.clipped;
    const q = index.unique(`${baseName}_quantized`);
    const scale = index.unique(`${baseName}_scale`);
    const zp = index.unique(`${baseName}_zero_point`);
    sink.add(makeTensor(q, DataType.INT8, shape, bytesOf(w.data)));
    sink.add(floatTensor(scale, scaleDims, w.scales));
    sink.add(int8Tensor(zp, scaleDims, new Int8Array(w.scales.length)));
    return { q, scale, zp };
  };

  /** The integer MatMul chain writing `y` (float), for a [K, N] weight already quantized. */
  const matmulChain = (node: NodeProto, a: string, w: WeightQ, y: string): NodeProto[] => {
    const name = nodeName(node);
    const aq = quantizeActivation(a);
    const mm = index.unique(`${y}_output_quantized`);
    const cast = index.unique(`${y}_output_cast`);
    const scales = index.unique(`${y}_scales_product`);
    return [
      makeNode('MatMulInteger', [aq.q, w.q, aq.zp, w.zp], [mm], {}, { name: index.unique(`${name}_quant`) }),
      makeNode('Cast', [mm], [cast], { to: DataType.FLOAT }, { name: index.unique(`${name}_quant_cast`) }),
      makeNode('Mul', [aq.scale, w.scale], [scales], {}, { name: index.unique(`${name}_quant_scales_mul`) }),
      makeNode('Mul', [cast, scales], [y], {}, { name: index.unique(`${name}_quant_output_scale_mul`) }),
    ];
  };

  const floatWeight = (t: TensorProto | undefined, what: string, rank?: number): string | undefined => {
    if (!t) return `${what} is not a constant weight (activation × activation)`;
    if (t.dataType !== DataType.FLOAT) return `${what} is ${dtypeName(t.dataType)}, only float32 weights are quantized`;
    if (rank !== undefined && t.dims.length !== rank) return `${what} has rank ${t.dims.length}, expected ${rank}`;
    return undefined;
  };

  const rewriteMatMul = (node: NodeProto): Rewrite => {
    const [a, b] = node.input;
    if (!a || !b) return { skip: 'missing input' };
    if (init(a)) return { skip: 'input A is constant (fold it instead)' };
    const wt = init(b);
    const bad = floatWeight(wt, 'B', 2);
    if (bad) return { skip: bad };
    const shape = tensorShape(wt!);
    const perChannel = perChannelFor(node);
    const key = `${b}|matmul|${perChannel}`;
    let w = weightCache.get(key);
    if (!w) {
      w = emitWeight(b, weightValues(wt!, model), shape, perChannel ? 1 : undefined, perChannel ? [shape[1]!] : []);
      weightCache.set(key, w);
    }
    rewritten.add(b);
    return { nodes: matmulChain(node, a, w, node.output[0]!) };
  };

  const rewriteGemm = (node: NodeProto): Rewrite => {
    const [a, b, c] = node.input;
    if (!a || !b) return { skip: 'missing input' };
    if (attrInt(node, 'transA', 0) !== 0) return { skip: 'transA=1 is not supported' };
    if (init(a)) return { skip: 'input A is constant (fold it instead)' };
    const wt = init(b);
    const bad = floatWeight(wt, 'B', 2);
    if (bad) return { skip: bad };
    const alpha = attrFloat(node, 'alpha', 1);
    const beta = attrFloat(node, 'beta', 1);
    const ct = init(c);
    if (c && !ct && beta !== 1) return { skip: 'non-constant C with beta ≠ 1' };
    if (ct && ct.dataType !== DataType.FLOAT) return { skip: `C is ${dtypeName(ct.dataType)}` };
    const transB = attrInt(node, 'transB', 0) !== 0;
    const [d0, d1] = tensorShape(wt!) as [number, number];
    const K = transB ? d1 : d0;
    const N = transB ? d0 : d1;
    const perChannel = perChannelFor(node);
    const key = `${b}|gemm|${transB}|${alpha}|${perChannel}`;
    let w = weightCache.get(key);
    if (!w) {
      const src = weightValues(wt!, model);
      let values = src;
      if (transB || alpha !== 1) {
        values = new Float32Array(K * N);
        for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) values[k * N + n] = (transB ? src[n * K + k]! : src[k * N + n]!) * alpha;
      }
      w = emitWeight(b, values, [K, N], perChannel ? 1 : undefined, perChannel ? [N] : []);
      weightCache.set(key, w);
    }
    rewritten.add(b);
    const y = node.output[0]!;
    if (!c) return { nodes: matmulChain(node, a, w, y) };
    let bias = c;
    if (ct && beta !== 1) {
      const vals = weightValues(ct, model);
      bias = index.unique(`${c}_beta`);
      sink.add(floatTensor(bias, tensorShape(ct), Float32Array.from(vals, (v) => v * beta)));
      rewritten.add(c);
    }
    const mmOut = index.unique(`${y}_matmul`);
    return {
      nodes: [...matmulChain(node, a, w, mmOut), makeNode('Add', [mmOut, bias], [y], {}, { name: index.unique(`${nodeName(node)}_bias_add`) })],
    };
  };

  const rewriteGather = (node: NodeProto): Rewrite => {
    const [data, indices] = node.input;
    const table = init(data);
    if (!table) return { skip: 'data is not a constant table' };
    if (table.dataType !== DataType.FLOAT) return { skip: `table is ${dtypeName(table.dataType)}` };
    if (table.dims.length < 2) return { skip: 'table has rank < 2 (not an embedding)' };
    if (!indices || init(indices)) return { skip: 'constant indices (fold it instead)' };
    // uint8 asymmetric per tensor, as ORT's own tool does: the Gather runs on bytes and one
    // DequantizeLinear restores float on the gathered rows only.
    const values = weightValues(table, model);
    let min = 0;
    let max = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const p = computeQuantParams(min, max, quantRange('uint8'), false);
    const q = new Uint8Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const v = roundHalfEvenFast(Math.fround(values[i]! / p.scale)) + p.zeroPoint;
      q[i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
    const qName = index.unique(`${data}_quantized`);
    const sName = index.unique(`${data}_scale`);
    const zName = index.unique(`${data}_zero_point`);
    sink.add(makeTensor(qName, DataType.UINT8, tensorShape(table), q));
    sink.add(floatTensor(sName, [], [p.scale]));
    sink.add(uint8Tensor(zName, [], [p.zeroPoint]));
    rewritten.add(data!);
    const y = node.output[0]!;
    const gq = index.unique(`${y}_quantized`);
    const name = nodeName(node);
    const gather = makeNode('Gather', [qName, indices], [gq], {}, { name: index.unique(`${name}_quant`) });
    gather.attribute = node.attribute;
    return { nodes: [gather, makeNode('DequantizeLinear', [gq, sName, zName], [y], {}, { name: index.unique(`${name}_DequantizeLinear`) })] };
  };

  const rewriteLSTM = (node: NodeProto): Rewrite => {
    const [x, W, R] = node.input;
    if (!x || !W || !R) return { skip: 'missing input' };
    const wt = init(W);
    const rt = init(R);
    const bad = floatWeight(wt, 'W', 3) ?? floatWeight(rt, 'R', 3);
    if (bad) return { skip: bad };
    const [dirs, gates, inSize] = tensorShape(wt!) as [number, number, number];
    const hidden = tensorShape(rt!)[2]!;
    const perChannel = perChannelFor(node);
    const scaleDims = perChannel ? [dirs, gates] : [dirs];
    // Quantize per gate row (per channel) or per direction, then store transposed [dirs, in, 4H].
    const quantTransposed = (t: TensorProto, cols: number): WeightQ => {
      const values = weightValues(t, model);
      const w = perChannel
        ? quantizeInt8Symmetric(values, [dirs * gates, cols], 0, options.reduceRange)
        : quantizeInt8Symmetric(values, [dirs, gates * cols], 0, options.reduceRange);
      clippedWeights += w.clipped;
      const tr = new Int8Array(w.data.length);
      for (let d = 0; d < dirs; d++) {
        const base = d * gates * cols;
        for (let g = 0; g < gates; g++) for (let c = 0; c < cols; c++) tr[base + c * gates + g] = w.data[base + g * cols + c]!;
      }
      const q = index.unique(`${t.name}_quantized`);
      const scale = index.unique(`${t.name}_scale`);
      const zp = index.unique(`${t.name}_zero_point`);
      sink.add(makeTensor(q, DataType.INT8, [dirs, cols, gates], bytesOf(tr)));
      sink.add(floatTensor(scale, scaleDims, w.scales));
      sink.add(int8Tensor(zp, scaleDims, new Int8Array(w.scales.length)));
      return { q, scale, zp };
    };
    const wq = quantTransposed(wt!, inSize);
    const rq = quantTransposed(rt!, hidden);
    rewritten.add(W);
    rewritten.add(R);
    const opt = (i: number) => node.input[i] ?? '';
    const inputs = [x, wq.q, rq.q, opt(3), opt(4), opt(5), opt(6), opt(7), wq.scale, wq.zp, rq.scale, rq.zp];
    const q = makeNode('DynamicQuantizeLSTM', inputs, [...node.output], {}, { name: index.unique(`${nodeName(node)}_quant`), domain: MS });
    q.attribute = node.attribute;
    usesContrib = true;
    return { nodes: [q] };
  };

  const rewriteConv = (node: NodeProto): Rewrite => {
    if (!convWanted) return { skip: 'Conv stays float in dynamic mode (ConvInteger is rarely faster; use static mode, or --op-types Conv)' };
    const [x, W, B] = node.input;
    if (!x || !W) return { skip: 'missing input' };
    if (init(x)) return { skip: 'input is constant' };
    const wt = init(W);
    const bad = floatWeight(wt, 'W');
    if (bad) return { skip: bad };
    const shape = tensorShape(wt!);
    const bt = init(B);
    if (B && !bt) return { skip: 'bias is not constant' };
    // ConvInteger takes one weight zero point: per-tensor weights (a perChannel override cannot apply).
    if (selection.overridesFor(node).perChannel) warnings.push(`${nodeName(node)}: ConvInteger takes per-tensor weights; its perChannel override is ignored`);
    const w = emitWeight(W, weightValues(wt!, model), shape, undefined, []);
    rewritten.add(W);
    const aq = quantizeActivation(x);
    const y = node.output[0]!;
    const name = nodeName(node);
    const ci = index.unique(`${y}_output_quantized`);
    const cast = index.unique(`${y}_output_cast`);
    const scales = index.unique(`${y}_scales_product`);
    const scaled = bt ? index.unique(`${y}_scaled`) : y;
    const conv = makeNode('ConvInteger', [aq.q, w.q, aq.zp, w.zp], [ci], {}, { name: index.unique(`${name}_quant`) });
    conv.attribute = node.attribute;
    const list = [
      conv,
      makeNode('Cast', [ci], [cast], { to: DataType.FLOAT }, { name: index.unique(`${name}_quant_cast`) }),
      makeNode('Mul', [aq.scale, w.scale], [scales], {}, { name: index.unique(`${name}_quant_scales_mul`) }),
      makeNode('Mul', [cast, scales], [scaled], {}, { name: index.unique(`${name}_quant_output_scale_mul`) }),
    ];
    if (bt) {
      const biasName = index.unique(`${B}_reshaped`);
      const dims = [1, shape[0]!, ...shape.slice(2).map(() => 1)];
      sink.add(floatTensor(biasName, dims, weightValues(bt, model)));
      rewritten.add(B!);
      list.push(makeNode('Add', [scaled, biasName], [y], {}, { name: index.unique(`${name}_bias_add`) }));
    }
    return { nodes: list };
  };

  const handlers: Record<string, (n: NodeProto) => Rewrite> = {
    MatMul: rewriteMatMul,
    Gemm: rewriteGemm,
    Gather: rewriteGather,
    LSTM: rewriteLSTM,
    Conv: rewriteConv,
  };

  const pacer = new NodePacer(ctx, nodes.length);
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i]!;
    await pacer.step(i);
    const std = node.domain === '' || node.domain === 'ai.onnx';
    const handler = std ? handlers[node.opType] : undefined;
    if (!std && node.opType === 'Attention' && node.domain === MS) {
      const v = selection.check(node, modeOps);
      skips.add(node, v.selected ? 'Attention → QAttention is not implemented; left float' : v.reason);
      out.push(node);
      continue;
    }
    if (!handler) {
      out.push(node);
      continue;
    }
    if (node.opType === 'Gather' && !init(node.input[0])) {
      out.push(node); // shape/index Gathers are not candidates at all: not worth a report line
      continue;
    }
    const verdict = selection.check(node, modeOps);
    if (!verdict.selected) {
      skips.add(node, verdict.reason);
      out.push(node);
      continue;
    }
    const r = handler(node);
    if ('skip' in r) {
      skips.add(node, r.skip);
      out.push(node);
    } else {
      out.push(...r.nodes);
      quantized++;
    }
  }
  graph.node = out;

  // Float weights go when nothing reads them any more (shared weights stay for float users).
  dropUnreadWeights(graph, rewritten);
  removeUnusedInitializers(graph);
  pruneValueInfo(graph);
  if (usesContrib) ensureOpset(proto, MS, 1);
  if (clippedWeights > 0) warnings.push(`${clippedWeights} weight values were clipped`);
  ctx.onProgress?.({ stage: 'quantizing', fraction: 1 });
  return { proto, quantizedNodes: quantized, skippedNodes: skips.toArray(), warnings };
}
