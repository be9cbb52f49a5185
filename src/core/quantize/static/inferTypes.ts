/**
 * Element-type inference, just enough for static quantization: which tensors are float (worth
 * calibrating and quantizing). Starts from graph inputs, initializers, value_info and outputs,
 * then propagates through nodes in order. Unknown ops leave their outputs untyped: calibration
 * exposes those untyped and takes the type ONNX Runtime reports (doc §6.11).
 */
import { DataType } from '../../onnx/dtype';
import { attrInt, getAttribute } from '../../onnx/builder';
import type { GraphProto, NodeProto, ValueInfoProto } from '../../onnx/schema';

/** Ops whose outputs all have the element type of their first input. */
const SAME_AS_FIRST = new Set([
  'Abs', 'Acos', 'Acosh', 'Add', 'Asin', 'Asinh', 'Atan', 'Atanh', 'AveragePool', 'BatchNormalization', 'Ceil', 'Celu', 'Clip',
  'Compress', 'Concat', 'Conv', 'ConvTranspose', 'Cos', 'Cosh', 'CumSum', 'DepthToSpace', 'Div', 'Dropout', 'Einsum', 'Elu', 'Erf', 'Exp',
  'Expand', 'Flatten', 'Floor', 'Gather', 'GatherElements', 'GatherND', 'Gelu', 'Gemm', 'GlobalAveragePool', 'GlobalMaxPool',
  'GroupNormalization', 'HardSigmoid', 'HardSwish', 'Hardmax', 'Identity', 'InstanceNormalization', 'LRN', 'LayerNormalization',
  'LeakyRelu', 'Log', 'LogSoftmax', 'LpNormalization', 'MatMul', 'Max', 'Mean', 'Min', 'Mish', 'Mod', 'Mul', 'Neg',
  'PRelu', 'Pad', 'Pow', 'Reciprocal', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceMax', 'ReduceMean',
  'ReduceMin', 'ReduceProd', 'ReduceSum', 'ReduceSumSquare', 'Relu', 'Reshape', 'Resize', 'ReverseSequence', 'Round', 'ScatterElements',
  'ScatterND', 'Selu', 'Shrink', 'Sigmoid', 'Sign', 'Sin', 'Sinh', 'Slice', 'Softmax', 'Softplus', 'Softsign', 'SpaceToDepth', 'Split',
  'Sqrt', 'Squeeze', 'Sub', 'Sum', 'Tan', 'Tanh', 'ThresholdedRelu', 'Tile', 'Transpose', 'Trilu', 'Unsqueeze', 'Upsample',
  'MaxRoiPool', 'RoiAlign', 'Swish', 'FastGelu', 'BiasGelu', 'SkipLayerNormalization', 'QuickGelu',
]);
const BOOL_OUT = new Set(['Equal', 'Greater', 'GreaterOrEqual', 'Less', 'LessOrEqual', 'Not', 'And', 'Or', 'Xor', 'IsNaN', 'IsInf']);
const INT64_OUT = new Set(['Shape', 'Size', 'NonZero', 'ArgMax', 'ArgMin', 'NonMaxSuppression']);

function elemTypeOf(v: ValueInfoProto): number | undefined {
  const t = v.type?.value;
  if (t?.case !== 'tensorType') return undefined;
  return t.value.elemType || undefined;
}

/** Element type of every tensor this pass can type (name → ONNX DataType). */
export function inferElemTypes(graph: GraphProto): Map<string, number> {
  const types = new Map<string, number>();
  for (const v of [...graph.input, ...graph.valueInfo, ...graph.output]) {
    const t = elemTypeOf(v);
    if (t) types.set(v.name, t);
  }
  for (const t of graph.initializer) types.set(t.name, t.dataType);
  for (const node of graph.node) {
    const outs = nodeOutputTypes(node, types);
    node.output.forEach((name, i) => {
      if (!name || types.has(name)) return;
      const t = outs[i];
      if (t) types.set(name, t);
    });
  }
  return types;
}

function nodeOutputTypes(node: NodeProto, types: Map<string, number>): (number | undefined)[] {
  const first = node.input[0] ? types.get(node.input[0]) : undefined;
  const op = node.domain === '' || node.domain === 'ai.onnx' || node.domain === 'com.microsoft' ? node.opType : '';
  if (SAME_AS_FIRST.has(op)) {
    // Dropout's mask and a few secondary outputs differ; only the first output is sure.
    if (op === 'Dropout') return [first, DataType.BOOL];
    if (op === 'Split') return node.output.map(() => first);
    return [first];
  }
  if (BOOL_OUT.has(op)) return [DataType.BOOL];
  if (INT64_OUT.has(op)) return [DataType.INT64];
  switch (op) {
    case 'Cast':
      return [attrInt(node, 'to', 0) || undefined];
    case 'CastLike':
      return [node.input[1] ? types.get(node.input[1]) : undefined];
    case 'Constant': {
      const value = getAttribute(node, 'value');
      if (value?.t) return [value.t.dataType];
      if (getAttribute(node, 'value_float') || getAttribute(node, 'value_floats')) return [DataType.FLOAT];
      if (getAttribute(node, 'value_int') || getAttribute(node, 'value_ints')) return [DataType.INT64];
      return [undefined];
    }
    case 'ConstantOfShape': {
      const value = getAttribute(node, 'value');
      return [value?.t ? value.t.dataType : DataType.FLOAT];
    }
    case 'Where':
      return [node.input[1] ? types.get(node.input[1]) : undefined];
    case 'TopK':
      return [first, DataType.INT64];
    case 'MaxPool':
      return [first, DataType.INT64];
    case 'Range':
      return [first];
    case 'QuantizeLinear':
      return [node.input[2] ? types.get(node.input[2]) : DataType.UINT8];
    case 'DequantizeLinear':
      return [node.input[1] ? types.get(node.input[1]) : DataType.FLOAT];
    case 'DynamicQuantizeLinear':
      return [DataType.UINT8, DataType.FLOAT, DataType.UINT8];
    case 'MatMulInteger':
    case 'ConvInteger':
      return [DataType.INT32];
    case 'EyeLike':
    case 'RandomNormalLike':
    case 'RandomUniformLike':
      return [attrInt(node, 'dtype', 0) || first];
    case 'OneHot':
      return [node.input[2] ? types.get(node.input[2]) : undefined];
    case 'LSTM':
    case 'GRU':
    case 'RNN':
      return node.output.map(() => first);
    default:
      return [];
  }
}

export function isFloat32(types: Map<string, number>, name: string): boolean {
  return types.get(name) === DataType.FLOAT;
}
