/**
 * Dynamic quantization (weights int8 offline, activations uint8 at run time), emitting exactly
 * the patterns ONNX Runtime's CPU provider fuses (reference §2b, §6.7):
 *   MatMul(x, W)  → DynamicQuantizeLinear(x) + MatMulInteger + Cast(FLOAT) + Mul(x_scale·W_scale)
 *                   (ORT fuses to MatMulIntegerToFloat / DynamicQuantizeMatMul, bias Add included)
 *   Gemm          → the same after folding transB/alpha into W, plus Add(beta·C)
 *   Gather(table) → uint8 table + Gather + DequantizeLinear (embeddings shrink 4×)
 *   LSTM          → com.microsoft.DynamicQuantizeLSTM (W, R int8, transposed to [dirs, in, 4H])
 *   Conv          → ConvInteger + Cast + Mul (+ Add bias) only with quantizeConv
 * One DynamicQuantizeLinear is shared by every consumer of the same activation in a graph. The
 * walk over graphs and bodies, selection, skip reasons and clean-up are the driver's (driver.ts);
 * this file holds one handler per op.
 */
import { attrFloat, attrInt, makeNode } from '../onnx/builder';
import { DataType, dtypeName } from '../onnx/dtype';
import type { OnnxModel } from '../onnx/model';
import type { ExternalDataWriter } from '../onnx/save';
import type { NodeProto } from '../onnx/schema';
import { bytesOf, floatTensor, int8Tensor, makeTensor, tensorShape, uint8Tensor } from '../onnx/tensor';
import type { JobContext } from '../progress';
import { RewriteDriver, type Handlers, type OpHandler, type Rewrite, type RewriteContext, type WeightRef } from './driver';
import { computeQuantParams, quantRange } from './math';
import { nodeName, type EngineResult, type NodeSelection, type ResolvedOptions } from './selection';
import { quantizeInt8Symmetric, quantizeUint8 } from './weights';
import { modeOps } from '../onnx/op-rules';

const MS = 'com.microsoft';
/** Op types dynamic mode handles by default (the user's --op-types replaces this list). */
/** The op types dynamic mode looks at (op-rules table). */
export const DYNAMIC_OP_TYPES: ReadonlySet<string> = modeOps('dynamic');

interface QuantizedTensor {
  q: string;
  scale: string;
  zp: string;
}

/** The node's per-node override, else the global option. */
const perChannelFor = (node: NodeProto, rc: RewriteContext): boolean => rc.selection.overridesFor(node).perChannel ?? rc.options.perChannel;

/** One shared DynamicQuantizeLinear per activation tensor and graph. */
function quantizeActivation(x: string, rc: RewriteContext): QuantizedTensor {
  return rc.local(`activation:${x}`, () => {
    const base = x.replace(/[^A-Za-z0-9_./:-]/g, '_');
    const a = { q: rc.unique(`${base}_quantized`), scale: rc.unique(`${base}_scale`), zp: rc.unique(`${base}_zero_point`) };
    rc.emit(makeNode('DynamicQuantizeLinear', [x], [a.q, a.scale, a.zp], {}, { name: rc.unique(`${base}_QuantizeLinear`) }));
    return a;
  });
}

/** int8 symmetric weights from float values already laid out as the integer op wants them, stored next to `w`. */
function emitWeight(w: WeightRef, values: Float32Array, shape: number[], axis: number | undefined, scaleDims: number[], rc: RewriteContext): QuantizedTensor {
  const q8 = quantizeInt8Symmetric(values, shape, axis, rc.options.reduceRange);
  rc.tally('clipped', q8.clipped);
  const q = rc.unique(`${w.name}_quantized`);
  const scale = rc.unique(`${w.name}_scale`);
  const zp = rc.unique(`${w.name}_zero_point`);
  rc.store(w, makeTensor(q, DataType.INT8, shape, bytesOf(q8.data)));
  rc.store(w, floatTensor(scale, scaleDims, q8.scales));
  rc.store(w, int8Tensor(zp, scaleDims, new Int8Array(q8.scales.length)));
  return { q, scale, zp };
}

