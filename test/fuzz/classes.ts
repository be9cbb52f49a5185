/**
 * Generators of hostile CLI runs, one per class of issue 15: non-regular files, overwrite
 * attempts, hostile recipes, escape names, NaN/Inf data, huge declared dims. Each case prepares
 * its files in a fresh folder and names the one CLI run to make, what it expects (exit codes),
 * which files the run may write, and which ones must stay byte-identical.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeNpy } from '../../src/core/data/npy';
import { makeGraph, makeModel, makeNode, makeValueInfo } from '../../src/core/onnx/builder';
import { DataType } from '../../src/core/onnx/dtype';
import { floatTensor } from '../../src/core/onnx/tensor';
import type { Rng } from '../../src/core/util/random';
import { gaussian, mlpModel, writeExternalDataModel, writeModelFile } from '../fixtures/build';

export interface FuzzRun {
  /** CLI arguments (paths absolute). */
  args: string[];
  /** Exit codes that count as handled (anything else, a signal or a stack trace is a crash). */
  exits: number[];
  /** What a refusal must say on stderr (the reason, not any usage error). */
  says?: RegExp;
  /** Files the run may create (an output of a successful run); everything else must stay as it was. */
  mayWrite: string[];
  /** Where the case's files are; a sibling `outside` folder holds what a recipe must never reach. */
  dir: string;
}

export interface FuzzClass {
  name: string;
  make(dir: string, rng: Rng): FuzzRun;
}

const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)] as T;

/** A 16 → 4 MLP with a [N, 16] float input `x` and calibration samples beside it. */
function mlpCase(dir: string): { model: string; calib: string; labels: string } {
  const model = writeModelFile(dir, 'm.onnx', mlpModel({ inDim: 16, hidden: 8, outDim: 4, seed: 3 }));
  const calib = path.join(dir, 'calib.npy');
  fs.writeFileSync(calib, encodeNpy({ dtype: 'float32', shape: [8, 16], data: new Uint8Array(gaussian(128, 1, 4).buffer) }));
  const labels = path.join(dir, 'labels.npy');
  fs.writeFileSync(labels, encodeNpy({ dtype: 'int64', shape: [8], data: new Uint8Array(new BigInt64Array(8).buffer) }));
  return { model, calib, labels };
}

function special(dir: string, rng: Rng, name: string): string {
  const p = path.join(dir, name);
  const kind = pick(rng, ['fifo', 'zero', 'null', 'urandom'] as const);
  if (kind === 'fifo') execFileSync('mkfifo', [p]);
  else fs.symlinkSync(`/dev/${kind}`, p);
  return p;
}

const QUIET = ['--no-speed-check'];
const OVERWRITE = /is the input model|would overwrite|already exists/;

