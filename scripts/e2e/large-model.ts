// A float model big enough that quantizing it takes a few seconds on 2 cores, so a test can cancel
// the job while it runs: a chain of MatMul+Relu layers with [dim, dim] random weights
// (input `x` float32 [batch, dim], output `y`). Default 24 × 1024² floats ≈ 100 MB.
// CLI: node --import tsx scripts/e2e/large-model.ts OUT.onnx [layers] [dim]
import { DataType } from '../../src/core/onnx/dtype';
import { makeGraph, makeModel, makeNode, makeValueInfo } from '../../src/core/onnx/builder';
import { saveModel } from '../../src/core/onnx/save';
import { floatTensor } from '../../src/core/onnx/tensor';

export function writeLargeMatMulModel(out: string, layers = 24, dim = 1024): void {
  let seed = 12345;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff - 0.5;
  };
  const nodes = [];
  const initializers = [];
  let input = 'x';
  for (let i = 0; i < layers; i++) {
    const w = new Float32Array(dim * dim);
    for (let j = 0; j < w.length; j++) w[j] = random() * 0.05;
    initializers.push(floatTensor(`w${i}`, [dim, dim], w));
    const mm = i === layers - 1 ? 'y' : `h${i}`;
    nodes.push(makeNode('MatMul', [input, `w${i}`], [i === layers - 1 ? mm : `${mm}_mm`], {}, { name: `matmul_${i}` }));
    if (i < layers - 1) {
      nodes.push(makeNode('Relu', [`${mm}_mm`], [mm], {}, { name: `relu_${i}` }));
      input = mm;
    }
  }
  const graph = makeGraph(nodes, 'large_matmul_chain',
    [makeValueInfo('x', DataType.FLOAT, ['batch', dim])], [makeValueInfo('y', DataType.FLOAT, ['batch', dim])], initializers);
  saveModel(makeModel(graph, { '': 13 }), out, { force: true });
}

const isMain = typeof require !== 'undefined' && typeof module !== 'undefined' && require.main === module;
if (isMain || (process.argv[1] ?? '').endsWith('large-model.ts')) {
  const [out, layers, dim] = process.argv.slice(2);
  if (out) writeLargeMatMulModel(out, layers ? Number(layers) : undefined, dim ? Number(dim) : undefined);
}