/** The integer MatMul chain writing `y` (float), for a [K, N] weight already quantized. */
function matmulChain(node: NodeProto, a: string, w: QuantizedTensor, y: string, rc: RewriteContext): NodeProto[] {
  const name = nodeName(node);
  const aq = quantizeActivation(a, rc);
  const mm = rc.unique(`${y}_output_quantized`);
  const cast = rc.unique(`${y}_output_cast`);
  const scales = rc.unique(`${y}_scales_product`);
  return [
    makeNode('MatMulInteger', [aq.q, w.q, aq.zp, w.zp], [mm], {}, { name: rc.unique(`${name}_quant`) }),
    makeNode('Cast', [mm], [cast], { to: DataType.FLOAT }, { name: rc.unique(`${name}_quant_cast`) }),
    makeNode('Mul', [aq.scale, w.scale], [scales], {}, { name: rc.unique(`${name}_quant_scales_mul`) }),
    makeNode('Mul', [cast, scales], [y], {}, { name: rc.unique(`${name}_quant_output_scale_mul`) }),
  ];
}

/** The float32 weight input `name` refers to, or why it cannot be quantized. */
export function floatWeight(rc: RewriteContext, name: string, what: string, rank?: number): WeightRef | string {
  const w = rc.weight(name);
  if (!w) return `${what} is computed by the graph, not a constant weight (activation × activation)`;
  const t = w.tensor;
  if (t.dataType !== DataType.FLOAT) return `${what} is ${dtypeName(t.dataType)}, only float32 weights are quantized`;
  if (rank !== undefined && t.dims.length !== rank) return `${what} has rank ${t.dims.length}, expected ${rank}`;
  return w;
}

export const dynamicMatMul: OpHandler = {
  rewrite(node, rc): Rewrite {
    const [a, b] = node.input;
    if (!a || !b) return { skip: 'missing input' };
    if (rc.weight(a)) return { skip: 'input A is constant (fold it instead)' };
    const wt = floatWeight(rc, b, 'B', 2);
    if (typeof wt === 'string') return { skip: wt };
    const shape = tensorShape(wt.tensor);
    const perChannel = perChannelFor(node, rc);
    const w = rc.once(wt, `matmul|${perChannel}`, () => emitWeight(wt, rc.values(wt.tensor), shape, perChannel ? 1 : undefined, perChannel ? [shape[1]!] : [], rc));
    rc.consume(wt);
    return { nodes: matmulChain(node, a, w, node.output[0]!, rc) };
  },
};

export const dynamicGemm: OpHandler = {
  rewrite(node, rc): Rewrite {
    const [a, b, c] = node.input;
    if (!a || !b) return { skip: 'missing input' };
    if (attrInt(node, 'transA', 0) !== 0) return { skip: 'transA=1 is not supported' };
    if (rc.weight(a)) return { skip: 'input A is constant (fold it instead)' };
    const wt = floatWeight(rc, b, 'B', 2);
    if (typeof wt === 'string') return { skip: wt };
    const alpha = attrFloat(node, 'alpha', 1);
    const beta = attrFloat(node, 'beta', 1);
    const ct = rc.weight(c);
    if (c && !ct && beta !== 1) return { skip: 'non-constant C with beta ≠ 1' };
    if (ct && ct.tensor.dataType !== DataType.FLOAT) return { skip: `C is ${dtypeName(ct.tensor.dataType)}` };
    const transB = attrInt(node, 'transB', 0) !== 0;
    const [d0, d1] = tensorShape(wt.tensor) as [number, number];
    const K = transB ? d1 : d0;
    const N = transB ? d0 : d1;
    const perChannel = perChannelFor(node, rc);
    const w = rc.once(wt, `gemm|${transB}|${alpha}|${perChannel}`, () => {
      const src = rc.values(wt.tensor);
      let values = src;
      if (transB || alpha !== 1) {
        values = new Float32Array(K * N);
        for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) values[k * N + n] = (transB ? src[n * K + k]! : src[k * N + n]!) * alpha;
      }
      return emitWeight(wt, values, [K, N], perChannel ? 1 : undefined, perChannel ? [N] : [], rc);
    });
    rc.consume(wt);
    const y = node.output[0]!;
    if (!c) return { nodes: matmulChain(node, a, w, y, rc) };
    let bias = c;
    if (ct && beta !== 1) {
      const vals = rc.values(ct.tensor);
      bias = rc.unique(`${c}_beta`);
      rc.store(ct, floatTensor(bias, tensorShape(ct.tensor), Float32Array.from(vals, (v) => v * beta)));
      rc.consume(ct);
    }
    const mmOut = rc.unique(`${y}_matmul`);
    return {
      nodes: [...matmulChain(node, a, w, mmOut, rc), makeNode('Add', [mmOut, bias], [y], {}, { name: rc.unique(`${nodeName(node)}_bias_add`) })],
    };
  },
};

