/**
 * Op knowledge for opset conversion, as data: the versions (opsets) at which each ai.onnx operator
 * got a new definition, up to opset 13, from the ONNX operator changelog. `D` marks the version
 * that deprecated the op (it no longer exists from there on). Whether a new definition changed
 * the op's signature or meaning, and how to rewrite a node for it, is in adapters.ts.
 */
const SINCE = `
Abs 1 6 13 | Acos 7 | Acosh 9 | Add 1 6 7 13 | And 1 7 | ArgMax 1 11 12 13 | ArgMin 1 11 12 13 | Asin 7 | Asinh 9
Atan 7 | Atanh 9 | AveragePool 1 7 10 11 | BatchNormalization 1 6 7 9 | BitShift 11 | Cast 1 6 9 13 | Ceil 1 6 13
Celu 12 | Clip 1 6 11 12 13 | Compress 9 11 | Concat 1 4 11 13 | ConcatFromSequence 11 | Constant 1 9 11 12 13
ConstantOfShape 9 | Conv 1 11 | ConvInteger 10 | ConvTranspose 1 11 | Cos 7 | Cosh 9 | CumSum 11
DepthToSpace 1 11 13 | DequantizeLinear 10 13 | Det 11 | Div 1 6 7 13 | Dropout 1 6 7 10 12 13
DynamicQuantizeLinear 11 | Einsum 12 | Elu 1 6 | Equal 1 7 11 13 | Erf 9 13 | Exp 1 6 13 | Expand 8 13 | EyeLike 9
Flatten 1 9 11 13 | Floor 1 6 13 | GRU 1 3 7 | Gather 1 11 13 | GatherElements 11 13 | GatherND 11 12 13
Gemm 1 6 7 9 11 13 | GlobalAveragePool 1 | GlobalLpPool 1 2 | GlobalMaxPool 1 | Greater 1 7 9 13 | GreaterOrEqual 12
HardSigmoid 1 6 | Hardmax 1 11 13 | Identity 1 13 | If 1 11 13 | InstanceNormalization 1 6 | IsInf 10 | IsNaN 9 13
LRN 1 13 | LSTM 1 7 | LeakyRelu 1 6 | Less 1 7 9 13 | LessOrEqual 12 | Log 1 6 13 | LogSoftmax 1 11 13 | Loop 1 11 13
LpNormalization 1 | LpPool 1 2 11 | MatMul 1 9 13 | MatMulInteger 10 | Max 1 6 8 12 13 | MaxPool 1 8 10 11 12
MaxRoiPool 1 | MaxUnpool 9 11 | Mean 1 6 8 13 | MeanVarianceNormalization 9 13 | Min 1 6 8 12 13 | Mod 10 13
Mul 1 6 7 13 | Multinomial 7 | Neg 1 6 13 | NegativeLogLikelihoodLoss 12 13 | NonMaxSuppression 10 11 | NonZero 9 13
Not 1 | OneHot 9 11 | Or 1 7 | PRelu 1 6 7 9 | Pad 1 2 11 13 | Pow 1 7 12 13 | QLinearConv 10 | QLinearMatMul 10
QuantizeLinear 10 13 | RNN 1 7 | RandomNormal 1 | RandomNormalLike 1 | RandomUniform 1 | RandomUniformLike 1
Range 11 | Reciprocal 1 6 13 | ReduceL1 1 11 13 | ReduceL2 1 11 13 | ReduceLogSum 1 11 13 | ReduceLogSumExp 1 11 13
ReduceMax 1 11 12 13 | ReduceMean 1 11 13 | ReduceMin 1 11 12 13 | ReduceProd 1 11 13 | ReduceSum 1 11 13
ReduceSumSquare 1 11 13 | Relu 1 6 13 | Reshape 1 5 13 | Resize 10 11 13 | ReverseSequence 10 | RoiAlign 10 | Round 11
Scan 8 9 11 | Scatter 9 11D | ScatterElements 11 13 | ScatterND 11 13 | Selu 1 6 | SequenceAt 11
SequenceConstruct 11 | SequenceEmpty 11 | SequenceErase 11 | SequenceInsert 11 | SequenceLength 11 | Shape 1 13
Shrink 9 | Sigmoid 1 6 13 | Sign 9 13 | Sin 7 | Sinh 9 | Size 1 13 | Slice 1 10 11 13 | Softmax 1 11 13
SoftmaxCrossEntropyLoss 12 13 | Softplus 1 | Softsign 1 | SpaceToDepth 1 13 | Split 1 2 11 13 | SplitToSequence 11
Sqrt 1 6 13 | Squeeze 1 11 13 | StringNormalizer 10 | Sub 1 6 7 13 | Sum 1 6 8 13 | Tan 7 | Tanh 1 6 13
TfIdfVectorizer 9 | ThresholdedRelu 10 | Tile 1 6 13 | TopK 1 10 11 | Transpose 1 13 | Unique 11 | Unsqueeze 1 11 13
Upsample 1 7 9 10D | Where 9 | Xor 1 7
`;

/** The newest opset this table (and the converter) knows. */
export const NEWEST_KNOWN_OPSET = 13;

export interface OpHistory {
  /** Since-versions, ascending. */
  versions: number[];
  /** The version from which the op no longer exists, if it was deprecated by NEWEST_KNOWN_OPSET. */
  deprecatedAt?: number;
}

export const OP_HISTORY: ReadonlyMap<string, OpHistory> = new Map(
  SINCE.split(/[|\n]/)
    .map((entry) => entry.trim().split(/\s+/))
    .filter((words) => words.length > 1)
    .map(([op, ...versions]) => {
      const deprecated = versions.find((v) => v.endsWith('D'));
      const history: OpHistory = { versions: versions.map((v) => parseInt(v, 10)) };
      if (deprecated) history.deprecatedAt = parseInt(deprecated, 10);
      return [op ?? '', history];
    }),
);

/** The since-version of the definition of `op` in force at `opset`, undefined when the op does not exist there. */
export function definitionAt(op: string, opset: number): number | undefined {
  const h = OP_HISTORY.get(op);
  if (!h || (h.deprecatedAt !== undefined && opset >= h.deprecatedAt)) return undefined;
  let found: number | undefined;
  for (const v of h.versions) if (v <= opset) found = v;
  return found;
}

/** The first new definition of `op` after `version` and at most `target`, if any. */
export function nextDefinition(op: string, version: number, target: number): number | undefined {
  return OP_HISTORY.get(op)?.versions.find((v) => v > version && v <= target);
}
