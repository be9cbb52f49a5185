/**
 * Shared by the QDQ and QOperator writers: unique names, scale/zero-point initializers per
 * quantized tensor, and the quantized weight/bias/constant initializers of planned nodes.
 */
import { create } from '@bufbuild/protobuf';
import { makeAttribute, type AttrValue } from '../../onnx/builder';
import { DataType } from '../../onnx/dtype';
import type { OnnxModel } from '../../onnx/model';
import type { ExternalDataWriter } from '../../onnx/save';
import { EXTERNAL_THRESHOLD } from '../emit';
import { NodeProtoSchema, type GraphProto, type NodeProto, type TensorProto } from '../../onnx/schema';
import { floatTensor, int32Tensor, int8Tensor, readFloat32, tensorShape, uint8Tensor } from '../../onnx/tensor';
import { computeQuantParams, fullRange, quantizeValue, quantRange, type QuantParams } from '../math';
import type { PlannedNode, StaticPlan } from './plan';
import { quantizeWeightAndBias, type QuantizedWeight } from './weights';

export interface EmitOptions {
  activationType: 'uint8' | 'int8';
  symmetricActivations: boolean;
  /** Per-channel weights allowed (option on and opset ≥ 13). */
  perChannel: boolean;
  /** Per node, when per-node overrides exist: replaces `perChannel` for that node's weight. */
  perChannelFor?: (node: NodeProto) => boolean;
  reduceRange: boolean;
  /** Keep float weights behind a Q→DQ pair (TensorRT style) instead of stored int8. */
  addQdqPairToWeight: boolean;
}

export interface TensorParams {
  /** Scale and zero-point initializer names. */
  scale: string;
  zeroPoint: string;
  params: QuantParams;
}

export interface QuantizedInitializer {
  /** The quantized tensor (int8 weight, int32 bias, or activation-typed constant). */
  name: string;
  scale: string;
  zeroPoint: string;
  /** Per-channel axis of the scale, when per channel. */
  axis: number | undefined;
  /** Float scales (for the bias scale and QOperator). */
  scales: Float32Array;
}

export class Names {
  private readonly used: Set<string>;

  /** `shared`: the model's names, used and added to by every graph's writer (a body's names must not shadow another graph's). */
  constructor(graph: GraphProto, shared?: Set<string>) {
    this.used = shared ?? new Set<string>();
    for (const t of graph.initializer) this.used.add(t.name);
    for (const v of [...graph.input, ...graph.output, ...graph.valueInfo]) this.used.add(v.name);
    for (const n of graph.node) {
      if (n.name) this.used.add(n.name);
      for (const x of [...n.input, ...n.output]) if (x) this.used.add(x);
    }
  }

  unique(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }
}

export class StaticBuilder {
  readonly names: Names;
  readonly initializers: TensorProto[] = [];
  readonly warnings: string[] = [];
  private readonly inits: Map<string, TensorProto>;
  private readonly tensorParamCache = new Map<string, TensorParams>();
  readonly qType: DataType.UINT8 | DataType.INT8;

  constructor(
    readonly graph: GraphProto,
    readonly plan: StaticPlan,
    /** Resolved parameters per planned tensor (aliases already resolved). */
    readonly params: Map<string, QuantParams>,
    readonly options: EmitOptions,
    readonly source: Pick<OnnxModel, 'external'> | undefined,
    /** The output's data file: quantized weights go there as they are made, not held until saving. */
    private readonly writer?: ExternalDataWriter,
    /** The model's names, shared by the writers of all its graphs (see Names). */
    sharedNames?: Set<string>,
  ) {
    this.names = new Names(graph, sharedNames);
    this.inits = new Map(graph.initializer.map((t) => [t.name, t]));
    for (const n of graph.node) {
      const v = n.opType === 'Constant' ? n.attribute.find((a) => a.name === 'value')?.t : undefined;
      if (v && n.output[0]) this.inits.set(n.output[0], v);
    }
    this.qType = options.activationType === 'uint8' ? DataType.UINT8 : DataType.INT8;
  }

  /** A new initializer; a large one is written to the data file at once (its bytes let go). */
  private add(t: TensorProto): void {
    if (this.writer && t.rawData.length >= EXTERNAL_THRESHOLD) this.writer.externalize(t, t.rawData);
    this.initializers.push(t);
  }

  node(opType: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue> = {}, domain = ''): NodeProto {
    const n = create(NodeProtoSchema, { opType, input: inputs, output: outputs, domain, name: this.names.unique(`${outputs[0]}_${opType}`) });
    for (const [k, v] of Object.entries(attrs)) n.attribute.push(makeAttribute(k, v));
    return n;
  }

  /** Root of a planned tensor's parameter alias chain. */
  root(name: string): string {
    let t = this.plan.tensors.get(name);
    const seen = new Set<string>();
    while (t?.aliasOf && !seen.has(t.aliasOf)) {
      seen.add(t.aliasOf);
      t = this.plan.tensors.get(t.aliasOf);
    }
    return t?.name ?? name;
  }

  /** Scale/zero-point initializers of an activation tensor (shared along pass-through aliases). */
  tensorParams(name: string): TensorParams {
    const root = this.root(name);
    let tp = this.tensorParamCache.get(root);
    if (!tp) {
      const params = this.params.get(root);
      if (!params) throw new Error(`no quantization parameters for '${root}'`);
      const scale = this.names.unique(`${root}_scale`);
      const zeroPoint = this.names.unique(`${root}_zero_point`);
      this.add(floatTensor(scale, [], [params.scale]));
      this.add(this.zpTensor(zeroPoint, [], [params.zeroPoint]));
      tp = { scale, zeroPoint, params };
      this.tensorParamCache.set(root, tp);
    }
    return tp;
  }

