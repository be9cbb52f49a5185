import * as path from 'node:path';
import { loadModel } from '../../core/onnx/model';
import { InputError } from '../../core/errors';
import { summarizeModel, type ModelSummary } from '../../core/analysis/summary';
import type { IOInfo } from '../../core/analysis/summary';
import type { LayerInfo } from '../../core/analysis/layers';
import type { QuantizedTensor } from '../../core/analysis/quantization';
import { formatBytes, inertText } from '../../core/report/format';
import { parseCommandArgs, table, type CommandModule } from '../io';

/** Layers and quantized tensors shown in the table view (the JSON has them all). */
const TABLE_LAYERS = 15;
const TABLE_QTENSORS = 20;

export const inspectCommand: CommandModule = {
  name: 'inspect',
  usage: 'onnx-quantizer inspect MODEL [--json [--stats]] [--no-stats]',
  async run(argv, io) {
    const { positionals, values } = parseCommandArgs(argv, { json: { type: 'boolean' }, stats: { type: 'boolean' }, 'no-stats': { type: 'boolean' } }, this.usage);
    const file = positionals[0];
    if (!file || positionals.length > 1) throw new InputError(`expected one MODEL\nusage: ${this.usage}`);
    // Large weights are read only if the statistics need them.
    const model = loadModel(file, { lazyWeights: true });
    try {
      // Weight statistics read every weight: the table shows their risks, JSON has them when asked (--stats).
      const stats = values.json ? !!values.stats && !values['no-stats'] : !values['no-stats'];
      const summary = summarizeModel(model, { stats });
      io.out(values.json ? JSON.stringify(summary) : renderSummary(summary));
    } finally {
      model.external.close();
    }
    return 0;
  },
};

/** The human-readable report: model card, I/O, operators, weights, quantization, layers. */
export function renderSummary(s: ModelSummary): string {
  const out: string[] = [];
  const ext = s.externalFiles.length ? ` (model ${formatBytes(s.modelFileBytes)} + ${s.externalFiles.length} external data file(s))` : '';
  const card: [string, string][] = [
    ['file', path.basename(s.file)],
    ['size', `${formatBytes(s.fileBytes)}${ext}`],
    ['IR version', String(s.irVersion)],
    ['producer', `${s.producer.name} ${s.producer.version}`.trim() || '(none)'],
    ['opsets', Object.entries(s.opsets).map(([d, v]) => `${d} ${v}`).join(', ') || '(none)'],
    ['nodes', `${s.nodeCount}${s.subgraphs.count ? ` (+ ${s.subgraphs.nodeCount} in ${s.subgraphs.count} subgraph(s))` : ''}`],
    ['initializers', `${s.initializerCount} (${s.parameterCount.toLocaleString('en-US')} parameters, ${formatBytes(s.initializerBytes)})`],
  ];
  if (s.constants.tensors) card.push(['Constant nodes', `${s.constants.tensors} (${s.constants.parameters.toLocaleString('en-US')} parameters, ${formatBytes(s.constants.bytes)})`]);
  card.push(['quantization', s.quantization.format === 'none' ? 'none (float model)' : `${s.quantization.format} (${s.quantization.quantizedNodeCount} quantized node(s)${s.quantization.format === 'mixed' ? `: ${s.quantization.families.join(', ')}` : ''})`]);
  const width = Math.max(...card.map(([k]) => k.length));
  out.push('Model', ...card.map(([k, v]) => `  ${k.padEnd(width)}  ${clean(v)}`), '');

  out.push('Inputs and outputs', indent(table(['', 'name', 'dtype', 'shape'], [...s.inputs.map((i) => ioRow('input', i)), ...s.outputs.map((o) => ioRow('output', o))])), '');

  const ops = Object.entries(s.opCounts);
  if (ops.length) out.push('Operators (main graph)', indent(table(['op', 'count'], ops.map(([k, v]) => [clean(k), v]))), '');
  const subOps = Object.entries(s.subgraphs.opCounts);
  if (subOps.length) out.push('Operators in subgraphs', indent(table(['op', 'count'], subOps.map(([k, v]) => [clean(k), v]))), '');

  const byOp = Object.entries(s.byOpType);
  if (byOp.length) {
    out.push('Weights by consuming op', indent(table(['op', 'tensors', 'parameters', 'bytes'], byOp.map(([k, t]) => [clean(k), t.tensors, t.parameters.toLocaleString('en-US'), formatBytes(t.bytes)]))), '');
  }
  const byType = Object.entries(s.byDtype);
  if (byType.length > 1) {
    out.push('Weights by dtype', indent(table(['dtype', 'tensors', 'parameters', 'bytes'], byType.map(([k, t]) => [k, t.tensors, t.parameters.toLocaleString('en-US'), formatBytes(t.bytes)]))), '');
  }

  const q = s.quantization;
  if (q.tensors.length) {
    const rows = q.tensors.slice(0, TABLE_QTENSORS).map(qRow);
    out.push(`Quantized tensors (${q.tensors.length}${q.tensors.length > TABLE_QTENSORS ? `, first ${TABLE_QTENSORS}` : ''})`);
    out.push(indent(table(['tensor', 'role', 'type', 'scale', 'zero point', 'stored range', 'at limits'], rows)));
    const notes = q.tensors.flatMap((t) => t.notes.map((n) => `  ! ${clean(t.tensor)}: ${clean(n)}`));
    out.push(...notes, '');
  }

  const layers = [...s.layers].sort((a, b) => b.weightBytes - a.weightBytes || a.index - b.index);
  const shown = layers.filter((l) => l.modes.length || l.notes.length || l.quantized).slice(0, TABLE_LAYERS);
  if (shown.length) {
    out.push(`Layers (${shown.length} of ${s.layers.length}, largest weights first)`);
    out.push(indent(table(['node', 'op', 'modes', 'weights', 'int8 after', 'int4 after'], shown.map(layerRow))));
    for (const l of shown) for (const n of l.notes) out.push(`  ! ${clean(l.node)}: ${clean(n)}`);
    out.push('');
  }
  return out.join('\n').trimEnd();
}

