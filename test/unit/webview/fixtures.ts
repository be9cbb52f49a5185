// Synthetic layer rows for paging and virtualisation tests (deterministic).
import type { LayerRowDto } from '../../../src/shared/webviewMessages';

const OPS = ['Conv', 'MatMul', 'Add', 'Relu', 'Gemm', 'Gather'];

export function syntheticRows(n: number, name = (i: number): string => `layer_${i}`): LayerRowDto[] {
  return Array.from({ length: n }, (_, i) => {
    const opType = OPS[i % OPS.length]!;
    const quantizable = opType !== 'Relu' && opType !== 'Add';
    return {
      index: i,
      node: name(i),
      label: name(i),
      opType,
      weightBytes: quantizable ? ((i * 7919) % 10_007) * 64 : 0,
      modes: quantizable ? (opType === 'MatMul' ? ['dynamic', 'static', 'weight-only'] : ['dynamic', 'static']) : [],
      notes: i % 97 === 0 ? ['outlier-dominated weights'] : [],
      diagnostics: [],
    };
  });
}

/** The same rows as an `inspect --json`-shaped summary (what the worker sends). */
export function syntheticSummary(n: number, name?: (i: number) => string): Record<string, unknown> {
  const rows = syntheticRows(n, name);
  const opCounts: Record<string, number> = {};
  for (const r of rows) opCounts[r.opType] = (opCounts[r.opType] ?? 0) + 1;
  return {
    fileBytes: 104_857_600,
    irVersion: 8,
    producer: { name: 'synthetic', version: '1' },
    opsets: { 'ai.onnx': 17 },
    inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 64] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', 10] }],
    nodeCount: n,
    opCounts,
    parameterCount: 26_214_400,
    initializerBytes: 104_857_600,
    quantization: { format: 'none', quantizedNodeCount: 0 },
    layers: rows.map((r) => ({ node: r.node, opType: r.opType, index: r.index, modes: r.modes, weightBytes: r.weightBytes, notes: r.notes })),
  };
}
