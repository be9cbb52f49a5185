/**
 * Labelled test data beside a model, by the naming the samples use: `NAME_test_x.npy` (inputs,
 * samples on the first axis) and `NAME_test_y.npy` (integer labels), where the model's file name
 * starts with NAME (`digits_test_x.npy` serves `digits_cnn.onnx` and `digits_mlp.onnx`). The
 * longest matching NAME wins; labels only come with their inputs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface TestDataBeside {
  data: string;
  labels?: string;
}

const TEST_INPUTS = /^(.+)_test_x\.npy$/i;

export function testDataBeside(modelPath: string): TestDataBeside | undefined {
  const dir = path.dirname(path.resolve(modelPath));
  const stem = path.basename(modelPath).replace(/\.onnx$/i, '');
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return undefined;
  }
  let best: { prefix: string; name: string } | undefined;
  for (const name of names) {
    const prefix = TEST_INPUTS.exec(name)?.[1];
    if (!prefix || !stem.startsWith(prefix) || (best && best.prefix.length >= prefix.length)) continue;
    if (!fs.statSync(path.join(dir, name)).isFile()) continue;
    best = { prefix, name };
  }
  if (!best) return undefined;
  const data = path.join(dir, best.name);
  const labels = path.join(dir, best.name.replace(/_x\.npy$/i, '_y.npy'));
  return fs.existsSync(labels) && fs.statSync(labels).isFile() ? { data, labels } : { data };
}
