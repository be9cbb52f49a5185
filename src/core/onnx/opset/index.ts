/**
 * Opset conversion of the ai.onnx domain, forward only (opset 1-12 → at most 13): every node is
 * walked through each new definition of its op between the model's opset and the target, and
 * rewritten by that definition's adapter where the signature or meaning changed (adapters.ts).
 * Subgraph bodies (If/Loop/Scan) are converted with their graphs; ops of other domains are left
 * alone. A node with no exact equivalent makes the whole conversion fail with an InputError
 * naming the op, the node and the opsets. The input model is not modified.
 */
import { create } from '@bufbuild/protobuf';
import { InputError } from '../../errors';
import { opsetVersion } from '../builder';
import { AttributeProtoSchema, ModelProtoSchema, NodeProtoSchema, OperatorSetIdProtoSchema, type GraphProto, type ModelProto, type NodeProto } from '../schema';
import { walkGraphs } from '../walk';
import { adapterFor } from './adapters';
import { definitionAt, NEWEST_KNOWN_OPSET, nextDefinition } from './history';
import { copyMessage, GraphScope, ModelNames, NodeRewrite, NotConvertible } from './rewrite';

export { NEWEST_KNOWN_OPSET } from './history';

export interface OpsetConversion {
  from: number;
  to: number;
  /** Nodes (in all graphs) an adapter rewrote or replaced. */
  rewrittenNodes: number;
  /** Rewritten nodes per op type of the original model. */
  byOpType: Record<string, number>;
  /** Outputs of the rewritten nodes of the main graph (same names before and after), in graph order. */
  rewrittenOutputs: { output: string; opType: string; node: string }[];
  /** "converted opset 9 → 13: 14 nodes rewritten". */
  summary: string;
}

/** Minimum IR version for an opset (IR 5 brought opset 10, 6 → 11, 7 → 12 and 13). */
const IR_FOR_OPSET: Record<number, bigint> = { 10: 5n, 11: 6n, 12: 7n, 13: 7n };

const isDefaultDomain = (domain: string) => domain === '' || domain === 'ai.onnx';
const nodeLabel = (node: NodeProto) => node.name || node.output[0] || node.opType;

/** Convert `proto` to ai.onnx opset `target`; a model already at `target` or newer comes back as it is. */
export function convertOpset(proto: ModelProto, target: number): { proto: ModelProto; conversion: OpsetConversion } {
  if (target > NEWEST_KNOWN_OPSET) throw new InputError(`opset conversion goes up to ${NEWEST_KNOWN_OPSET}, not ${target}`);
  const from = opsetVersion(proto, '') ?? 1;
  const conversion: OpsetConversion = { from, to: from, rewrittenNodes: 0, byOpType: {}, rewrittenOutputs: [], summary: `opset ${from} kept` };
  if (from >= target) return { proto, conversion };

  const main = proto.graph;
  if (!main) throw new InputError('the model has no graph');
  const names = new ModelNames(main, [...walkGraphs(main)].map((v) => v.graph));
  const graph = convertGraph(main, names, from, target, undefined, conversion);
  const irVersion = proto.irVersion < (IR_FOR_OPSET[target] ?? 7n) ? (IR_FOR_OPSET[target] ?? 7n) : proto.irVersion;
  // Before IR 4 initializers listed as graph inputs were constants; from IR 4 they would be overridable inputs.
  if (proto.irVersion < 4n) {
    const inits = new Set(graph.initializer.map((t) => t.name));
    graph.input = graph.input.filter((v) => !inits.has(v.name));
  }
  let hasDefault = false;
  const opsetImport = proto.opsetImport.map((o) => {
    if (!isDefaultDomain(o.domain)) return o;
    hasDefault = true;
    return create(OperatorSetIdProtoSchema, { domain: o.domain, version: BigInt(target) });
  });
  if (!hasDefault) opsetImport.push(create(OperatorSetIdProtoSchema, { domain: '', version: BigInt(target) }));
  conversion.to = target;
  conversion.summary = `converted opset ${from} → ${target}: ${conversion.rewrittenNodes} node${conversion.rewrittenNodes === 1 ? '' : 's'} rewritten`;
  return { proto: copyMessage(ModelProtoSchema, proto, { irVersion, opsetImport, graph }), conversion };
}