  private zpTensor(name: string, dims: number[], values: number[]): TensorProto {
    return this.qType === DataType.UINT8 ? uint8Tensor(name, dims, values) : int8Tensor(name, dims, values);
  }

  initializer(name: string): TensorProto | undefined {
    return this.inits.get(name);
  }

  /**
   * Quantized weight and bias of a Conv/ConvTranspose/Gemm/MatMul, scales consistent with the
   * activation input's scale. Returns undefined pieces when the node has none.
   */
  weightAndBias(p: PlannedNode): { weight?: QuantizedInitializer; bias?: QuantizedInitializer; floatWeight?: { name: string; scale: string; zeroPoint: string; axis: number | undefined } } {
    if (!p.weight) return {};
    const node = p.node;
    const wTensor = this.inits.get(node.input[p.weight.index]!)!;
    const shape = tensorShape(wTensor);
    let values: ArrayLike<number> = readFloat32(wTensor, this.source);
    if (p.alpha !== 1) values = Float32Array.from(values, (v) => v * p.alpha);
    const perChannel = this.options.perChannelFor ? this.options.perChannelFor(node) : this.options.perChannel;
    const axis = perChannel ? p.weight.axis : undefined;
    const inputName = node.input[p.activations[0] ?? 0]!;
    const inputScale = this.params.get(this.root(inputName))?.scale;
    let biasValues: Float32Array | undefined;
    if (p.bias !== undefined && !this.options.addQdqPairToWeight) {
      biasValues = readFloat32(this.inits.get(node.input[p.bias]!)!, this.source);
      if (p.beta !== 1) biasValues = Float32Array.from(biasValues, (v) => v * p.beta);
    }
    const q = quantizeWeightAndBias(values, shape, axis, this.options.reduceRange, inputScale, biasValues, true);
    if (q.adjustedChannels > 0) {
      this.warnings.push(`${node.name || node.output[0]}: weight scale enlarged on ${q.adjustedChannels} channel(s) so the int32 bias does not overflow`);
    }
    const wName = wTensor.name;
    const channels = q.weight.scales.length;
    const scaleDims = axis === undefined ? [] : [channels];
    const wScale = this.names.unique(`${wName}_scale`);
    const wZp = this.names.unique(`${wName}_zero_point`);
    this.add(floatTensor(wScale, scaleDims, q.weight.scales));
    this.add(int8Tensor(wZp, scaleDims, new Array(channels).fill(0)));
    if (this.options.addQdqPairToWeight) {
      // Float weight (alpha folded if needed) behind Q → DQ: what TensorRT wants.
      let floatName = wName;
      if (p.alpha !== 1) {
        floatName = this.names.unique(`${wName}_scaled`);
        this.add(floatTensor(floatName, shape, values));
      }
      return { floatWeight: { name: floatName, scale: wScale, zeroPoint: wZp, axis } };
    }
    const wq = this.names.unique(`${wName}_quantized`);
    this.add(int8Tensor(wq, shape, q.weight.data));
    const weight: QuantizedInitializer = { name: wq, scale: wScale, zeroPoint: wZp, axis, scales: q.weight.scales };
    let bias: QuantizedInitializer | undefined;
    if (q.bias && p.bias !== undefined) {
      const bName = node.input[p.bias]!;
      const n = q.bias.data.length;
      const perChannel = q.bias.scales.length > 1;
      const bq = this.names.unique(`${bName}_quantized`);
      const bScale = this.names.unique(`${bName}_scale`);
      const bZp = this.names.unique(`${bName}_zero_point`);
      this.add(int32Tensor(bq, [n], q.bias.data));
      this.add(floatTensor(bScale, perChannel ? [n] : [], q.bias.scales));
      this.add(int32Tensor(bZp, perChannel ? [n] : [], new Array(perChannel ? n : 1).fill(0)));
      bias = { name: bq, scale: bScale, zeroPoint: bZp, axis: perChannel ? 0 : undefined, scales: q.bias.scales };
    }
    return { weight, bias };
  }

  /** A constant float input of Add/Mul/Concat quantized per tensor in the activation type. */
  constant(name: string): QuantizedInitializer {
    const t = this.inits.get(name)!;
    const values = readFloat32(t, this.source);
    let min = Infinity;
    let max = -Infinity;
    for (const v of values) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const type = this.options.activationType;
    const sym = this.options.symmetricActivations;
    const params = computeQuantParams(min, max, quantRange(type, { symmetric: sym }), sym);
    const full = fullRange(type);
    const q = Array.from(values, (v) => quantizeValue(v, params.scale, params.zeroPoint, full));
    const qName = this.names.unique(`${name}_quantized`);
    const scale = this.names.unique(`${name}_scale`);
    const zp = this.names.unique(`${name}_zero_point`);
    const dims = tensorShape(t);
    this.add(this.qType === DataType.UINT8 ? uint8Tensor(qName, dims, q) : int8Tensor(qName, dims, q));
    this.add(floatTensor(scale, [], [params.scale]));
    this.add(this.zpTensor(zp, [], [params.zeroPoint]));
    return { name: qName, scale, zeroPoint: zp, axis: undefined, scales: Float32Array.of(params.scale) };
  }
}

/** Attribute helper for DequantizeLinear/QuantizeLinear with a per-channel axis. */
export function axisAttrs(axis: number | undefined): Record<string, number> {
  return axis === undefined ? {} : { axis };
}

export type { QuantizedWeight };
