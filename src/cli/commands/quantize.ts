import * as path from 'node:path';
import { InputError } from '../../core/errors';
import type { Progress } from '../../core/progress';
import { quantizeFile } from '../../core/quantize/index';
import { autoExcludeWithReport, type AutoExcludeReportResult } from '../../core/evaluate/autoExclude';
import { QUANT_MODES, type QuantizeOptions, type QuantizeResult } from '../../core/quantize/types';
import { formatBytes, formatSqnr, inertText } from '../../core/report/format';
import { inputOverridesFrom } from '../../core/data/probe';
import { listOption, numberOption, parseCommandArgs, table, type CliIO, type CommandModule } from '../io';
import { readRecipePlan } from '../recipe';

const USAGE =
  'onnx-quantizer quantize MODEL -o OUT | --recipe FILE.quant.json [MODEL] [-o OUT] [--mode dynamic|static|weight-only|fp16] [--format qdq|qoperator] ' +
  '[--calibration-data PATH] [--calibration-method minmax|percentile|entropy] [--calibration-batch N] [--memory-budget MB] [--percentile P] [--per-channel] ' +
  '[--reduce-range] [--symmetric-activations] [--weight-bits 4|8] [--block-size N] [--accuracy-level 0|1|2|4] [--weight-clipping none|mse] [--weight-rounding nearest|gptq] [--preset x86|arm|gpu] ' +
  '[--op-types A,B] [--nodes A,B] [--exclude-nodes A,B] [--input-shape NAME=D1xD2…]… [--input NAME=VALUE|FILE.npy]… ' +
  '[--no-validate] [--force] [--json] ' +
  '[--data PATH] [--min-sqnr DB] [--fidelity-floor DB[,COSINE]] [--no-fidelity] [--no-speed-check] [--require-speedup X] ' +
  '[--auto-exclude sqnr:DB|acc-drop:POINTS [--labels LABELS.npy]]';

/** Every flag of `quantize`, in one place (other modules may extend it, e.g. --auto-exclude). */
export const QUANTIZE_FLAGS = {
  output: { type: 'string', short: 'o' },
  // A recipe (src/cli/recipe.ts): its model, output and options; flags given here win.
  recipe: { type: 'string' },
  mode: { type: 'string' },
  format: { type: 'string' },
  'calibration-data': { type: 'string' },
  'calibration-method': { type: 'string' },
  'calibration-batch': { type: 'string' },
  'memory-budget': { type: 'string' },
  percentile: { type: 'string' },
  'per-channel': { type: 'boolean' },
  'reduce-range': { type: 'boolean' },
  'symmetric-activations': { type: 'boolean' },
  'weight-bits': { type: 'string' },
  'block-size': { type: 'string' },
  'accuracy-level': { type: 'string' },
  'weight-clipping': { type: 'string' },
  'weight-rounding': { type: 'string' },
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
  // Fidelity against the float model (src/core/quantize/fidelity.ts): data, hard floor, warning floor.
  data: { type: 'string' },
  'min-sqnr': { type: 'string' },
  'fidelity-floor': { type: 'string' },
  'no-fidelity': { type: 'boolean' },
  // Speed check against float (src/core/quantize/speedCheck.ts): off, or a factor to fail under.
  'no-speed-check': { type: 'boolean' },
  'require-speedup': { type: 'string' },
  // Auto-exclusion (src/core/evaluate/autoExclude.ts): target and labels (with --data).
  'auto-exclude': { type: 'string' },
  labels: { type: 'string' },
} as const;

