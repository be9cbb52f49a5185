/**
 * Models built in TypeScript for quantizer tests and the quantize benchmark: a small
 * transformer encoder (embedding Gather, LayerNorm, Q/K/V/O projections, attention MatMuls,
 * feed-forward with biases) and a QAT-style MLP (QuantizeLinear → DequantizeLinear on weights).
 */
import { makeGraph, makeModel, makeNode, makeValueInfo } from '../../../src/core/onnx/builder';
import { DataType } from '../../../src/core/onnx/dtype';
import type { ModelProto, NodeProto, TensorProto } from '../../../src/core/onnx/schema';
import { floatTensor, int64Tensor, uint8Tensor, int8Tensor } from '../../../src/core/onnx/tensor';
import { seededRandom } from '../../../src/core/util/random';

/** Roughly normal values (sum of three uniforms) from a seeded source. */
export function randomWeights(n: number, std: number, rand: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rand() + rand() + rand() - 1.5) * 2 * std;
  return out;
}

export interface TransformerSpec {
  vocab: number;
  dim: number;
  layers: number;
  ffn?: number;
  seed?: number;
}

/** Parameters of buildTransformer's model (embedding + per layer 4·d² + 2·d·ffn + biases/norms). */
export function transformerParams(s: TransformerSpec): number {
  const ffn = s.ffn ?? 4 * s.dim;
  return s.vocab * s.dim + s.layers * (4 * s.dim * s.dim + 2 * s.dim * ffn + ffn + s.dim + 4 * s.dim);
}

/**
 * Encoder: ids int64 [batch, seq] → Gather(embedding) → per layer: LayerNorm → Q, K, V (MatMul)
 * → softmax(Q·Kᵀ/√d)·V → O (MatMul) → residual Add → LayerNorm → MatMul+bias → Relu → MatMul+bias
 * → residual Add. Output `hidden` float [batch, seq, dim].
 */
export function buildTransformer(spec: TransformerSpec): ModelProto {
  const { vocab, dim, layers } = spec;
  const ffn = spec.ffn ?? 4 * dim;
  const rand = seededRandom(spec.seed ?? 1);
  const nodes: NodeProto[] = [];
  const inits: TensorProto[] = [];
  const w = (name: string, dims: number[], std: number) => {
    inits.push(floatTensor(name, dims, randomWeights(dims.reduce((a, b) => a * b, 1), std, rand)));
    return name;
  };
  const c = (name: string, dims: number[], value: number) => {
    inits.push(floatTensor(name, dims, new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(value)));
    return name;
  };
  w('embedding', [vocab, dim], 0.5);
  nodes.push(makeNode('Gather', ['embedding', 'ids'], ['h0'], { axis: 0 }, { name: 'embed' }));
  inits.push(floatTensor('inv_sqrt_d', [], [1 / Math.sqrt(dim)]));
  let h = 'h0';
  for (let l = 0; l < layers; l++) {
    const p = `l${l}`;
    const ln1 = `${p}_ln1`;
    nodes.push(makeNode('LayerNormalization', [h, c(`${p}_ln1_g`, [dim], 1), c(`${p}_ln1_b`, [dim], 0)], [ln1], { axis: -1, epsilon: { float: 1e-5 } }, { name: `${p}/ln1` }));
    for (const proj of ['q', 'k', 'v']) {
      nodes.push(makeNode('MatMul', [ln1, w(`${p}_w${proj}`, [dim, dim], 1 / Math.sqrt(dim))], [`${p}_${proj}`], {}, { name: `${p}/${proj}_proj` }));
    }
    nodes.push(makeNode('Transpose', [`${p}_k`], [`${p}_kt`], { perm: [0, 2, 1] }, { name: `${p}/kt` }));
    nodes.push(makeNode('MatMul', [`${p}_q`, `${p}_kt`], [`${p}_scores`], {}, { name: `${p}/scores` }));
    nodes.push(makeNode('Mul', [`${p}_scores`, 'inv_sqrt_d'], [`${p}_scaled`], {}, { name: `${p}/scale` }));
    nodes.push(makeNode('Softmax', [`${p}_scaled`], [`${p}_attn`], { axis: -1 }, { name: `${p}/softmax` }));
    nodes.push(makeNode('MatMul', [`${p}_attn`, `${p}_v`], [`${p}_ctx`], {}, { name: `${p}/context` }));
    nodes.push(makeNode('MatMul', [`${p}_ctx`, w(`${p}_wo`, [dim, dim], 1 / Math.sqrt(dim))], [`${p}_o`], {}, { name: `${p}/o_proj` }));
    nodes.push(makeNode('Add', [h, `${p}_o`], [`${p}_res1`], {}, { name: `${p}/res1` }));
    const ln2 = `${p}_ln2`;
    nodes.push(makeNode('LayerNormalization', [`${p}_res1`, c(`${p}_ln2_g`, [dim], 1), c(`${p}_ln2_b`, [dim], 0)], [ln2], { axis: -1, epsilon: { float: 1e-5 } }, { name: `${p}/ln2` }));
    nodes.push(makeNode('MatMul', [ln2, w(`${p}_w1`, [dim, ffn], 1 / Math.sqrt(dim))], [`${p}_f1`], {}, { name: `${p}/ffn1` }));
    nodes.push(makeNode('Add', [`${p}_f1`, w(`${p}_b1`, [ffn], 0.02)], [`${p}_f1b`], {}, { name: `${p}/ffn1_bias` }));
    nodes.push(makeNode('Relu', [`${p}_f1b`], [`${p}_act`], {}, { name: `${p}/relu` }));
    nodes.push(makeNode('MatMul', [`${p}_act`, w(`${p}_w2`, [ffn, dim], 1 / Math.sqrt(ffn))], [`${p}_f2`], {}, { name: `${p}/ffn2` }));
    nodes.push(makeNode('Add', [`${p}_f2`, w(`${p}_b2`, [dim], 0.02)], [`${p}_f2b`], {}, { name: `${p}/ffn2_bias` }));
    const out = l === layers - 1 ? 'hidden' : `${p}_out`;
    nodes.push(makeNode('Add', [`${p}_res1`, `${p}_f2b`], [out], {}, { name: `${p}/res2` }));
    h = out;
  }
  const graph = makeGraph(
    nodes,
    'transformer',
    [makeValueInfo('ids', DataType.INT64, ['batch', 'seq'])],
    [makeValueInfo('hidden', DataType.FLOAT, ['batch', 'seq', dim])],
    inits,
  );
  return makeModel(graph, { '': 17 });
}

