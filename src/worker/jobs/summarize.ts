/**
 * `summarize` job: the explorer's ModelOverview, from the analysis module's summary (the
 * `inspect` contract and its extras), reshaped for the tree: operators grouped with their
 * quantizable count, the largest initializers, and one line per quantized form found.
 */
import { summarizeModel, type ModelSummary } from '../../core/analysis/summary';
import type { LayerInfo as AnalysisLayer } from '../../core/analysis/layers';
import { throwIfCancelled } from '../../core/errors';
import { loadModel } from '../../core/onnx/model';
import type { JobContext } from '../../core/progress';
import type { LayerInfo, ModelOverview, OperatorGroup, SummarizeJob, TensorInfo } from '../../shared/protocol';

const LARGEST = 8;

export function summarize(job: SummarizeJob, ctx: JobContext): ModelOverview {
  ctx.onProgress?.({ stage: 'loading' });
  const model = loadModel(job.model);
  throwIfCancelled(ctx.signal);
  ctx.onProgress?.({ stage: 'analysing' });
  const s = summarizeModel(model);
  return {
    path: model.path,
    fileBytes: s.fileBytes,
    irVersion: s.irVersion,
    producer: s.producer,
    opsets: s.opsets,
    inputs: s.inputs.map(tensorInfo),
    outputs: s.outputs.map(tensorInfo),
    nodeCount: s.nodeCount,
    parameterCount: s.parameterCount,
    operators: operatorGroups(s.opCounts, s.layers),
    largestInitializers: s.largestTensors.slice(0, LARGEST).map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, bytes: t.bytes })),
    quantization: { format: s.quantization.format, quantizedNodeCount: s.quantization.quantizedNodeCount, details: quantizationDetails(s.quantization) },
    layers: s.layers.map((l): LayerInfo => ({ node: l.node, label: l.label, opType: l.opType, modes: [...l.modes], weightBytes: l.weightBytes, notes: [...l.notes] })),
  };
}

function tensorInfo(t: ModelSummary['inputs'][number]): TensorInfo {
  return { name: t.name, dtype: t.dtype, shape: (t.shape ?? []).map((d) => d ?? '?') };
}

/** Op key as opCounts spells it: plain for the default domain, `domain.Op` otherwise. */
const keyOf = (l: AnalysisLayer): string => (l.domain === '' || l.domain === 'ai.onnx' ? l.opType : `${l.domain}.${l.opType}`);

function operatorGroups(opCounts: Record<string, number>, layers: AnalysisLayer[]): OperatorGroup[] {
  const byKey = new Map<string, { quantizable: number; modes: Set<string> }>();
  for (const l of layers) {
    if (l.depth > 0 || l.modes.length === 0) continue;
    const g = byKey.get(keyOf(l)) ?? { quantizable: 0, modes: new Set<string>() };
    g.quantizable++;
    for (const m of l.modes) g.modes.add(m);
    byKey.set(keyOf(l), g);
  }
  return Object.entries(opCounts).map(([opType, count]) => {
    const g = byKey.get(opType);
    return { opType, count, quantizable: Math.min(count, g?.quantizable ?? 0), modes: g ? [...g.modes] : [] };
  });
}

/** "weight int8 per-channel ×3", "QuantizeLinear ×5, DequantizeLinear ×9", ...: what was quantized and how. */
function quantizationDetails(q: ModelSummary['quantization']): string[] {
  const lines: string[] = [];
  if (q.families.length > 1) lines.push(`families: ${q.families.join(', ')}`);
  if (q.quantizeLinearCount || q.dequantizeLinearCount) lines.push(`QuantizeLinear ×${q.quantizeLinearCount}, DequantizeLinear ×${q.dequantizeLinearCount}`);
  const forms = new Map<string, number>();
  for (const t of q.tensors) {
    const scale = t.scale ? (t.scale.kind === 'blocked' && t.scale.blockSize ? `blocked (${t.scale.blockSize})` : t.scale.kind) : 'no scale';
    const key = `${t.role} ${t.type} ${scale}`;
    forms.set(key, (forms.get(key) ?? 0) + 1);
  }
  for (const [form, n] of [...forms].sort((a, b) => b[1] - a[1])) lines.push(`${form} ×${n}`);
  const notes = q.tensors.reduce((sum, t) => sum + t.notes.length, 0);
  if (notes) lines.push(`${notes} note${notes === 1 ? '' : 's'} on stored ranges`);
  return lines;
}
