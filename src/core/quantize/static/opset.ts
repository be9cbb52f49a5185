/**
 * Opset requirements of static quantization: QuantizeLinear/DequantizeLinear need opset 10,
 * per-channel (`axis`) needs 13. A model below what it needs is converted (onnx/opset); when the
 * conversion to 13 is impossible but the model is at 10 or later, weights fall back to per tensor.
 * (The quantizer's entry point converts, and checks the conversion in ONNX Runtime, before this runs.)
 */
import { InputError } from '../../errors';
import { opsetVersion } from '../../onnx/builder';
import { convertOpset } from '../../onnx/opset';
import type { ModelProto } from '../../onnx/schema';

export interface OpsetDecision {
  /** Model to quantize (the input, or its conversion to the opset needed). */
  proto: ModelProto;
  perChannel: boolean;
  warnings: string[];
}

export function prepareOpset(proto: ModelProto, wantPerChannel: boolean): OpsetDecision {
  const opset = opsetVersion(proto, '') ?? 1;
  const need = wantPerChannel ? 13 : 10;
  if (opset >= need) return { proto, perChannel: wantPerChannel, warnings: [] };
  try {
    const converted = convertOpset(proto, need);
    return { proto: converted.proto, perChannel: wantPerChannel, warnings: [converted.conversion.summary] };
  } catch (e) {
    if (!(e instanceof InputError) || opset < 10) throw e;
    return { proto, perChannel: false, warnings: [`per-channel weights need opset 13 and ${e.message}: weights are quantized per tensor`] };
  }
}
