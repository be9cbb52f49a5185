import { InputError } from '../../core/errors';
import type { Progress } from '../../core/progress';
import { quantizeFile } from '../../core/quantize/index';
import { autoExcludeWithReport, type AutoExcludeReportResult } from '../../core/evaluate/autoExclude';
import { QUANT_MODES, type QuantizeOptions, type QuantizeResult } from '../../core/quantize/types';
import { formatBytes } from '../../core/report/format';
import { inputOverridesFrom } from '../../core/data/probe';
import { listOption, numberOption, parseCommandArgs, table, type CliIO, type Command } from '../io';

const USAGE =
  'onnx-quantizer quantize MODEL -o OUT [--mode dynamic|static|weight-only|fp16] [--format qdq|qoperator] ' +
  '[--calibration-data PATH] [--calibration-method minmax|percentile|entropy] [--percentile P] [--per-channel] ' +
  '[--reduce-range] [--symmetric-activations] [--weight-bits 4|8] [--block-size N] [--preset x86|arm|gpu] ' +
  '[--op-types A,B] [--nodes A,B] [--exclude-nodes A,B] [--input-shape NAME=D1xD2…]… [--input NAME=VALUE|FILE.npy]… ' +
  '[--no-validate] [--force] [--json] ' +
  '[--auto-exclude sqnr:DB|acc-drop:POINTS [--data PATH] [--labels LABELS.npy]]';

/** Every flag of `quantize`, in one place (other modules may extend it, e.g. --auto-exclude). */
export const QUANTIZE_FLAGS = {
  output: { type: 'string', short: 'o' },
  mode: { type: 'string' },
  format: { type: 'string' },
  'calibration-data': { type: 'string' },
  'calibration-method': { type: 'string' },
  percentile: { type: 'string' },
  'per-channel': { type: 'boolean' },
  'reduce-range': { type: 'boolean' },
  'symmetric-activations': { type: 'boolean' },
  'weight-bits': { type: 'string' },
  'block-size': { type: 'string' },
  preset: { type: 'string' },
  'op-types': { type: 'string' },
  nodes: { type: 'string' },
  'exclude-nodes': { type: 'string' },
  'no-validate': { type: 'boolean' },
  // Probe inputs (src/core/data/probe.ts): shapes for symbolic dims, fixed values; repeatable.
  'input-shape': { type: 'string', multiple: true },
  input: { type: 'string', multiple: true },
  force: { type: 'boolean' },
  json: { type: 'boolean' },
  // Auto-exclusion (src/core/evaluate/autoExclude.ts): target, evaluation data and labels.
  'auto-exclude': { type: 'string' },
  data: { type: 'string' },
  labels: { type: 'string' },
} as const;

export interface QuantizeArgs {
  input: string;
  output: string;
  options: QuantizeOptions;
  json: boolean;
  /** Raw parsed values, for flags added by other modules. */
  values: Record<string, string | boolean | string[] | undefined>;
}

function oneOf<T extends string>(value: string | undefined, name: string, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!allowed.includes(value as T)) throw new InputError(`--${name} must be one of ${allowed.join(', ')}, got '${value}'`);
  return value as T;
}

/** Parse `quantize` arguments into QuantizeOptions (unset flags stay unset so the preset can fill them). */
export function parseQuantizeArgs(argv: string[]): QuantizeArgs {
  const { positionals, values } = parseCommandArgs(argv, QUANTIZE_FLAGS, USAGE);
  const input = positionals[0];
  if (!input || positionals.length > 1) throw new InputError(`expected one MODEL\nusage: ${USAGE}`);
  if (!values.output) throw new InputError(`missing -o OUT\nusage: ${USAGE}`);
  const options: QuantizeOptions = { mode: oneOf(values.mode, 'mode', QUANT_MODES) ?? 'dynamic' };
  const format = oneOf(values.format, 'format', ['qdq', 'qoperator'] as const);
  if (format) options.format = format;
  if (values['calibration-data']) options.calibrationData = values['calibration-data'];
  const method = oneOf(values['calibration-method'], 'calibration-method', ['minmax', 'percentile', 'entropy'] as const);
  if (method) options.calibrationMethod = method;
  if (values.percentile !== undefined) options.percentile = numberOption(values.percentile, 'percentile', 99.99, 0);
  if (values['per-channel']) options.perChannel = true;
  if (values['reduce-range']) options.reduceRange = true;
  if (values['symmetric-activations']) options.symmetricActivations = true;
  const bits = oneOf(values['weight-bits'], 'weight-bits', ['4', '8'] as const);
  if (bits) options.weightBits = Number(bits) as 4 | 8;
  if (values['block-size'] !== undefined) options.blockSize = numberOption(values['block-size'], 'block-size', 32, 16);
  const preset = oneOf(values.preset, 'preset', ['x86', 'arm', 'gpu'] as const);
  if (preset) options.preset = preset;
  const opTypes = listOption(values['op-types']);
  if (opTypes.length) options.opTypes = opTypes;
  const nodes = listOption(values.nodes);
  if (nodes.length) options.nodes = nodes;
  const exclude = listOption(values['exclude-nodes']);
  if (exclude.length) options.excludeNodes = exclude;
  if (values['no-validate']) options.validate = false;
  const inputs = inputOverridesFrom(values['input-shape'], values.input);
  if (inputs) options.inputs = inputs;
  if (values.force) options.force = true;
  return { input, output: values.output, options, json: !!values.json, values };
}