export const dynamicGather: OpHandler = {
  // Shape/index Gathers are not candidates at all: not worth a report line.
  applies: (node, rc) => !!rc.weight(node.input[0]),
  rewrite(node, rc): Rewrite {
    const [data, indices] = node.input;
    const table = rc.weight(data);
    if (!table) return { skip: 'data is not a constant table' };
    const t = table.tensor;
    if (t.dataType !== DataType.FLOAT) return { skip: `table is ${dtypeName(t.dataType)}` };
    if (t.dims.length < 2) return { skip: 'table has rank < 2 (not an embedding)' };
    if (!indices || rc.weight(indices)) return { skip: 'constant indices: the Gather computes a constant (not an embedding lookup) and is left as it is' };
    // uint8 asymmetric per tensor, as ORT's own tool does: the Gather runs on bytes and one
    // DequantizeLinear restores float on the gathered rows only.
    const values = rc.values(t);
    let min = 0;
    let max = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const p = computeQuantParams(min, max, quantRange('uint8'), false);
    const q = quantizeUint8(values, p.scale, p.zeroPoint);
    const qName = rc.unique(`${data}_quantized`);
    const sName = rc.unique(`${data}_scale`);
    const zName = rc.unique(`${data}_zero_point`);
    rc.store(table, makeTensor(qName, DataType.UINT8, tensorShape(t), q));
    rc.store(table, floatTensor(sName, [], [p.scale]));
    rc.store(table, uint8Tensor(zName, [], [p.zeroPoint]));
    rc.consume(table);
    const y = node.output[0]!;
    const gq = rc.unique(`${y}_quantized`);
    const name = nodeName(node);
    const gather = makeNode('Gather', [qName, indices], [gq], {}, { name: rc.unique(`${name}_quant`) });
    gather.attribute = node.attribute;
    return { nodes: [gather, makeNode('DequantizeLinear', [gq, sName, zName], [y], {}, { name: rc.unique(`${name}_DequantizeLinear`) })] };
  },
};

export const dynamicLSTM: OpHandler = {
  rewrite(node, rc): Rewrite {
    const [x, W, R] = node.input;
    if (!x || !W || !R) return { skip: 'missing input' };
    // LSTM-14's layout attribute has no DynamicQuantizeLSTM counterpart: the contrib op is sequence-first only.
    if (attrInt(node, 'layout', 0) !== 0) return { skip: 'layout=1 (batch-first): DynamicQuantizeLSTM takes sequence-first inputs only' };
    const wt = floatWeight(rc, W, 'W', 3);
    if (typeof wt === 'string') return { skip: wt };
    const rt = floatWeight(rc, R, 'R', 3);
    if (typeof rt === 'string') return { skip: rt };
    const [dirs, gates, inSize] = tensorShape(wt.tensor) as [number, number, number];
    const hidden = tensorShape(rt.tensor)[2]!;
    const perChannel = perChannelFor(node, rc);
    const scaleDims = perChannel ? [dirs, gates] : [dirs];
    // Quantize per gate row (per channel) or per direction, then store transposed [dirs, in, 4H].
    const quantTransposed = (ref: WeightRef, cols: number): QuantizedTensor => {
      const values = rc.values(ref.tensor);
      const w = perChannel
        ? quantizeInt8Symmetric(values, [dirs * gates, cols], 0, rc.options.reduceRange)
        : quantizeInt8Symmetric(values, [dirs, gates * cols], 0, rc.options.reduceRange);
      rc.tally('clipped', w.clipped);
      const tr = new Int8Array(w.data.length);
      for (let d = 0; d < dirs; d++) {
        const base = d * gates * cols;
        for (let g = 0; g < gates; g++) for (let c = 0; c < cols; c++) tr[base + c * gates + g] = w.data[base + g * cols + c]!;
      }
      const q = rc.unique(`${ref.tensor.name}_quantized`);
      const scale = rc.unique(`${ref.tensor.name}_scale`);
      const zp = rc.unique(`${ref.tensor.name}_zero_point`);
      rc.store(ref, makeTensor(q, DataType.INT8, [dirs, cols, gates], bytesOf(tr)));
      rc.store(ref, floatTensor(scale, scaleDims, w.scales));
      rc.store(ref, int8Tensor(zp, scaleDims, new Int8Array(w.scales.length)));
      return { q, scale, zp };
    };
    // LSTMs sharing W or R (the branches of an If) share one quantized copy.
    const wq = rc.once(wt, `lstm|${perChannel}`, () => quantTransposed(wt, inSize));
    const rq = rc.once(rt, `lstm|${perChannel}`, () => quantTransposed(rt, hidden));
    rc.consume(wt);
    rc.consume(rt);
    const opt = (i: number) => node.input[i] ?? '';
    const inputs = [x, wq.q, rq.q, opt(3), opt(4), opt(5), opt(6), opt(7), wq.scale, wq.zp, rq.scale, rq.zp];
    const q = makeNode('DynamicQuantizeLSTM', inputs, [...node.output], {}, { name: rc.unique(`${nodeName(node)}_quant`), domain: MS });
    q.attribute = node.attribute.filter((a) => a.name !== 'layout');
    rc.useDomain(MS, 1);
    return { nodes: [q] };
  },
};

