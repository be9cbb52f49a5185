/**
 * Opset requirements of static quantization: QuantizeLinear/DequantizeLinear need opset 10,
 * per-channel (`axis`) needs 13. A model between 10 and 12 is upgraded to 13 only when none of its
 * ops changed signature or meaning on the way (attributes that became inputs, Softmax's axis
 * semantics, ...); otherwise per-channel falls back to per-tensor.
 */
import { create } from '@bufbuild/protobuf';
import { opsetVersion } from '../../onnx/builder';
import { OperatorSetIdProtoSchema, type ModelProto } from '../../onnx/schema';

/** Ops whose ai.onnx definition changed incompatibly between opset 10 and 13. */
const CHANGED_BEFORE_13 = new Set([
  'Clip', 'Pad', 'Resize', 'Upsample', 'Squeeze', 'Unsqueeze', 'Split', 'ReduceSum', 'Softmax', 'LogSoftmax', 'Hardmax', 'Scatter',
  'Dropout', 'TopK', 'Slice', 'Gather', 'ScatterElements', 'OneHot', 'Range', 'Loop', 'If', 'Scan', 'SequenceAt', 'Identity',
  'ArgMax', 'ArgMin', 'ReduceMax', 'ReduceMin', 'ReduceMean', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp',
  'ReduceSumSquare', 'Concat', 'Flatten', 'Compress', 'CumSum', 'DepthToSpace', 'Einsum', 'GatherElements', 'GatherND', 'Round',
]);

export interface OpsetDecision {
  /** Model to quantize (the input, or a copy with the opset import raised). */
  proto: ModelProto;
  perChannel: boolean;
  warnings: string[];
}

export function prepareOpset(proto: ModelProto, wantPerChannel: boolean): OpsetDecision | { error: string } {
  const opset = opsetVersion(proto, '') ?? 1;
  if (opset < 10) return { error: `model opset ${opset} is below 10: QuantizeLinear/DequantizeLinear need opset 10 or later; convert the model to a newer opset first` };
  if (!wantPerChannel || opset >= 13) return { proto, perChannel: wantPerChannel, warnings: [] };
  const blocking = [...new Set(proto.graph!.node.filter((n) => (n.domain === '' || n.domain === 'ai.onnx') && CHANGED_BEFORE_13.has(n.opType)).map((n) => n.opType))];
  if (blocking.length > 0) {
    return {
      proto,
      perChannel: false,
      warnings: [`per-channel weights need opset 13; the model is opset ${opset} and its ${blocking.join(', ')} ops changed by 13, so weights are quantized per tensor`],
    };
  }
  const opsetImport = proto.opsetImport.map((o) =>
    o.domain === '' || o.domain === 'ai.onnx' ? create(OperatorSetIdProtoSchema, { domain: o.domain, version: 13n }) : o,
  );
  const irVersion = proto.irVersion < 7n ? 7n : proto.irVersion;
  return {
    proto: { ...proto, opsetImport, irVersion },
    perChannel: true,
    warnings: [`opset raised from ${opset} to 13 for per-channel quantization (no op of this model changed meaning)`],
  };
}
