/**
 * The entry points the fuzz suite feeds: everything that parses an untrusted model.
 * Each target gets a path to a (possibly hostile) model file and must either return or
 * throw one of the engine's own errors (InputError / WorkError); anything else is a bug.
 */
import * as path from 'node:path';
import { loadModel, type OnnxModel } from '../../src/core/onnx/model';
import { readTensor } from '../../src/core/onnx/tensor';
import { walkTensors } from '../../src/core/onnx/walk';
import { summarizeModel } from '../../src/core/analysis/summary';
import { analyzeLayers, weightStats } from '../../src/core/analysis/layers';
import { indexModel } from '../../src/core/onnx/graph-index';
import { renderModel } from '../../src/core/text/render';
import { quantizeFile } from '../../src/core/quantize/index';
import { modelDiagnostics } from '../../src/server/diagnostics';
import { DEFAULT_DIAGNOSTICS_SETTINGS } from '../../src/shared/lsp/documents';
import { isFloatType } from '../../src/core/onnx/dtype';

export interface FuzzTarget {
  name: string;
  run(modelPath: string, scratchDir: string): Promise<void> | void;
}

function withModel<T>(p: string, f: (m: OnnxModel) => T): T {
  const m = loadModel(p);
  try {
    return f(m);
  } finally {
    m.external.close();
  }
}

export const targets: FuzzTarget[] = [
  {
    name: 'load+decode',
    run: (p) =>
      withModel(p, (m) => {
        for (const { tensor } of walkTensors(m.proto.graph!)) readTensor(tensor, m);
      }),
  },
  { name: 'inspect', run: (p) => void withModel(p, (m) => summarizeModel(m)) },
  {
    // What the language server computes for a model: rendering, graph index, layer rules,
    // diagnostics, and the weight statistics its hovers show.
    name: 'server-analysis',
    run: (p) =>
      withModel(p, (m) => {
        const rendered = renderModel(m.proto);
        const index = indexModel(m.proto);
        const infos = analyzeLayers(m, { index });
        const layers = infos.map((info, i) => ({ info, node: index.nodes[i]!.node, line: rendered.byNode.get(index.nodes[i]!.node) }));
        modelDiagnostics({ path: p, stamp: 'fuzz', model: m, rendered, index, layers }, DEFAULT_DIAGNOSTICS_SETTINGS);
        for (const t of m.proto.graph!.initializer.slice(0, 8)) if (isFloatType(t.dataType)) weightStats(t, m);
      }),
  },
  {
    // Pure-TypeScript quantization (validation in ONNX Runtime is the worker's job, crash-isolated).
    // No speed check: timing each of thousands of cases measures nothing about hostile input and
    // took the suite from under a minute to about half an hour (its own tests cover it).
    name: 'quantize',
    async run(p, dir) {
      await quantizeFile(p, path.join(dir, 'out.dynamic.onnx'), { mode: 'dynamic', validate: false, speedCheck: false });
      await quantizeFile(p, path.join(dir, 'out.int4.onnx'), { mode: 'weight-only', validate: false, speedCheck: false });
    },
  },
];
