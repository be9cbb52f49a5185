/**
 * QOperator writer: planned ops become their integer operators (QLinearConv, QLinearMatMul,
 * com.microsoft QGemm / QLinearAdd / QLinearMul / QLinearConcat / QLinearGlobalAveragePool /
 * QLinearAveragePool / QLinearLeakyRelu / QLinearSigmoid / QLinearSoftmax, MatMulIntegerToFloat),
 * pass-through ops run on the 8-bit tensor, QuantizeLinear at the entry of each quantized region
 * and DequantizeLinear at its exits (graph outputs and float consumers read the original name).
 * Ops without an integer operator (ConvTranspose) keep a DQ → op → Q sandwich.
 */
import { create } from '@bufbuild/protobuf';
import { attrInt, makeAttribute, type AttrValue, withFields } from '../../onnx/builder';
import { NodeProtoSchema, type NodeProto } from '../../onnx/schema';
import { axisAttrs, type StaticBuilder } from './builder';
import type { PlannedNode } from './plan';
import { opRule } from '../../onnx/op-rules';
import type { EmittedGraph } from './qdq';

const MS = 'com.microsoft';

export function emitQOperator(b: StaticBuilder, opset: number): EmittedGraph {
  const { graph, plan } = b;
  const outputs = new Set(graph.output.map((o) => o.name));
  const producer = new Map<string, NodeProto>();
  for (const n of graph.node) for (const o of n.output) if (o) producer.set(o, n);
  const planned = (n: NodeProto | undefined): boolean => !!n && plan.nodes.has(n);

  // 8-bit name of each planned tensor; which source tensor feeds which logical tensor.
  const qname = new Map<string, string>();
  const bySource = new Map<string, string>();
  for (const t of plan.tensors.values()) {
    qname.set(t.name, b.names.unique(`${t.name}_quantized`));
    bySource.set(t.source, t.name);
  }
  const floatReaders = new Map<string, number>();
  for (const n of graph.node) {
    if (planned(n) || plan.folded.has(n)) continue;
    for (const i of n.input) if (i) floatReaders.set(i, (floatReaders.get(i) ?? 0) + 1);
  }
  for (const name of plan.subgraphReads) floatReaders.set(name, (floatReaders.get(name) ?? 0) + 1);

  const nodes: NodeProto[] = [];
  let usesContribOps = false;
  const params = (t: string): [string, string] => {
    const p = b.tensorParams(t);
    return [p.scale, p.zeroPoint];
  };
  const entry = (logical: string): void => {
    nodes.push(b.node('QuantizeLinear', [logical, ...params(logical)], [qname.get(logical)!]));
  };
  const exit = (logical: string): void => {
    if (!outputs.has(logical) && !floatReaders.has(logical)) return;
    nodes.push(b.node('DequantizeLinear', [qname.get(logical)!, ...params(logical)], [logical]));
  };

  // Tensors produced outside quantized regions enter through a QuantizeLinear.
  for (const t of plan.tensors.values()) if (!producer.has(t.source)) entry(t.name);

  let quantizedNodes = 0;
  for (const node of graph.node) {
    if (plan.folded.has(node)) continue;
    const p = plan.nodes.get(node);
    if (!p) {
      nodes.push(node);
      for (const o of node.output) {
        const logical = bySource.get(o);
        if (logical) entry(logical);
      }
      continue;
    }
    quantizedNodes++;
    const out = node.output[0]!;
    const outLogical = bySource.get(out);
    if (p.kind === 'passthrough') {
      const inputs = [...node.input];
      inputs[0] = qname.get(node.input[0]!)!;
      nodes.push(withFields(node, { input: inputs, output: node.output.map((o) => (o ? qname.get(o) ?? o : o)) }));
      for (const o of node.output) if (o && plan.tensors.has(o)) exit(o);
      continue;
    }
    usesContribOps = emitCompute(b, p, nodes, qname, outLogical, opset) || usesContribOps;
    if (outLogical) exit(outLogical);
  }
  return { nodes, quantizedNodes, usesContribOps };
}