function convertGraph(
  graph: GraphProto,
  names: ModelNames,
  from: number,
  target: number,
  parent: GraphScope | undefined,
  conversion: OpsetConversion,
): GraphProto {
  const scope = new GraphScope(graph, names, from, target, parent);
  const nodes: NodeProto[] = [];
  for (const original of graph.node) {
    let node = original;
    if (node.attribute.some((a) => a.g || a.graphs.length)) {
      node = copyMessage(NodeProtoSchema, node, {
        attribute: node.attribute.map((a) =>
          a.g || a.graphs.length
            ? copyMessage(AttributeProtoSchema, a, {
                ...(a.g ? { g: convertGraph(a.g, names, from, target, scope, conversion) } : {}),
                graphs: a.graphs.map((g) => convertGraph(g, names, from, target, scope, conversion)),
              })
            : a,
        ),
      });
    }
    if (!isDefaultDomain(node.domain)) {
      nodes.push(node);
      continue;
    }
    const rewritten = convertNode(node, scope, from, target);
    if (rewritten) {
      conversion.rewrittenNodes++;
      conversion.byOpType[original.opType] = (conversion.byOpType[original.opType] ?? 0) + 1;
      if (!parent) for (const o of original.output) if (o) conversion.rewrittenOutputs.push({ output: o, opType: original.opType, node: nodeLabel(original) });
      nodes.push(...rewritten);
    } else nodes.push(node);
  }
  return scope.withInitializers(nodes);
}

/** The node's replacement (helper nodes included) in the target opset, or undefined when it needs no change. */
function convertNode(node: NodeProto, scope: GraphScope, from: number, target: number): NodeProto[] | undefined {
  const refuse = (why: string): never => {
    throw new InputError(`cannot convert the model from opset ${from} to ${target}: ${node.opType} node '${nodeLabel(node)}' ${why}`);
  };
  const since = definitionAt(node.opType, from);
  if (since === undefined) return refuse(`is not an ai.onnx operator at opset ${from} (experimental or unknown op)`);
  let version = since;
  const rw = new NodeRewrite(scope);
  let current = copyMessage(NodeProtoSchema, node, { input: [...node.input], output: [...node.output], attribute: [...node.attribute] });
  let changed = false;
  for (let next = nextDefinition(current.opType, version, target); next !== undefined; next = nextDefinition(current.opType, version, target)) {
    const adapter = adapterFor(current.opType, next);
    version = next;
    if (!adapter) {
      if (definitionAt(current.opType, next) === undefined) refuse(`was removed at opset ${next} and has no replacement here`);
      continue;
    }
    let result;
    try {
      result = adapter(current, rw);
    } catch (e) {
      if (e instanceof NotConvertible) refuse(`${e.message} (changed at opset ${next})`);
      throw e;
    }
    changed = true;
    if (result && 'version' in result && typeof result.version === 'number') {
      current = result.node;
      version = result.version;
    } else if (result) current = result as NodeProto;
  }
  if (definitionAt(current.opType, target) === undefined) refuse(`does not exist at opset ${target}`);
  // Attribute-only rewrites that found nothing to do leave the node as it was.
  if (!changed || (rw.before.length === 0 && rw.after.length === 0 && sameNode(node, current))) return undefined;
  return [...rw.before, current, ...rw.after];
}

function sameNode(a: NodeProto, b: NodeProto): boolean {
  return (
    a.opType === b.opType &&
    a.input.length === b.input.length &&
    a.input.every((x, i) => x === b.input[i]) &&
    a.output.every((x, i) => x === b.output[i]) &&
    a.output.length === b.output.length &&
    a.attribute.length === b.attribute.length &&
    a.attribute.every((x, i) => x === b.attribute[i])
  );
}