function ioRow(kind: string, io: IOInfo): string[] {
  const shape = io.shape ? `[${io.shape.map((d) => (d === null ? '?' : String(d))).join(', ')}]` : '?';
  return [kind, clean(io.name), io.dtype, clean(shape)];
}

function layerRow(l: LayerInfo): string[] {
  const modes = l.quantized ? `(quantized: ${l.quantized})` : l.modes.join(', ') + (l.onRequest ? `${l.modes.length ? ', ' : ''}(${l.onRequest.join(', ')} on request)` : '');
  const int8 = l.savings.dynamic ?? l.savings.static;
  const int4 = l.savings['weight-only'];
  return [clean(l.node), clean(l.domain ? `${l.domain}.${l.opType}` : l.opType), modes || '-', l.weightBytes ? formatBytes(l.weightBytes) : '-', int8 !== undefined ? formatBytes(int8) : '-', int4 !== undefined ? formatBytes(int4) : '-'];
}

function qRow(t: QuantizedTensor): string[] {
  const sc = t.scale;
  const scale = !sc ? '-' : sc.kind === 'per-tensor' ? num(sc.value) : `${sc.kind} ×${sc.count} axis ${sc.axis}: ${num(sc.min)}..${num(sc.max)}`;
  const z = t.zeroPoint;
  const zp = !z ? '-' : z.kind === 'per-tensor' || z.kind === 'implicit' ? `${z.value}${z.kind === 'implicit' ? ' (implicit)' : ''}` : `${z.min}..${z.max}`;
  const st = t.stored;
  const stored = st ? `${st.min}..${st.max} of ${st.qmin}..${st.qmax}` : '-';
  const limits = st ? `${st.atQmin} / ${st.atQmax}` : '-';
  return [clean(t.tensor), t.role, t.type, scale, zp, stored, limits];
}

function num(x: number): string {
  return x === 0 || (Math.abs(x) >= 1e-3 && Math.abs(x) < 1e4) ? String(Number(x.toPrecision(4))) : x.toExponential(3);
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}

/** Names come from the file: inert for the terminal (the one sanitizer, core/report/format). */
const clean = inertText;
