/**
 * Output element types of a node from its inputs' types and attributes: the one rule set the
 * analysis (which tensors are float, for static's layer modes) and the static engine (which
 * tensors to calibrate) both use. Ops of other domains than ai.onnx and com.microsoft are unknown.
 */
import { DataType } from './dtype';
import { attrInt, getAttribute } from './builder';
import type { GraphProto, NodeProto } from './schema';

/** Ops whose (first) output has the element type of their first input. */
const SAME_AS_FIRST = new Set([
  'Abs', 'Acos', 'Acosh', 'Add', 'Asin', 'Asinh', 'Atan', 'Atanh', 'AveragePool', 'BatchNormalization', 'Ceil', 'Celu', 'Clip',
  'Compress', 'Concat', 'Conv', 'ConvTranspose', 'Cos', 'Cosh', 'CumSum', 'DepthToSpace', 'Div', 'Einsum', 'Elu', 'Erf', 'Exp',
  'Expand', 'Flatten', 'Floor', 'Gather', 'GatherElements', 'GatherND', 'Gelu', 'Gemm', 'GlobalAveragePool', 'GlobalMaxPool',
  'GroupNormalization', 'HardSigmoid', 'HardSwish', 'Hardmax', 'Identity', 'InstanceNormalization', 'LRN', 'LayerNormalization',
  'LeakyRelu', 'Log', 'LogSoftmax', 'LpNormalization', 'MatMul', 'Max', 'Mean', 'Min', 'Mish', 'Mod', 'Mul', 'Neg',
  'PRelu', 'Pad', 'Pow', 'Reciprocal', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceMax', 'ReduceMean',
  'ReduceMin', 'ReduceProd', 'ReduceSum', 'ReduceSumSquare', 'Relu', 'Reshape', 'Resize', 'ReverseSequence', 'Round', 'ScatterElements',
  'ScatterND', 'Selu', 'Shrink', 'Sigmoid', 'Sign', 'Sin', 'Sinh', 'Slice', 'Softmax', 'Softplus', 'Softsign', 'SpaceToDepth',
  'Sqrt', 'Squeeze', 'Sub', 'Sum', 'Tan', 'Tanh', 'ThresholdedRelu', 'Tile', 'Transpose', 'Trilu', 'Unsqueeze', 'Upsample',
  'MaxRoiPool', 'RoiAlign', 'Range',
  // com.microsoft float ops that keep their input's type.
  'Swish', 'FastGelu', 'BiasGelu', 'SkipLayerNormalization', 'QuickGelu', 'MatMulNBits', 'Attention', 'MultiHeadAttention',
]);
/** Ops whose every output has the element type of their first input. */
const ALL_SAME_AS_FIRST = new Set(['Split', 'LSTM', 'GRU', 'RNN']);
const BOOL_OUT = new Set(['Equal', 'Greater', 'GreaterOrEqual', 'Less', 'LessOrEqual', 'Not', 'And', 'Or', 'Xor', 'IsNaN', 'IsInf']);
const INT64_OUT = new Set(['Shape', 'Size', 'NonZero', 'ArgMax', 'ArgMin', 'NonMaxSuppression']);
const INT32_OUT = new Set(['MatMulInteger', 'ConvInteger']);
/** Ops whose outputs are float whatever their inputs (integer kernels with a float result). */
const FLOAT_OUT = new Set(['MatMulIntegerToFloat', 'DynamicQuantizeMatMul']);
/** Ops whose output types depend on their bodies: unknown here. */
const CONTROL_FLOW = new Set(['If', 'Loop', 'Scan']);

export interface OutputTypeOptions {
  /**
   * Standard ops the rules do not know: 'first' assumes every output has the first input's type
   * (good enough to annotate layers); 'unknown' leaves them untyped (static calibration then
   * takes the type ONNX Runtime reports).
   */
  unknownOps: 'first' | 'unknown';
}

/** Output element types of one node (undefined entries: unknown). */
/**
 * The output types of an If: each output has its branches' type, declared on the branch's output
 * or else `branchType` of that output's name in the branch (a branch that declares none is typed
 * by inference). Both branches agree, or the model is invalid.
 */
export function ifOutputTypes(node: NodeProto, branchType: (branch: GraphProto, name: string) => number | undefined): (number | undefined)[] {
  const branches = node.attribute.filter((a) => a.name === 'then_branch' || a.name === 'else_branch').flatMap((a) => (a.g ? [a.g] : []));
  return node.output.map((_, i) => {
    for (const g of branches) {
      const out = g.output[i];
      const declared = out?.type?.value?.case === 'tensorType' ? out.type.value.value.elemType || undefined : undefined;
      const t = declared ?? (out ? branchType(g, out.name) : undefined);
      if (t) return t;
    }
    return undefined;
  });
}

export function outputElementTypes(node: NodeProto, typeOf: (name: string) => number | undefined, options: OutputTypeOptions): (number | undefined)[] {
  const standard = node.domain === '' || node.domain === 'ai.onnx';
  if (!standard && node.domain !== 'com.microsoft') return [];
  const op = node.opType;
  const inputType = (i: number): number | undefined => (node.input[i] ? typeOf(node.input[i]) : undefined);
  const first = inputType(0);
  if (SAME_AS_FIRST.has(op)) return [first];
  if (ALL_SAME_AS_FIRST.has(op)) return node.output.map(() => first);
  if (BOOL_OUT.has(op)) return [DataType.BOOL];
  if (INT64_OUT.has(op)) return [DataType.INT64];
  if (INT32_OUT.has(op)) return [DataType.INT32];
  if (FLOAT_OUT.has(op)) return [DataType.FLOAT];
  switch (op) {
    case 'Cast':
      return [attrInt(node, 'to', 0) || undefined];
    case 'CastLike':
    case 'Where':
      return [inputType(1)];
    case 'OneHot':
      return [inputType(2)];
    case 'Constant': {
      const value = getAttribute(node, 'value');
      if (value?.t) return [value.t.dataType];
      if (getAttribute(node, 'value_float') || getAttribute(node, 'value_floats')) return [DataType.FLOAT];
      if (getAttribute(node, 'value_int') || getAttribute(node, 'value_ints')) return [DataType.INT64];
      return [undefined];
    }
    case 'ConstantOfShape':
      return [getAttribute(node, 'value')?.t?.dataType ?? DataType.FLOAT];
    case 'Dropout':
      return [first, DataType.BOOL];
    case 'TopK':
    case 'MaxPool':
      return [first, DataType.INT64];
    case 'Unique':
      return [first, DataType.INT64, DataType.INT64, DataType.INT64];
    case 'QuantizeLinear': {
      const outputDtype = attrInt(node, 'output_dtype', 0);
      return [inputType(2) ?? (outputDtype || DataType.UINT8)];
    }
    case 'DequantizeLinear':
      return [node.input[1] ? typeOf(node.input[1]) : DataType.FLOAT];
    case 'DynamicQuantizeLinear':
      return [DataType.UINT8, DataType.FLOAT, DataType.UINT8];
    case 'EyeLike':
    case 'RandomNormalLike':
    case 'RandomUniformLike':
      return [attrInt(node, 'dtype', 0) || first];
    default:
      if (!standard || CONTROL_FLOW.has(op) || options.unknownOps === 'unknown') return [];
      return node.output.map(() => first);
  }
}
