/**
 * Generators of hostile CLI runs, one per class of issue 15: non-regular files, overwrite
 * attempts, hostile recipes, escape names, NaN/Inf data, huge declared dims. Each case prepares
 * its files in a fresh folder and names the one CLI run to make, what it expects (exit codes),
 * which files the run may write, and which ones must stay byte-identical.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { encodeNpy } from '../../src/core/data/npy';
import { modelToBytes } from '../../src/core/onnx/save';
import { ModelProtoSchema } from '../../src/core/onnx/schema';
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
  /** A hostile recipe: a run that succeeds used something it may not, counted as an escape. */
  recipe?: boolean;
}

export interface FuzzClass {
  name: string;
  /** `index` counts the class's cases from 0 (for classes that enumerate their inputs). */
  make(dir: string, rng: Rng, index: number): FuzzRun;
  /** Cases per run relative to the other classes (cheap refusals run more). */
  weight?: number;
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
const dataOnly = (model: string, out: string, data: string) => ['quantize', model, '-o', out, '--data', data];

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
      const victim = pick(rng, ['model', 'external data', 'calibration', 'labels', 'data', 'input value', 'recipe', 'report', 'report onto data file'] as const);
      const force = rng() < 0.7 ? ['--force'] : [];
      if (victim === 'data') return { args: [...dataOnly(model, calib, calib), ...force, ...QUIET], exits: [2], says: OVERWRITE, mayWrite: [], dir };
      if (victim === 'input value') {
        const value = path.join(dir, 'x-value.npy');
        fs.copyFileSync(calib, value);
        return { args: ['quantize', model, '-o', value, '--input', `x=${value}`, ...force, ...QUIET], exits: [2], says: OVERWRITE, mayWrite: [], dir };
      }
      if (victim === 'recipe') {
        const recipe = path.join(dir, 'm.quant.json');
        const self = rng() < 0.5;
        fs.writeFileSync(recipe, JSON.stringify({ model: 'm.onnx', mode: 'dynamic', ...(self ? { output: 'm.quant.json' } : {}) }));
        return { args: ['quantize', '--recipe', recipe, ...(self ? [] : ['-o', recipe]), ...force, ...QUIET], exits: [2], says: OVERWRITE, mayWrite: [], dir };
      }
      if (victim === 'report onto data file') {
        // The compared model's external data carries the name of the candidate's JSON report.
        fs.renameSync(ext.data, path.join(dir, 'model.quant-report.json'));
        const proto = fromBinary(ModelProtoSchema, fs.readFileSync(ext.model));
        for (const t of proto.graph?.initializer ?? []) for (const e of t.externalData) if (e.key === 'location') e.value = 'model.quant-report.json';
        fs.writeFileSync(ext.model, modelToBytes(proto));
        return { args: ['compare', ext.model, ext.model, '--report', '--runs', '2', ...force], exits: [2], says: OVERWRITE, mayWrite: [], dir };
      }
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
    weight: 5,
    make(dir, rng, index) {
      mlpCase(dir);
      // What a leak would reach is real (a model and samples that fit it), so a recipe that got
      // through would run and exit 0, and one that wrote there would change or add a file.
      const outside = path.join(path.dirname(dir), 'outside');
      fs.mkdirSync(outside, { recursive: true });
      const victim = path.join(outside, 'victim.onnx');
      const victimData = path.join(outside, 'victim.npy');
      fs.copyFileSync(path.join(dir, 'm.onnx'), victim);
      fs.copyFileSync(path.join(dir, 'calib.npy'), victimData);
      fs.symlinkSync(victim, path.join(dir, 'link.onnx'));
      fs.symlinkSync(victimData, path.join(dir, 'link.npy'));
      // A data folder inside whose entry for input 'x' links out.
      fs.mkdirSync(path.join(dir, 'linked'));
      fs.symlinkSync(victimData, path.join(dir, 'linked', 'x.npy'));
      special(dir, rng, 'dev.onnx');
      special(dir, rng, 'dev.npy');
      // Every case of the class takes the next (field, value) pair, so each hostile spelling is
      // tried in turn (the ones behind earlier leaks first) rather than when the dice allow; 30 cases reach every field.
      const at = <T>(v: number, list: readonly T[]): T => list[v % list.length] as T;
      const away = (file: string) => [`../outside/${file}`, path.join(outside, file), `sub/../../outside/${file}`, `./../outside/${file}`];
      const recipe: Record<string, unknown> = { model: 'm.onnx', mode: 'static', output: 'q.onnx', options: { calibrationData: 'calib.npy', excludeNodes: ['/nope'] } };
      const options = recipe.options as Record<string, unknown>;
      let cliForce = ['--force'];
      const data = ['linked', 'link.npy', 'dev.npy', '/dev/zero', ...away('victim.npy'), path.join(dir, 'calib.npy')];
      const numbers: [string, number, Record<string, string>][] = [
        ['histogramBins', 1e9, { calibrationMethod: 'entropy' }],
        ['calibrationBatch', 1e12, {}],
        ['memoryBudget', 1e15, {}],
        ['blockSize', 2 ** 40, {}],
        ['percentile', 1e9, { calibrationMethod: 'percentile' }],
        ['weightBits', 1e9, {}],
        ['accuracyLevel', 3, {}],
        ['histogramBins', 1, { calibrationMethod: 'percentile' }],
        ['calibrationBatch', 2.5, {}],
        ['memoryBudget', -1, {}],
      ];
      const FIELDS = [
        (v: number) => (recipe.model = at(v, ['link.onnx', 'dev.onnx', '/dev/zero', ...away('victim.onnx'), path.join(dir, 'm.onnx')])),
        (v: number) => (recipe.output = at(v, [...away('victim.onnx'), ...away('new.onnx'), 'link.onnx', 'dev.onnx', '/dev/null', path.join(dir, 'q.onnx')])),
        (v: number) => (options.calibrationData = at(v, data)),
        (v: number) => (options.fidelityData = at(v, data)),
        (v: number) => (options.inputs = { values: { x: at(v, ['link.npy', 'dev.npy', ...away('victim.npy')]) } }),
        () => {
          // The recipe alone asks to replace an existing output (the command line does not).
          options.force = true;
          fs.writeFileSync(path.join(dir, 'q.onnx'), 'keep');
          cliForce = [];
        },
        (v: number) => {
          const [name, value, extra] = at(v, numbers);
          Object.assign(options, extra, { [name]: value });
        },
      ];
      at(index, FIELDS)(Math.floor(index / FIELDS.length));
      const file = path.join(dir, 'r.quant.json');
      fs.writeFileSync(file, JSON.stringify(recipe));
      return {
        args: ['quantize', '--recipe', file, ...cliForce, ...QUIET],
        exits: [2],
        says: /^error: (r\.quant\.json: |data for input 'x': 'x\.npy' in data folder .* is a link leading out of the folder|histogram bins|--percentile|calibration batch|memory budget|--block-size|--weight-bits|--accuracy-level)/m,
        mayWrite: [],
        dir,
        recipe: true,
      };
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
