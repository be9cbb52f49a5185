/**
 * QDQ writer: QuantizeLinear → DequantizeLinear on every planned activation tensor, weights stored
 * as int8 initializers feeding a lone DequantizeLinear, int32 biases, folded Relu/Clip removed.
 * Float ops stay in place; ONNX Runtime fuses each `DQ → op → Q` group into its QLinear kernel.
 * Graph outputs keep their names: the last DequantizeLinear writes the original output name.
 */
import { type NodeProto } from '../../onnx/schema';
import { axisAttrs, type StaticBuilder } from './builder';
import { QDQ_PROPAGATION_OPS } from './plan';
import { withFields } from '../../onnx/builder';

export interface EmittedGraph {
  nodes: NodeProto[];
  quantizedNodes: number;
  usesContribOps: boolean;
}

export function emitQdq(b: StaticBuilder): EmittedGraph {
  const { graph, plan } = b;
  const outputs = new Set(graph.output.map((o) => o.name));
  const produced = new Set<string>();
  for (const n of graph.node) for (const o of n.output) if (o) produced.add(o);

  // Names consumers read (DQ outputs) and renamed producer outputs (graph outputs keep their name on the DQ).
  const readAs = new Map<string, string>();
  const writeAs = new Map<string, string>();
  const bySource = new Map<string, string[]>();
  for (const t of plan.tensors.values()) {
    if (outputs.has(t.name)) {
      if (t.source === t.name) writeAs.set(t.source, b.names.unique(`${t.name}_QuantizeLinear_Input`));
    } else {
      readAs.set(t.name, b.names.unique(`${t.name}_DequantizeLinear_Output`));
    }
    (bySource.get(t.source) ?? bySource.set(t.source, []).get(t.source)!).push(t.name);
  }

  const nodes: NodeProto[] = [];
  const emitPair = (logical: string): void => {
    const t = plan.tensors.get(logical)!;
    const p = b.tensorParams(logical);
    const src = writeAs.get(t.source) ?? t.source;
    const q = b.names.unique(`${logical}_QuantizeLinear_Output`);
    const dq = readAs.get(logical) ?? logical;
    nodes.push(b.node('QuantizeLinear', [src, p.scale, p.zeroPoint], [q]));
    nodes.push(b.node('DequantizeLinear', [q, p.scale, p.zeroPoint], [dq]));
  };

  // Graph inputs (and any tensor not produced by a node) are quantized at the top.
  for (const [source, logicals] of bySource) if (!produced.has(source)) logicals.forEach(emitPair);

  // A float op of a chain into a subgraph reads the float tensor (ORT's QDQ propagation would fail on it).
  const readsFloat = (node: NodeProto): boolean => !plan.nodes.has(node) && QDQ_PROPAGATION_OPS.has(node.opType) && node.output.some((o) => plan.subgraphReads.has(o));

  let quantizedNodes = 0;
  for (const node of graph.node) {
    if (plan.folded.has(node)) continue;
    const planned = plan.nodes.get(node);
    const floatReader = readsFloat(node);
    const inputs = node.input.map((i) => (floatReader && !outputs.has(i) ? i : (readAs.get(i) ?? i)));
    const out = withFields(node, { input: inputs, output: node.output.map((o) => writeAs.get(o) ?? o) });
    if (planned) {
      quantizedNodes++;
      if (planned.kind === 'compute') {
        const wb = b.weightAndBias(planned);
        if (wb.weight && planned.weight) {
          const dq = b.names.unique(`${node.input[planned.weight.index]}_DequantizeLinear_Output`);
          nodes.push(b.node('DequantizeLinear', [wb.weight.name, wb.weight.scale, wb.weight.zeroPoint], [dq], axisAttrs(wb.weight.axis)));
          inputs[planned.weight.index] = dq;
        }
        if (wb.floatWeight && planned.weight) {
          const w = wb.floatWeight;
          const q = b.names.unique(`${w.name}_QuantizeLinear_Output`);
          const dq = b.names.unique(`${w.name}_DequantizeLinear_Output`);
          nodes.push(b.node('QuantizeLinear', [w.name, w.scale, w.zeroPoint], [q], axisAttrs(w.axis)));
          nodes.push(b.node('DequantizeLinear', [q, w.scale, w.zeroPoint], [dq], axisAttrs(w.axis)));
          inputs[planned.weight.index] = dq;
        }
        if (wb.bias && planned.bias !== undefined) {
          const dq = b.names.unique(`${node.input[planned.bias]}_DequantizeLinear_Output`);
          nodes.push(b.node('DequantizeLinear', [wb.bias.name, wb.bias.scale, wb.bias.zeroPoint], [dq], axisAttrs(wb.bias.axis)));
          inputs[planned.bias] = dq;
        }
        for (const i of planned.constants) {
          const c = b.constant(node.input[i]!);
          const dq = b.names.unique(`${node.input[i]}_DequantizeLinear_Output`);
          nodes.push(b.node('DequantizeLinear', [c.name, c.scale, c.zeroPoint], [dq]));
          inputs[i] = dq;
        }
        if (node.opType === 'Gemm' && (planned.alpha !== 1 || planned.beta !== 1)) {
          // alpha went into the weight; beta into the bias (or stays with a float bias).
          const keepBeta = b.options.addQdqPairToWeight && planned.bias !== undefined;
          out.attribute = out.attribute.filter((a) => a.name !== 'alpha' && (keepBeta || a.name !== 'beta'));
        }
      }
      out.input = inputs;
    }
    nodes.push(out);
    for (const o of node.output) for (const logical of bySource.get(o) ?? []) emitPair(logical);
  }
  return { nodes, quantizedNodes, usesContribOps: false };
}