export interface QuantizeArgs {
  input: string;
  output: string;
  options: QuantizeOptions;
  json: boolean;
  /** What the recipe asks that has no effect (per-node settings outside their mode). */
  recipeWarnings: string[];
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
  const recipe = values.recipe ? readRecipePlan(values.recipe) : undefined;
  const input = positionals[0] ?? recipe?.model;
  if (!input || positionals.length > 1) throw new InputError(`expected one MODEL\nusage: ${USAGE}`);
  const output = values.output ?? recipe?.output;
  if (!output) throw new InputError(`missing -o OUT\nusage: ${USAGE}`);
  // The recipe's options, then every flag given here over them.
  const options: QuantizeOptions = { ...recipe?.options, mode: oneOf(values.mode, 'mode', QUANT_MODES) ?? recipe?.options.mode ?? 'dynamic' };
  const format = oneOf(values.format, 'format', ['qdq', 'qoperator'] as const);
  if (format) options.format = format;
  if (values['calibration-data']) options.calibrationData = values['calibration-data'];
  const method = oneOf(values['calibration-method'], 'calibration-method', ['minmax', 'percentile', 'entropy'] as const);
  if (method) options.calibrationMethod = method;
  if (values['calibration-batch'] !== undefined) options.calibrationBatch = numberOption(values['calibration-batch'], 'calibration-batch', 16, 1);
  if (values['memory-budget'] !== undefined) options.memoryBudget = numberOption(values['memory-budget'], 'memory-budget', 512, 16);
  if (values.percentile !== undefined) options.percentile = numberOption(values.percentile, 'percentile', 99.99, 0);
  if (values['per-channel']) options.perChannel = true;
  if (values['reduce-range']) options.reduceRange = true;
  if (values['symmetric-activations']) options.symmetricActivations = true;
  const bits = oneOf(values['weight-bits'], 'weight-bits', ['4', '8'] as const);
  if (bits) options.weightBits = Number(bits) as 4 | 8;
  const level = oneOf(values['accuracy-level'], 'accuracy-level', ['0', '1', '2', '4'] as const);
  if (level) options.accuracyLevel = Number(level) as 0 | 1 | 2 | 4;
  const clipping = oneOf(values['weight-clipping'], 'weight-clipping', ['none', 'mse'] as const);
  if (clipping) options.weightClipping = clipping;
  const rounding = oneOf(values['weight-rounding'], 'weight-rounding', ['nearest', 'gptq'] as const);
  if (rounding) options.weightRounding = rounding;
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
  if (values.data) options.fidelityData = values.data;
  if (values['min-sqnr'] !== undefined) options.minSqnrDb = numberOption(values['min-sqnr'], 'min-sqnr', 0, -Infinity);
  if (values['fidelity-floor'] !== undefined) options.fidelityFloor = parseFloor(values['fidelity-floor']);
  if (values['no-fidelity']) options.fidelity = false;
  if (values['no-speed-check']) options.speedCheck = false;
  if (values['require-speedup'] !== undefined) options.requireSpeedup = numberOption(values['require-speedup'], 'require-speedup', 1, 0);
  if (values.force) options.force = true;
  const recipeWarnings = (recipe?.warnings ?? []).map((w) => `${path.basename(values.recipe ?? '')}: ${w.node}: ${w.message}`);
  return { input, output, options, json: !!values.json, recipeWarnings, values };
}

/** `25` or `25,0.995`: the SQNR (dB) and optionally the cosine under which the run warns. */
function parseFloor(text: string): { sqnrDb: number; cosine?: number } {
  const [db, cos, ...rest] = text.split(',').map((s) => s.trim());
  const sqnrDb = Number(db);
  const cosine = cos === undefined ? undefined : Number(cos);
  if (rest.length || !db || !Number.isFinite(sqnrDb) || (cosine !== undefined && !(cosine >= -1 && cosine <= 1))) {
    throw new InputError(`--fidelity-floor expects DB or DB,COSINE (e.g. 20 or 20,0.99), got '${text}'`);
  }
  return cosine === undefined ? { sqnrDb } : { sqnrDb, cosine };
}

