/**
 * A small ResNet-style CNN built in TypeScript with seeded random weights: Conv+ReLU blocks with
 * skip Adds (optionally Conv+BatchNormalization+ReLU), global average pool, Gemm head.
 * Used by the static quantization tests and bench/static.bench.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeNpy } from '../../../../src/core/data/npy';
import { makeGraph, makeModel, makeNode, makeValueInfo } from '../../../../src/core/onnx/builder';
import { DataType } from '../../../../src/core/onnx/dtype';
import type { ModelProto, NodeProto, TensorProto } from '../../../../src/core/onnx/schema';
import { floatTensor } from '../../../../src/core/onnx/tensor';
import { seededRandom, standardNormal } from '../../../../src/core/util/random';


export interface ResidualCnnOptions {
  seed?: number;
  channels?: number[];
  /** Residual blocks per stage. */
  blocks?: number;
  size?: number;
  batchNorm?: boolean;
  classes?: number;
}

export interface BuiltModel {
  proto: ModelProto;
  convs: number;
  adds: number;
  batchNorms: number;
  inputShape: number[];
}

export function buildResidualCnn(options: ResidualCnnOptions = {}): BuiltModel {
  const rand = seededRandom(options.seed ?? 1234);
  const channels = options.channels ?? [16, 32];
  const blocks = options.blocks ?? 2;
  const size = options.size ?? 32;
  const classes = options.classes ?? 10;
  const nodes: NodeProto[] = [];
  const inits: TensorProto[] = [];
  let convs = 0;
  let adds = 0;
  let batchNorms = 0;
  let counter = 0;
  const fresh = (base: string) => `${base}_${counter++}`;

  const conv = (x: string, cin: number, cout: number, stride: number, relu: boolean): string => {
    const w = fresh('w');
    const b = fresh('b');
    const std = Math.sqrt(2 / (cin * 9));
    inits.push(floatTensor(w, [cout, cin, 3, 3], Float32Array.from({ length: cout * cin * 9 }, () => standardNormal(rand) * std)));
    inits.push(floatTensor(b, [cout], Float32Array.from({ length: cout }, () => standardNormal(rand) * 0.05)));
    let y = fresh('conv');
    nodes.push(makeNode('Conv', [x, w, b], [y], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [stride, stride] }, { name: fresh('Conv') }));
    convs++;
    if (options.batchNorm) {
      const names = ['scale', 'shift', 'mean', 'var'].map(fresh);
      inits.push(floatTensor(names[0]!, [cout], Float32Array.from({ length: cout }, () => 0.5 + rand())));
      inits.push(floatTensor(names[1]!, [cout], Float32Array.from({ length: cout }, () => standardNormal(rand) * 0.1)));
      inits.push(floatTensor(names[2]!, [cout], Float32Array.from({ length: cout }, () => standardNormal(rand) * 0.1)));
      inits.push(floatTensor(names[3]!, [cout], Float32Array.from({ length: cout }, () => 0.5 + rand())));
      const bn = fresh('bn');
      nodes.push(makeNode('BatchNormalization', [y, ...names], [bn], { epsilon: { float: 1e-5 } }, { name: fresh('BatchNormalization') }));
      batchNorms++;
      y = bn;
    }
    if (!relu) return y;
    const r = fresh('relu');
    nodes.push(makeNode('Relu', [y], [r], {}, { name: fresh('Relu') }));
    return r;
  };

  let x = conv('input', 3, channels[0]!, 1, true);
  channels.forEach((c, stage) => {
    if (stage > 0) x = conv(x, channels[stage - 1]!, c, 2, true);
    for (let k = 0; k < blocks; k++) {
      const h = conv(x, c, c, 1, true);
      const h2 = conv(h, c, c, 1, false);
      const sum = fresh('add');
      nodes.push(makeNode('Add', [h2, x], [sum], {}, { name: fresh('Add') }));
      adds++;
      x = fresh('relu');
      nodes.push(makeNode('Relu', [sum], [x], {}, { name: fresh('Relu') }));
    }
  });
  const last = channels[channels.length - 1]!;
  nodes.push(makeNode('GlobalAveragePool', [x], ['pooled'], {}, { name: 'pool' }));
  nodes.push(makeNode('Flatten', ['pooled'], ['flat'], { axis: 1 }, { name: 'flatten' }));
  inits.push(floatTensor('fc_w', [classes, last], Float32Array.from({ length: classes * last }, () => standardNormal(rand) * Math.sqrt(1 / last))));
  inits.push(floatTensor('fc_b', [classes], new Float32Array(classes)));
  nodes.push(makeNode('Gemm', ['flat', 'fc_w', 'fc_b'], ['logits'], { transB: 1 }, { name: 'fc' }));
  const graph = makeGraph(
    nodes,
    'residual_cnn',
    [makeValueInfo('input', DataType.FLOAT, ['batch', 3, size, size])],
    [makeValueInfo('logits', DataType.FLOAT, ['batch', classes])],
    inits,
  );
  return { proto: makeModel(graph, { '': 13 }), convs, adds, batchNorms, inputShape: [3, size, size] };
}

/** Seeded inputs [n, ...shape] in [0, 1) (image-like), as float32. */
export function randomInputs(n: number, shape: number[], seed = 99): Float32Array {
  const rand = seededRandom(seed);
  return Float32Array.from({ length: n * shape.reduce((a, b) => a * b, 1) }, () => rand());
}

/** Write a float32 .npy file. */
export function writeNpy(file: string, values: Float32Array, shape: number[]): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, encodeNpy({ dtype: 'float32', shape, data: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) }));
  return file;
}
