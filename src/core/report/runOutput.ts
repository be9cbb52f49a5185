/**
 * Where the next run of a float model writes its model, so that a re-quantization adds a run
 * instead of replacing one: `NAME.int8.onnx` → `NAME.int8-2.onnx`, `NAME.int8-3.onnx`, … the
 * first number whose model and report are both free. Always a derived output of the float model
 * (`NAME.*.onnx` in its folder), never another model's name.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { reportPaths } from './paths';

/** `digits_cnn.int8-3.onnx` → `digits_cnn.int8` (the run number and extension dropped). */
const runRoot = (fileName: string): string => fileName.replace(/\.onnx$/i, '').replace(/-\d+$/, '');

/**
 * The next run's output for `floatModel`, numbered after `previous` (the run re-quantized). A
 * previous output that is not a derived output of this model (another folder, another stem)
 * numbers after `fallback` instead (e.g. `NAME.int8.onnx`).
 */
export function nextRunOutput(floatModel: string, previous: string, fallback: string): string {
  const dir = path.dirname(path.resolve(floatModel));
  const stem = path.basename(floatModel).replace(/\.onnx$/i, '');
  const own = (p: string): boolean =>
    path.resolve(p) !== path.resolve(floatModel) && path.dirname(path.resolve(p)) === dir && path.basename(p).startsWith(`${stem}.`) && /\.onnx$/i.test(p);
  const root = runRoot(path.basename(own(previous) ? previous : own(fallback) ? fallback : `${stem}.run.onnx`));
  for (let n = 2; ; n++) {
    const file = path.join(dir, `${root}-${n}.onnx`);
    if (!fs.existsSync(file) && !fs.existsSync(reportPaths(file).json)) return file;
  }
}