/** Progress on stderr: one redrawn line on a terminal, one line per stage otherwise. */
function progressPrinter(io: CliIO): { onProgress: (p: Progress) => void; done: () => void } {
  let lastStage = '';
  let drawn = false;
  return {
    onProgress(p) {
      const pct = p.fraction !== undefined ? ` ${Math.round(p.fraction * 100)}%` : '';
      if (io.interactive) {
        process.stderr.write(`\r\x1b[K${inertText(`${p.stage}${pct}${p.message ? ` ${p.message}` : ''}`)}`);
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
    ...(r.fidelity ? { fidelity: r.fidelity } : {}),
    ...(r.speed ? { speed: r.speed } : {}),
    effectiveOptions: r.effectiveOptions,
    warnings: r.warnings,
    ...(r.conversion ? { conversion: r.conversion } : {}),
    ...(r.compensatedNodes ? { compensatedNodes: r.compensatedNodes } : {}),
  };
}

export const quantizeCommand: CommandModule = {
  name: 'quantize',
  usage: USAGE,
  async run(argv, io, signal) {
    const args = parseQuantizeArgs(argv);
    for (const w of args.recipeWarnings) io.err(`warning: ${inertText(w)}`);
    const progress = progressPrinter(io);
    let result: QuantizeResult;
    let auto: AutoExcludeReportResult | undefined;
    const target = args.values['auto-exclude'];
    if (!target && args.values.labels) throw new InputError('--labels goes with --auto-exclude (and --data)');
    try {
      if (typeof target === 'string') {
        const evalOptions = { data: args.values.data as string | undefined, labels: args.values.labels as string | undefined, inputs: [args.values.recipe as string | undefined] };
        auto = await autoExcludeWithReport(args.input, args.output, args.options, target, { signal, onProgress: progress.onProgress }, evalOptions);
        result = auto.quantize;
      } else result = await quantizeFile(args.input, args.output, args.options, { signal, onProgress: progress.onProgress }, { inputs: [args.values.recipe as string | undefined] });
    } finally {
      progress.done();
    }
    // A result below the fidelity floor is said in bold: it may be useless even though it runs.
    // (err makes every line inert, so the bold goes through errBold, which styles only its own text.)
    for (const w of result.warnings) {
      if (!/^fidelity below the floor/.test(w)) io.err(`warning: ${w}`);
      else if (io.interactive && io.errBold) io.errBold(`warning: ${w}`);
      else io.err(`warning: ${w.replace(/^fidelity below the floor/, 'FIDELITY BELOW THE FLOOR')}`);
    }
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
      ...(result.conversion ? [['opset', result.conversion]] : []),
      ...(result.compensatedNodes ? [['GPTQ', `error compensation from the calibration data on ${result.compensatedNodes.length} node(s)`]] : []),
    ];
    if (result.inputShapes) rows.push(['probe inputs', result.inputShapes]);
    if (result.speed) rows.push(['speed vs float', result.speed.verdict === 'slower' ? `SLOWER: ${result.speed.summary}` : result.speed.summary]);
    const requirement = result.speed?.requirement;
    if (requirement) {
      const kept = requirement.keptFloat.map((g) => `${g.group} (${g.nodes.length} nodes)`).join('; ');
      rows.push(['speed required', `${requirement.speedup}× met in round ${requirement.rounds.length}${kept ? `, kept float: ${kept}` : ''}`]);
    }
    if (result.fidelity) rows.push(['fidelity', `${result.fidelity.belowFloor ? 'BELOW THE FLOOR: ' : ''}${result.fidelity.samples} samples of ${result.fidelity.inputs}`]);
    let text = table(['result', 'value'], rows);
    if (result.fidelity) {
      const f = result.fidelity;
      text +=
        '\n\n' +
        table(
          ['output vs float', 'SQNR', 'cosine', 'arg-max agreement'],
          f.outputs.map((o) => [o.output, formatSqnr(o.sqnrDb, o.identical), o.cosine.toFixed(5), `${(o.agreement * 100).toFixed(1)} %`]),
        );
      if (f.worstLayers?.length) text += '\n' + table(['worst layer', 'op', 'adds (local SQNR)'], f.worstLayers.map((l) => [l.node, l.opType, formatSqnr(l.localSqnrDb)]));
    }
    if (result.skippedNodes.length) {
      text += '\n\n' + table(['skipped node', 'reason'], result.skippedNodes.map((s) => [s.node, s.reason]));
    }
    if (auto) {
      const a = auto.summary;
      text += `\n\nauto-exclude ${a.target}: ${a.met ? 'met' : `not met (${a.stoppedBecause ?? 'no layer left'})`}, output SQNR ${a.finalSqnrDb ?? '∞'} dB`;
      for (const s of a.excluded) {
        const kept = s.exclude && (s.exclude.length !== 1 || s.exclude[0] !== s.node) ? `${s.exclude.map(inertText).join(', ')} (for the error at ${inertText(s.node)}, ${inertText(s.opType)})` : `${inertText(s.node)} (${inertText(s.opType)})`;
        text += `\n  kept in float: ${kept}, local SQNR ${s.localSqnrDb} dB, output SQNR before ${s.outputSqnrDb} dB`;
      }
      if (a.points?.length) {
        text += `\n${a.quantizePasses ?? a.points.length} quantize pass(es), ${a.calibrations ?? 0} calibration(s):\n`;
        text += table(['layers float', 'size', 'output SQNR', 'latency', 'target'], a.points.map((p) => [p.excludedCount, formatBytes(p.outputBytes), formatSqnr(p.sqnrDb), `${p.latencyMs} ms`, p.met ? 'met' : 'missed']));
      }
      text += `\nreport: ${auto.reportFiles.join(', ')}`;
    }
    io.out(text);
    return 0;
  },
};