export const CLASSES: FuzzClass[] = [
  {
    name: 'non-regular files',
    make(dir, rng) {
      const { model, calib, labels } = mlpCase(dir);
      const role = pick(rng, ['model', 'calibration', 'data', 'labels', 'output', 'bench data'] as const);
      const bad = special(dir, rng, role === 'model' ? 'bad.onnx' : role === 'output' ? 'out.onnx' : 'bad.npy');
      const out = path.join(dir, 'q.onnx');
      const args =
        role === 'model' ? [pick(rng, ['inspect', 'bench']), bad]
        : role === 'calibration' ? ['quantize', model, '-o', out, '--mode', 'static', '--calibration-data', bad, ...QUIET]
        : role === 'data' ? ['compare', model, model, '--data', bad]
        : role === 'labels' ? ['compare', model, model, '--data', calib, '--labels', bad]
        : role === 'output' ? ['quantize', model, '-o', bad, '--force', ...QUIET]
        : ['bench', model, '--data', bad];
      void labels;
      return { args, exits: [2], says: /not a regular file|is a (FIFO|character device)/, mayWrite: [], dir };
    },
  },
  {
    name: 'overwrite attempts',
    make(dir, rng) {
      const { model, calib, labels } = mlpCase(dir);
      const ext = writeExternalDataModel(dir, 'valid');
      const victim = pick(rng, ['model', 'external data', 'calibration', 'labels', 'report'] as const);
      const force = rng() < 0.7 ? ['--force'] : [];
      if (victim === 'model') return { args: ['quantize', model, '-o', model, ...force, ...QUIET], exits: [2], says: OVERWRITE, mayWrite: [], dir };
      if (victim === 'external data') return { args: ['quantize', ext.model, '-o', ext.data, ...force, ...QUIET], exits: [2], says: OVERWRITE, mayWrite: [], dir };
      if (victim === 'calibration') return { args: ['quantize', model, '-o', calib, '--mode', 'static', '--calibration-data', calib, ...force, ...QUIET], exits: [2], says: OVERWRITE, mayWrite: [], dir };
      if (victim === 'labels') return { args: ['quantize', model, '-o', labels, '--auto-exclude', 'sqnr:30', '--data', calib, '--labels', labels, ...force, ...QUIET], exits: [2], says: OVERWRITE, mayWrite: [], dir };
      // compare --report onto existing report files without --force
      const candidate = path.join(dir, 'm.int8.onnx');
      fs.copyFileSync(model, candidate);
      for (const e of ['json', 'md', 'html']) fs.writeFileSync(path.join(dir, `m.int8.quant-report.${e}`), 'keep');
      return { args: ['compare', model, candidate, '--report', '--runs', '2'], exits: [2], says: OVERWRITE, mayWrite: [], dir };
    },
  },
  {
    name: 'hostile recipes',
    make(dir, rng) {
      mlpCase(dir);
      const outside = path.join(path.dirname(dir), 'outside');
      fs.mkdirSync(outside, { recursive: true });
      fs.writeFileSync(path.join(outside, 'victim.onnx'), 'precious');
      fs.symlinkSync(path.join(outside, 'victim.onnx'), path.join(dir, 'link.onnx'));
      special(dir, rng, 'dev.onnx');
      const field = pick(rng, ['model', 'output', 'calibrationData', 'force', 'histogramBins'] as const);
      const value = pick(rng, ['/dev/zero', path.join(outside, 'victim.onnx'), '../outside/victim.onnx', 'link.onnx', 'dev.onnx', 'sub/../../outside/victim.onnx']);
      const recipe: Record<string, unknown> = { model: 'm.onnx', mode: 'static', output: 'q.onnx', options: { calibrationData: 'calib.npy' } };
      if (field === 'model' || field === 'output') recipe[field] = value;
      else if (field === 'calibrationData') recipe.options = { calibrationData: value };
      else if (field === 'force') recipe.options = { calibrationData: 'calib.npy', force: true };
      else recipe.options = { calibrationData: 'calib.npy', histogramBins: pick(rng, [1e9, -1, 0.5, 2 ** 40]), calibrationMethod: 'entropy' };
      const file = path.join(dir, 'r.quant.json');
      fs.writeFileSync(file, JSON.stringify(recipe));
      return { args: ['quantize', '--recipe', file, '--force', ...QUIET], exits: [2], says: /^error: r\.quant\.json: |histogram bins/m, mayWrite: [], dir };
    },
  },
  {
    name: 'escape names',
    make(dir, rng) {
      const alphabet = ['\x1b[31m', '\x1b]52;c;cGF5\x07', '\x1b]8;;https://e.example\x1b\\', '\r', '\b', '\u202e', '\u2066', '\u200b', '\ufeff', '\x9b2J', '[a](https://e.example)', '![i](https://e.example/x.png)', 'n'];
      const name = () => Array.from({ length: 1 + Math.floor(rng() * 4) }, () => pick(rng, alphabet)).join('') + Math.floor(rng() * 1e6);
      const [input, output, weight, node] = [name(), name(), name(), name()];
      const g = makeGraph(
        [makeNode('MatMul', [input, weight], [output], {}, { name: node })],
        name(),
        [makeValueInfo(input, DataType.FLOAT, [name(), 16])],
        [makeValueInfo(output, DataType.FLOAT, [name(), 4])],
        [floatTensor(weight, [16, 4], gaussian(64, 0.3, 5))],
      );
      const model = writeModelFile(dir, 'e.onnx', makeModel(g, { '': 17 }));
      const out = path.join(dir, 'e.q.onnx');
      const command = pick(rng, ['inspect', 'quantize', 'bench', 'error'] as const);
      if (command === 'inspect') return { args: ['inspect', model], exits: [0], mayWrite: [], dir };
      if (command === 'bench') return { args: ['bench', model, '--runs', '3', '--warmup', '1'], exits: [0], mayWrite: [], dir };
      if (command === 'error') return { args: ['quantize', model, '-o', out, '--nodes', node, '--input-shape', `${input}x=1x16`, ...QUIET], exits: [2], mayWrite: [], dir };
      return { args: ['quantize', model, '-o', out, ...(rng() < 0.5 ? ['--exclude-nodes', node] : []), ...QUIET], exits: [0], mayWrite: [out], dir };
    },
  },
  {
    name: 'NaN/Inf data',
    make(dir, rng) {
      const { model } = mlpCase(dir);
      const values = gaussian(128, 1, Math.floor(rng() * 1000));
      const bad = 1 + Math.floor(rng() * 4);
      for (let i = 0; i < bad; i++) values[Math.floor(rng() * values.length)] = pick(rng, [NaN, Infinity, -Infinity]);
      const data = path.join(dir, 'bad.npy');
      fs.writeFileSync(data, encodeNpy({ dtype: 'float32', shape: [8, 16], data: new Uint8Array(values.buffer) }));
      const out = path.join(dir, 'q.onnx');
      return { args: ['quantize', model, '-o', out, '--mode', 'static', '--calibration-method', pick(rng, ['minmax', 'percentile', 'entropy']), '--calibration-data', data, ...QUIET], exits: [2], says: /NaN|Inf/, mayWrite: [], dir };
    },
  },
  {
    name: 'huge declared dims',
    make(dir, rng) {
      const dims = [1, pick(rng, [1e9, 2 ** 31, 2 ** 40, 3e7 * 2, 2 ** 53 - 1])];
      const g = makeGraph([makeNode('Relu', ['x'], ['y'])], 'huge', [makeValueInfo('x', DataType.FLOAT, dims)], [makeValueInfo('y', DataType.FLOAT, dims)], []);
      const model = writeModelFile(dir, 'h.onnx', makeModel(g, { '': 17 }));
      const command = pick(rng, ['inspect', 'quantize', 'bench'] as const);
      if (command === 'inspect') return { args: ['inspect', model], exits: [0], mayWrite: [], dir };
      if (command === 'bench') return { args: ['bench', model, '--runs', '2'], exits: [2], mayWrite: [], dir };
      return { args: ['quantize', model, '-o', path.join(dir, 'q.onnx'), '--mode', pick(rng, ['dynamic', 'fp16']), ...QUIET], exits: [0, 2], mayWrite: [path.join(dir, 'q.onnx')], dir };
    },
  },
];