export const dynamicConv: OpHandler = {
  rewrite(node, rc): Rewrite {
    const convWanted = rc.options.quantizeConv || !!rc.selection.opTypes?.has('Conv');
    if (!convWanted) return { skip: 'Conv stays float in dynamic mode (ConvInteger is rarely faster; use static mode, or --op-types Conv)' };
    const [x, W, B] = node.input;
    if (!x || !W) return { skip: 'missing input' };
    if (rc.weight(x)) return { skip: 'input is constant' };
    const wt = floatWeight(rc, W, 'W');
    if (typeof wt === 'string') return { skip: wt };
    const shape = tensorShape(wt.tensor);
    const bt = rc.weight(B);
    if (B && !bt) return { skip: 'bias is not constant' };
    // ConvInteger takes one weight zero point: per-tensor weights (a perChannel override cannot apply).
    if (rc.selection.overridesFor(node).perChannel) rc.warn(`${nodeName(node)}: ConvInteger takes per-tensor weights; its perChannel override is ignored`);
    const w = emitWeight(wt, rc.values(wt.tensor), shape, undefined, [], rc);
    rc.consume(wt);
    const aq = quantizeActivation(x, rc);
    const y = node.output[0]!;
    const name = nodeName(node);
    const ci = rc.unique(`${y}_output_quantized`);
    const cast = rc.unique(`${y}_output_cast`);
    const scales = rc.unique(`${y}_scales_product`);
    const scaled = bt ? rc.unique(`${y}_scaled`) : y;
    const conv = makeNode('ConvInteger', [aq.q, w.q, aq.zp, w.zp], [ci], {}, { name: rc.unique(`${name}_quant`) });
    conv.attribute = node.attribute;
    const list = [
      conv,
      makeNode('Cast', [ci], [cast], { to: DataType.FLOAT }, { name: rc.unique(`${name}_quant_cast`) }),
      makeNode('Mul', [aq.scale, w.scale], [scales], {}, { name: rc.unique(`${name}_quant_scales_mul`) }),
      makeNode('Mul', [cast, scales], [scaled], {}, { name: rc.unique(`${name}_quant_output_scale_mul`) }),
    ];
    if (bt) {
      const biasName = rc.unique(`${B}_reshaped`);
      const dims = [1, shape[0]!, ...shape.slice(2).map(() => 1)];
      rc.store(bt, floatTensor(biasName, dims, rc.values(bt.tensor)));
      rc.consume(bt);
      list.push(makeNode('Add', [scaled, biasName], [y], {}, { name: rc.unique(`${name}_bias_add`) }));
    }
    return { nodes: list };
  },
};

export const dynamicAttention: OpHandler = {
  rewrite: () => ({ skip: 'Attention → QAttention is not implemented; left float' }),
};

export const DYNAMIC_HANDLERS: Handlers = {
  MatMul: dynamicMatMul,
  Gemm: dynamicGemm,
  Gather: dynamicGather,
  LSTM: dynamicLSTM,
  Conv: dynamicConv,
  [`${MS}.Attention`]: dynamicAttention,
};

export async function quantizeDynamic(
  model: OnnxModel,
  options: ResolvedOptions,
  selection: NodeSelection,
  ctx: JobContext = {},
  writer?: ExternalDataWriter,
): Promise<EngineResult> {
  const driver = new RewriteDriver(model, options, selection, ctx, writer);
  await driver.rewriteNodes(DYNAMIC_HANDLERS, DYNAMIC_OP_TYPES);
  const r = driver.finish();
  const clipped = r.tallies.get('clipped') ?? 0;
  if (clipped > 0) r.warnings.push(`${clipped} weight values were clipped`);
  ctx.onProgress?.({ stage: 'quantizing', fraction: 1 });
  return { proto: r.proto, quantizedNodes: r.quantizedNodes, quantizedKeys: r.quantizedKeys, skippedNodes: r.skippedNodes, warnings: r.warnings };
}
