/**
 * The entry points the fuzz suite feeds: everything that parses an untrusted model.
 * Each target gets a path to a (possibly hostile) model file and must either return or
 * throw one of the engine's own errors (InputError / WorkError); anything else is a bug.
 */
import { loadModel } from '../../src/core/onnx/model';
import { readTensor } from '../../src/core/onnx/tensor';
import { walkTensors } from '../../src/core/onnx/walk';

export interface FuzzTarget {
  name: string;
  run(modelPath: string, scratchDir: string): Promise<void> | void;
}

export const targets: FuzzTarget[] = [
  {
    name: 'load+decode',
    run(p) {
      const m = loadModel(p);
      try {
        for (const { tensor } of walkTensors(m.proto.graph!)) readTensor(tensor, m);
      } finally {
        m.external.close();
      }
    },
  },
];
