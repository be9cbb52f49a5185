/**
 * Turns whatever the summary job returned into the editor's DTOs (card, op chart, layer rows).
 *
 * The summary crosses a process boundary and describes an untrusted file, so it is read
 * defensively: missing or mistyped fields become empty values instead of exceptions. Accepted
 * shapes: the `inspect --json` contract (opCounts, layers[{node, opType, modes, weightBytes,
 * notes}], byOpType) and the worker's ModelOverview (operators[{opType, count, quantizable}]); an optional
 * `nodes` array ([{name, opType}], graph order) adds the layers quantization cannot act on.
 * No `vscode` import: unit-tested and benchmarked directly.
 */
import type { LayerRowDto, ModelCardDto, OpStatDto, TensorDto } from '../../shared/webviewMessages';

export interface EditorModel {
  card: ModelCardDto;
  ops: OpStatDto[];
  rows: LayerRowDto[];
}

type Obj = Record<string, unknown>;
const obj = (x: unknown): Obj => (typeof x === 'object' && x !== null && !Array.isArray(x) ? (x as Obj) : {});
const arr = (x: unknown): unknown[] => (Array.isArray(x) ? x : []);
const str = (x: unknown): string => (typeof x === 'string' ? x : typeof x === 'number' || typeof x === 'bigint' ? String(x) : '');
const count = (x: unknown): number => {
  const n = typeof x === 'bigint' ? Number(x) : x;
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? Math.floor(Math.min(n, Number.MAX_SAFE_INTEGER)) : 0;
};
const countOrNull = (x: unknown): number | null => (x === undefined || x === null ? null : count(x));

function tensor(x: unknown): TensorDto {
  const t = obj(x);
  const shape = arr(t.shape).map((d) => (typeof d === 'number' && Number.isFinite(d) ? d : str(d) || '?'));
  return { name: str(t.name), dtype: str(t.dtype ?? t.type), shape };
}

/** A note is a string or an object with a message (or code). */
function noteText(x: unknown): string {
  if (typeof x === 'string') return x;
  const o = obj(x);
  return str(o.message ?? o.text ?? o.code);
}

export function toEditorModel(summary: unknown, fileName: string): EditorModel {
  const s = obj(summary);
  const producer = obj(s.producer);
  const producerText = [str(producer.name ?? s.producerName), str(producer.version ?? s.producerVersion)].filter(Boolean).join(' ');
  const opsets = Object.entries(obj(s.opsets))
    .map(([domain, version]) => ({ domain, version: count(version) }))
    .sort((a, b) => a.domain.localeCompare(b.domain));
  const quantization = obj(s.quantization);

  const rows = layerRows(s);
  const card: ModelCardDto = {
    fileName,
    fileBytes: count(s.fileBytes),
    irVersion: countOrNull(s.irVersion),
    producer: producerText,
    opsets,
    inputs: arr(s.inputs).map(tensor),
    outputs: arr(s.outputs).map(tensor),
    nodeCount: count(s.nodeCount),
    parameterCount: count(s.parameterCount),
    initializerBytes: countOrNull(s.initializerBytes),
    quantization: { format: str(quantization.format) || 'unknown', quantizedNodeCount: count(quantization.quantizedNodeCount) },
  };
  return { card, ops: opStats(s, rows), rows };
}

function layerRows(s: Obj): LayerRowDto[] {
  const layers = arr(s.layers).map(obj);
  const nodes = arr(s.nodes).map(obj);
  const byName = new Map<string, Obj>();
  for (const l of layers) byName.set(str(l.node ?? l.name), l);
  // Op types keyed as the contract spells them (`com.microsoft.MatMulNBits`), like opCounts.
  const opKey = (o: Obj): string => {
    const domain = str(o.domain);
    return domain && domain !== 'ai.onnx' ? `${domain}.${str(o.opType)}` : str(o.opType);
  };
  const row = (index: number, node: string, opType: string, l: Obj | undefined): LayerRowDto => ({
    index,
    node,
    label: str(l?.label) || node,
    opType,
    weightBytes: count(l?.weightBytes),
    modes: arr(l?.modes).map(str).filter(Boolean),
    notes: arr(l?.notes).map(noteText).filter(Boolean),
    diagnostics: [],
  });
  if (nodes.length > 0) {
    return nodes.map((n, i) => {
      const name = str(n.name ?? n.node);
      return row(i, name, opKey(n), byName.get(name));
    });
  }
  return layers.map((l, i) => row(typeof l.index === 'number' ? count(l.index) : i, str(l.node ?? l.name), opKey(l), l));
}

function opStats(s: Obj, rows: LayerRowDto[]): OpStatDto[] {
  const stats = new Map<string, OpStatDto>();
  const stat = (opType: string): OpStatDto => {
    let st = stats.get(opType);
    if (!st) stats.set(opType, (st = { opType, count: 0, weightBytes: 0, quantizable: 0 }));
    return st;
  };
  for (const [opType, n] of Object.entries(obj(s.opCounts))) stat(opType).count = count(n);
  const operators = arr(s.operators).map(obj);
  for (const o of operators) {
    const st = stat(str(o.opType));
    st.count = count(o.count);
    st.quantizable = count(o.quantizable);
  }
  const haveCounts = stats.size > 0;
  for (const r of rows) {
    const st = stat(r.opType);
    if (!haveCounts) st.count++;
    st.weightBytes += r.weightBytes;
    if (operators.length === 0 && r.modes.length > 0) st.quantizable++;
  }
  // Initializer bytes by consuming op type (summarizeModel's byOpType) beat the layer sums:
  // they include weights of ops no quantization mode touches.
  const byOpType = Object.entries(obj(s.byOpType));
  if (byOpType.length > 0) {
    for (const st of stats.values()) st.weightBytes = 0;
    for (const [opType, tally] of byOpType) stat(opType).weightBytes = count(obj(tally).bytes);
  }
  return [...stats.values()].sort((a, b) => b.weightBytes - a.weightBytes || b.count - a.count || a.opType.localeCompare(b.opType));
}
