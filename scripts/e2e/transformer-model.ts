// A small transformer encoder for the graph view's end-to-end test: the quantizer tests' encoder
// (embedding Gather, LayerNorms, Q/K/V/O projections, attention MatMuls and Softmax, feed-forward)
// with enough layers that the view lays it out with the layered engine (above dagre's limit).
// CLI: node --import tsx scripts/e2e/transformer-model.ts OUT.onnx [layers]
import { saveModel } from '../../src/core/onnx/save';
import { buildTransformer } from '../../test/unit/quantize/models';

export function writeTransformerModel(out: string, layers = 8): void {
  saveModel(buildTransformer({ vocab: 200, dim: 32, layers, seed: 3 }), out, { force: true });
}

if (process.argv[1] && /transformer-model\.ts$/.test(process.argv[1])) {
  const [out, layers] = process.argv.slice(2);
  if (!out) throw new Error('usage: transformer-model.ts OUT.onnx [layers]');
  writeTransformerModel(out, layers ? Number(layers) : undefined);
}
