/**
 * Tensor ranks where they follow from the graph alone (input shapes, value_info, initializers,
 * constants, and per-op rules for the common ops), for the adapters that need one: the old
 * `broadcast`/`axis` form of binary ops and Softmax's coerced-2D axis. Unknown stays unknown; an
 * adapter that needs a rank it cannot get falls back to a shape computed at run time or refuses.
 */
import { attrInt, attrInts, getAttribute } from '../builder';
import type { GraphProto, NodeProto, ValueInfoProto } from '../schema';

const SAME_AS_FIRST = new Set([
  'Abs', 'Acos', 'Acosh', 'Asin', 'Asinh', 'Atan', 'Atanh', 'AveragePool', 'BatchNormalization', 'Cast', 'Ceil', 'Celu', 'Clip', 'Conv',
  'ConvInteger', 'ConvTranspose', 'Cos', 'Cosh', 'CumSum', 'DepthToSpace', 'Dropout', 'Elu', 'Erf', 'Exp', 'Floor', 'GlobalAveragePool',
  'GlobalLpPool', 'GlobalMaxPool', 'Hardmax', 'HardSigmoid', 'Identity', 'InstanceNormalization', 'IsInf', 'IsNaN', 'LeakyRelu', 'Log',
  'LogSoftmax', 'LpNormalization', 'LpPool', 'LRN', 'MaxPool', 'MeanVarianceNormalization', 'Neg', 'Not', 'Pad', 'PRelu', 'Reciprocal',
  'Relu', 'Resize', 'ReverseSequence', 'Round', 'Scatter', 'ScatterElements', 'Selu', 'Shrink', 'Sigmoid', 'Sign', 'Sin', 'Sinh', 'Slice',
  'Softmax', 'Softplus', 'Softsign', 'SpaceToDepth', 'Split', 'Sqrt', 'Tan', 'Tanh', 'ThresholdedRelu', 'Tile', 'TopK', 'Transpose', 'Upsample',
]);
const BROADCASTING = new Set(['Add', 'And', 'Div', 'Equal', 'Greater', 'Less', 'Max', 'Mean', 'Min', 'Mod', 'Mul', 'Or', 'Pow', 'Sub', 'Sum', 'Where', 'Xor']);
const REDUCE = new Set(['ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceMax', 'ReduceMean', 'ReduceMin', 'ReduceProd', 'ReduceSum', 'ReduceSumSquare']);

function valueRank(v: ValueInfoProto): number | undefined {
  const t = v.type?.value;
  return t?.case === 'tensorType' && t.value.shape ? t.value.shape.dim.length : undefined;
}

/** Rank of every tensor of `graph` this pass can tell; `outer` answers for names from enclosing graphs. */
export function inferRanks(graph: GraphProto, outer: (name: string) => number | undefined = () => undefined): Map<string, number> {
  const ranks = new Map<string, number>();
  for (const v of [...graph.input, ...graph.valueInfo, ...graph.output]) {
    const r = valueRank(v);
    if (r !== undefined) ranks.set(v.name, r);
  }
  for (const t of graph.initializer) ranks.set(t.name, t.dims.length);
  const rank = (name: string | undefined) => (name ? (ranks.get(name) ?? outer(name)) : undefined);
  for (const node of graph.node) {
    const out = nodeRanks(node, rank);
    node.output.forEach((name, i) => {
      const r = out[i];
      if (name && !ranks.has(name) && r !== undefined) ranks.set(name, r);
    });
  }
  return ranks;
}

function nodeRanks(node: NodeProto, rank: (name: string | undefined) => number | undefined): (number | undefined)[] {
  if (node.domain !== '' && node.domain !== 'ai.onnx') return [];
  const op = node.opType;
  const r0 = rank(node.input[0]);
  const all = (r: number | undefined) => node.output.map(() => r);
  if (SAME_AS_FIRST.has(op)) return all(r0);
  if (BROADCASTING.has(op)) {
    const rs = node.input.filter(Boolean).map((i) => rank(i));
    return rs.some((r) => r === undefined) ? [] : [Math.max(...(rs as number[]))];
  }
  switch (op) {
    case 'Constant': {
      const t = getAttribute(node, 'value')?.t;
      return [t ? t.dims.length : undefined];
    }
    case 'Gemm':
    case 'Flatten':
      return [2];
    case 'Shape':
      return [1];
    case 'Size':
      return [0];
    case 'MatMul': {
      const r1 = rank(node.input[1]);
      if (r0 === undefined || r1 === undefined) return [];
      return [r0 === 1 && r1 === 1 ? 0 : r0 === 1 ? r1 - 1 : r1 === 1 ? r0 - 1 : Math.max(r0, r1)];
    }
    case 'Reshape': {
      const shape = attrInts(node, 'shape');
      return [shape ? shape.length : undefined];
    }
    case 'Squeeze': {
      const axes = attrInts(node, 'axes');
      return [r0 !== undefined && axes ? r0 - axes.length : undefined];
    }
    case 'Unsqueeze': {
      const axes = attrInts(node, 'axes');
      return [r0 !== undefined && axes ? r0 + axes.length : undefined];
    }
    case 'Concat':
      return [r0 ?? node.input.map((i) => rank(i)).find((r) => r !== undefined)];
    case 'ArgMax':
    case 'ArgMin':
      return [r0 === undefined ? undefined : attrInt(node, 'keepdims', 1) ? r0 : r0 - 1];
    case 'LSTM':
    case 'GRU':
    case 'RNN':
      return [4, 3, 3];
    case 'Gather': {
      const r1 = rank(node.input[1]);
      return [r0 !== undefined && r1 !== undefined ? r0 + r1 - 1 : undefined];
    }
  }
  if (REDUCE.has(op)) {
    if (r0 === undefined) return [];
    if (attrInt(node, 'keepdims', 1)) return [r0];
    const axes = attrInts(node, 'axes');
    return [axes ? r0 - axes.length : 0];
  }
  return [];
}