/** Progress on stderr: one redrawn line on a terminal, one line per stage otherwise. */
function progressPrinter(io: CliIO): { onProgress: (p: Progress) => void; done: () => void } {
  let lastStage = '';
  let drawn = false;
  return {
    onProgress(p) {
      const pct = p.fraction !== undefined ? ` ${Math.round(p.fraction * 100)}%` : '';
      if (io.interactive) {
        process.stderr.write(`\r\x1b[K${p.stage}${pct}${p.message ? ` ${p.message}` : ''}`);
        drawn = true;
      } else if (p.stage !== lastStage && p.stage !== 'done') {
        io.err(`${p.stage}...`);
      }
      lastStage = p.stage;
    },
    done() {
      if (drawn) process.stderr.write('\r\x1b[K');
    },
  };
}

export function resultJson(r: QuantizeResult): Record<string, unknown> {
  return {
    output: r.output,
    inputBytes: r.inputBytes,
    ...(r.inputShapes ? { inputShapes: r.inputShapes } : {}),
    outputBytes: r.outputBytes,
    sizeRatio: r.sizeRatio,
    quantizedNodes: r.quantizedNodes,
    skippedNodes: r.skippedNodes,
    seconds: r.seconds,
    mode: r.mode,
    effectiveOptions: r.effectiveOptions,
    warnings: r.warnings,
  };
}

export const quantizeCommand: Command = {
  name: 'quantize',
  summary: 'quantize a model (dynamic, static, weight-only int4/int8, fp16) and validate it in ONNX Runtime',
  usage: USAGE,
  async run(argv, io, signal) {
    const args = parseQuantizeArgs(argv);
    const progress = progressPrinter(io);
    let result: QuantizeResult;
    let auto: AutoExcludeReportResult | undefined;
    const target = args.values['auto-exclude'];
    if (!target && (args.values.data || args.values.labels)) throw new InputError('--data and --labels go with --auto-exclude');
    try {
      if (typeof target === 'string') {
        const evalOptions = { data: args.values.data as string | undefined, labels: args.values.labels as string | undefined };
        auto = await autoExcludeWithReport(args.input, args.output, args.options, target, { signal, onProgress: progress.onProgress }, evalOptions);
        result = auto.quantize;
      } else result = await quantizeFile(args.input, args.output, args.options, { signal, onProgress: progress.onProgress });
    } finally {
      progress.done();
    }
    for (const w of result.warnings) io.err(`warning: ${w}`);
    if (args.json) {
      io.out(JSON.stringify(auto ? { ...resultJson(result), autoExclude: auto.summary, reportFiles: auto.reportFiles } : resultJson(result)));
      return 0;
    }
    const rows: (string | number)[][] = [
      ['output', result.output],
      ['mode', result.mode],
      ['input size', formatBytes(result.inputBytes)],
      ['output size', formatBytes(result.outputBytes)],
      ['size ratio', `${result.sizeRatio.toFixed(2)}×`],
      ['quantized nodes', result.quantizedNodes],
      ['skipped nodes', result.skippedNodes.length],
      ['seconds', result.seconds.toFixed(2)],
    ];
    if (result.inputShapes) rows.push(['probe inputs', result.inputShapes]);
    let text = table(['result', 'value'], rows);
    if (result.skippedNodes.length) {
      text += '\n\n' + table(['skipped node', 'reason'], result.skippedNodes.map((s) => [s.node, s.reason]));
    }
    if (auto) {
      const a = auto.summary;
      text += `\n\nauto-exclude ${a.target}: ${a.met ? 'met' : `not met (${a.stoppedBecause ?? 'no layer left'})`}, output SQNR ${a.finalSqnrDb ?? '∞'} dB`;
      for (const s of a.excluded) text += `\n  kept in float: ${s.node} (${s.opType}), local SQNR ${s.localSqnrDb} dB, output SQNR before ${s.outputSqnrDb} dB`;
      text += `\nreport: ${auto.reportFiles.join(', ')}`;
    }
    io.out(text);
    return 0;
  },
};