/** One compute op as its integer operator; returns whether a com.microsoft op was used. */
function emitCompute(b: StaticBuilder, p: PlannedNode, nodes: NodeProto[], qname: Map<string, string>, outLogical: string | undefined, opset: number): boolean {
  const node = p.node;
  const op = node.opType;
  // The integer operator's name comes from the op-rules table (the analysis recognises the same names).
  const integerOp = opRule(node)?.qoperator ?? '';
  const q = (i: number): string => qname.get(node.input[i]!)!;
  const sz = (name: string): [string, string] => {
    const tp = b.tensorParams(name);
    return [tp.scale, tp.zeroPoint];
  };
  const inParams = (i: number): [string, string, string] => [q(i), ...sz(node.input[i]!)];
  const y = outLogical ? qname.get(outLogical)! : node.output[0]!;
  const yParams = outLogical ? sz(outLogical) : undefined;
  const attrs = copyAttrs(node);
  const emit = (type: string, inputs: string[], extra: Record<string, AttrValue> = {}, domain = ''): boolean => {
    const n = create(NodeProtoSchema, { opType: type, domain, input: inputs, output: [y], name: b.names.unique(`${node.name || y}_quant`) });
    for (const a of attrs) n.attribute.push(a);
    for (const [k, v] of Object.entries(extra)) {
      n.attribute = n.attribute.filter((x) => x.name !== k);
      n.attribute.push(makeAttribute(k, v));
    }
    nodes.push(n);
    return domain === MS;
  };
  const input = (i: number): [string, string, string] => {
    if (p.constants.includes(i)) {
      const c = b.constant(node.input[i]!);
      return [c.name, c.scale, c.zeroPoint];
    }
    return inParams(i);
  };

  switch (op) {
    case 'Conv': {
      const wb = b.weightAndBias(p);
      const w = wb.weight!;
      return emit(integerOp, [...inParams(0), w.name, w.scale, w.zeroPoint, ...yParams!, ...(wb.bias ? [wb.bias.name] : [])]);
    }
    case 'Gemm': {
      const wb = b.weightAndBias(p);
      const w = wb.weight!;
      const inputs = [...inParams(0), w.name, w.scale, w.zeroPoint, wb.bias ? wb.bias.name : '', ...(yParams ?? [])];
      while (inputs[inputs.length - 1] === '') inputs.pop();
      // alpha is folded into the weight and beta into the int32 bias.
      return emit(integerOp, inputs, { alpha: { float: 1 }, transA: 0, transB: attrInt(node, 'transB', 0) }, MS);
    }
    case 'MatMul': {
      let bIn: [string, string, string];
      if (p.weight) {
        const w = b.weightAndBias(p).weight!;
        bIn = [w.name, w.scale, w.zeroPoint];
      } else bIn = inParams(1);
      if (!yParams) {
        // Float output (graph output): MatMulIntegerToFloat(A, B, a_scale, b_scale, a_zp, b_zp).
        const a = inParams(0);
        return emit('MatMulIntegerToFloat', [a[0], bIn[0], a[1], bIn[1], a[2], bIn[2]], {}, MS);
      }
      return emit(integerOp, [...inParams(0), ...bIn, ...yParams]);
    }
    case 'Add':
    case 'Mul':
      return emit(integerOp, [...input(0), ...input(1), ...yParams!], {}, MS);
    case 'Concat':
      return emit(integerOp, [...yParams!, ...node.input.flatMap((_, i) => input(i))], {}, MS);
    case 'GlobalAveragePool':
      return emit(integerOp, [...inParams(0), ...yParams!], { channels_last: 0 }, MS);
    case 'AveragePool':
      return emit(integerOp, [...inParams(0), ...yParams!], { channels_last: 0 }, MS);
    case 'LeakyRelu':
      return emit(integerOp, [...inParams(0), ...yParams!], {}, MS);
    case 'Sigmoid':
      return emit(integerOp, [...inParams(0), ...yParams!], {}, MS);
    case 'Softmax': {
      const axis = node.attribute.find((a) => a.name === 'axis') ? attrInt(node, 'axis', -1) : opset >= 13 ? -1 : 1;
      return emit(integerOp, [...inParams(0), ...yParams!], { axis, opset }, MS);
    }
    default: {
      // No integer operator: DQ → float op → Q, as in QDQ (ORT may still fuse it).
      const inputs = [...node.input];
      for (const i of p.activations) {
        const dq = b.names.unique(`${node.input[i]}_DequantizeLinear_Output`);
        nodes.push(b.node('DequantizeLinear', [q(i), ...sz(node.input[i]!)], [dq]));
        inputs[i] = dq;
      }
      const wb = b.weightAndBias(p);
      if (wb.weight && p.weight) {
        const dq = b.names.unique(`${node.input[p.weight.index]}_DequantizeLinear_Output`);
        nodes.push(b.node('DequantizeLinear', [wb.weight.name, wb.weight.scale, wb.weight.zeroPoint], [dq], axisAttrs(wb.weight.axis)));
        inputs[p.weight.index] = dq;
      }
      if (wb.bias && p.bias !== undefined) {
        const dq = b.names.unique(`${node.input[p.bias]}_DequantizeLinear_Output`);
        nodes.push(b.node('DequantizeLinear', [wb.bias.name, wb.bias.scale, wb.bias.zeroPoint], [dq], axisAttrs(wb.bias.axis)));
        inputs[p.bias] = dq;
      }
      const floatOut = b.names.unique(`${node.output[0]}_float`);
      nodes.push(withFields(node, { input: inputs, output: [floatOut] }));
      nodes.push(b.node('QuantizeLinear', [floatOut, ...yParams!], [y]));
      return false;
    }
  }
}

function copyAttrs(node: NodeProto): NodeProto['attribute'] {
  // Gemm's beta is folded into the int32 bias; alpha into the weight.
  return node.attribute.filter((a) => !(node.opType === 'Gemm' && (a.name === 'beta' || a.name === 'alpha')));
}