/** Token ids [batch, seq] in [0, vocab). */
export function tokenIds(batch: number, seq: number, vocab: number, seed = 7): BigInt64Array {
  const rand = seededRandom(seed);
  return BigInt64Array.from({ length: batch * seq }, () => BigInt(Math.floor(rand() * vocab)));
}

/**
 * A QAT-style export of an MLP 64 → hidden → 10: every weight goes through
 * QuantizeLinear(float initializer) → DequantizeLinear → MatMul; activations too (uint8).
 */
export function buildQatMlp(hidden = 64, seed = 3): ModelProto {
  const rand = seededRandom(seed);
  const inits: TensorProto[] = [];
  const nodes: NodeProto[] = [];
  inits.push(int64Tensor('flat_shape', [2], [-1, 64]));
  nodes.push(makeNode('Reshape', ['image', 'flat_shape'], ['x'], {}, { name: 'flatten' }));
  // Activation Q/DQ (input in [0, 1]).
  inits.push(floatTensor('x_scale', [], [1 / 255]), uint8Tensor('x_zp', [], [0]));
  nodes.push(makeNode('QuantizeLinear', ['x', 'x_scale', 'x_zp'], ['x_q'], {}, { name: 'x_Q' }));
  nodes.push(makeNode('DequantizeLinear', ['x_q', 'x_scale', 'x_zp'], ['x_dq'], {}, { name: 'x_DQ' }));
  const layer = (name: string, input: string, k: number, n: number, perAxis: boolean, output: string) => {
    const values = randomWeights(k * n, 1 / Math.sqrt(k), rand);
    inits.push(floatTensor(`${name}_w`, [k, n], values));
    let scales: number[];
    if (perAxis) {
      scales = Array.from({ length: n }, (_, j) => {
        let m = 0;
        for (let i = 0; i < k; i++) m = Math.max(m, Math.abs(values[i * n + j]!));
        return m / 127;
      });
      inits.push(floatTensor(`${name}_ws`, [n], scales), int8Tensor(`${name}_wzp`, [n], new Array(n).fill(0)));
    } else {
      let m = 0;
      for (const v of values) m = Math.max(m, Math.abs(v));
      inits.push(floatTensor(`${name}_ws`, [], [m / 127]), int8Tensor(`${name}_wzp`, [], [0]));
    }
    const attrs: Record<string, number> = perAxis ? { axis: 1 } : {};
    nodes.push(makeNode('QuantizeLinear', [`${name}_w`, `${name}_ws`, `${name}_wzp`], [`${name}_wq`], attrs, { name: `${name}_w_Q` }));
    nodes.push(makeNode('DequantizeLinear', [`${name}_wq`, `${name}_ws`, `${name}_wzp`], [`${name}_wdq`], attrs, { name: `${name}_w_DQ` }));
    nodes.push(makeNode('MatMul', [input, `${name}_wdq`], [output], {}, { name }));
  };
  layer('fc1', 'x_dq', 64, hidden, true, 'h1');
  nodes.push(makeNode('Relu', ['h1'], ['h1r'], {}, { name: 'relu1' }));
  inits.push(floatTensor('h_scale', [], [0.05]), uint8Tensor('h_zp', [], [0]));
  nodes.push(makeNode('QuantizeLinear', ['h1r', 'h_scale', 'h_zp'], ['h_q'], {}, { name: 'h_Q' }));
  nodes.push(makeNode('DequantizeLinear', ['h_q', 'h_scale', 'h_zp'], ['h_dq'], {}, { name: 'h_DQ' }));
  layer('fc2', 'h_dq', hidden, 10, false, 'logits');
  const graph = makeGraph(nodes, 'qat_mlp', [makeValueInfo('image', DataType.FLOAT, ['batch', 1, 8, 8])], [makeValueInfo('logits', DataType.FLOAT, ['batch', 10])], inits);
  return makeModel(graph, { '': 13 });
}
