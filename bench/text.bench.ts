/**
 * Text view: time to render a 10,000-node model (3,334 MatMul/Add/Relu blocks) in the ONNX
 * textual syntax with its line map, and what the language server does on opening a view
 * (loadModel + render + layer rules). Target: render well under a second.
 */
import { loadModel } from '../src/core/onnx/model';
import { indexModel } from '../src/core/onnx/graph-index';
import { analyzeLayers } from '../src/core/analysis/layers';
import { renderModel } from '../src/core/text/render';
import { makeTempDir, writeModelFile } from '../test/fixtures/build';
import { mlpModel } from '../test/fixtures/build/models';

const RUNS = 7;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function time(fn: () => void): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

export async function run(): Promise<void> {
  const { dir, cleanup } = makeTempDir('onnxq-text-bench-');
  try {
    const file = writeModelFile(dir, 'wide.onnx', mlpModel({ inDim: 8, hidden: 8, outDim: 8, layers: 3334 }));
    const proto = loadModel(file).proto;
    const nodes = proto.graph!.node.length;
    renderModel(proto); // warm-up (JIT)
    const render = median(Array.from({ length: RUNS }, () => time(() => renderModel(proto))));
    const legacy = median(Array.from({ length: RUNS }, () => time(() => renderModel(proto, { dialect: 'legacy' }))));
    const r = renderModel(proto);
    const open = median(
      Array.from({ length: RUNS }, () =>
        time(() => {
          const m = loadModel(file);
          renderModel(m.proto);
          analyzeLayers(m, { index: indexModel(m.proto) });
        }),
      ),
    );
    console.log(`model: ${nodes} nodes, ${proto.graph!.initializer.length} initializers`);
    console.log(`render (modern):            ${render.toFixed(1)} ms  → ${r.lineCount} lines, ${(r.text.length / 1024).toFixed(0)} KB of text`);
    console.log(`render (legacy names):      ${legacy.toFixed(1)} ms`);
    console.log(`server open (load+render+layer rules): ${open.toFixed(1)} ms`);
    console.log(`target: render < 1000 ms → ${render < 1000 ? 'OK' : 'MISSED'}`);
  } finally {
    cleanup();
  }
}
