/**
 * Validate, then publish. A model and its external data file are written into a private staging
 * folder next to the output (`.NAME.tmp-PID-…/`, same file system, so the renames are atomic),
 * checked there (ONNX Runtime finds the data file beside the model, under the name the model
 * refers to), and renamed to their final names only after: the data file first, the model last.
 * A run killed at any point leaves nothing under the final names; the next run in the folder
 * sweeps the staging folder by its dead pid (util/writeGuard.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { guardWrite, type WriteRules } from '../util/writeGuard';
import { tempPathFor } from './save';

export class StagedOutput {
  /** The staging folder. */
  readonly folder: string;
  /** Where the model is written and checked (not named `.onnx`: file watchers ignore it). */
  readonly model: string;
  /** Where its external data file goes, under the name it will have next to the output. */
  readonly data: string;
  /** The data file's name, as the model's tensors refer to it. */
  readonly location: string;

  constructor(readonly output: string) {
    this.folder = tempPathFor(output);
    fs.mkdirSync(this.folder, { mode: 0o700 });
    this.model = path.join(this.folder, `${path.basename(output)}.staged`);
    this.location = `${path.basename(output)}.data`;
    this.data = path.join(this.folder, this.location);
  }

  /** Move the checked files into place (publishModel); returns the data file's final path, if any. */
  publish(rules: WriteRules): string | undefined {
    const published = publishModel(this.model, this.data, this.output, rules);
    this.discard();
    return published;
  }

  /** Remove the staging folder and whatever is in it. */
  discard(): void {
    fs.rmSync(this.folder, { recursive: true, force: true });
  }
}

/**
 * Rename a checked model (and its data file `data`, when there is one) to `output` and the data
 * file's name beside it: the data file first, so the model never appears without it. The final
 * paths are checked again first (something may have appeared there while the run worked).
 * Returns the data file's final path, if any.
 */
export function publishModel(model: string, data: string, output: string, rules: WriteRules): string | undefined {
  const hasData = fs.existsSync(data);
  const finalData = path.join(path.dirname(output), path.basename(data));
  guardWrite(output, 'output', rules);
  if (hasData) guardWrite(finalData, 'external data file', rules);
  if (hasData) fs.renameSync(data, finalData);
  fs.renameSync(model, output);
  return hasData ? finalData : undefined;
}
