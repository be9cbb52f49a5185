/**
 * Turn the user's QuantizeOptions into ResolvedOptions: validate values, apply the preset for
 * whatever the user left unset (explicit options always win), then the CPU-first defaults.
 */
import { InputError } from '../errors';
import type { ResolvedOptions } from './selection';
import { QUANT_MODES, type Preset, type QuantizeOptions, type QuantNodeOverride } from './types';

const FORMATS = ['qdq', 'qoperator'];
const METHODS = ['minmax', 'percentile', 'entropy'];
const PRESETS = ['x86', 'arm', 'gpu'];

/** What each preset sets when the user did not. */
const PRESET_DEFAULTS: Record<Preset, Partial<QuantizeOptions> & { addQdqPairToWeight?: boolean }> = {
  // U8S8: uint8 activations fuse on x86 even with fan-out (reference §0.2); 8-bit weights measured
  // more accurate and as fast as 7-bit on AVX2 (§7), so 7-bit only when asked for.
  x86: { activationType: 'uint8', perChannel: true, symmetricActivations: false },
  // S8S8 is native on ARM dot-product kernels.
  arm: { activationType: 'int8', perChannel: true, symmetricActivations: false },
  // TensorRT wants symmetric int8 QDQ on activations and weights.
  gpu: { activationType: 'int8', perChannel: true, symmetricActivations: true, format: 'qdq', addQdqPairToWeight: true },
};

export interface Resolved {
  options: ResolvedOptions;
  warnings: string[];
}

export function resolveOptions(input: QuantizeOptions): Resolved {
  const warnings: string[] = [];
  const o = { ...input };
  if (!(QUANT_MODES as readonly string[]).includes(o.mode)) throw new InputError(`unknown mode '${String(o.mode)}' (expected ${QUANT_MODES.join(', ')})`);
  if (o.format !== undefined && !FORMATS.includes(o.format)) throw new InputError(`unknown format '${o.format}' (expected qdq or qoperator)`);
  if (o.calibrationMethod !== undefined && !METHODS.includes(o.calibrationMethod)) {
    throw new InputError(`unknown calibration method '${o.calibrationMethod}' (expected ${METHODS.join(', ')})`);
  }
  if (o.preset !== undefined && !PRESETS.includes(o.preset)) throw new InputError(`unknown preset '${o.preset}' (expected x86, arm or gpu)`);
  if (o.weightBits !== undefined && o.weightBits !== 4 && o.weightBits !== 8) throw new InputError(`--weight-bits must be 4 or 8, got ${String(o.weightBits)}`);
  if (o.blockSize !== undefined && (!Number.isInteger(o.blockSize) || o.blockSize < 16 || o.blockSize > 256 || (o.blockSize & (o.blockSize - 1)) !== 0)) {
    throw new InputError(`--block-size must be a power of 2 from 16 to 256, got ${o.blockSize}`);
  }
  // Numbers from recipes and settings are checked as strictly as CLI flags: a huge bin count or
  // batch would allocate gigabytes before anything else could fail.
  wholeInRange(o.histogramBins, 'histogram bins', 2, 65536);
  wholeInRange(o.calibrationBatch, 'calibration batch', 1, 4096);
  wholeInRange(o.memoryBudget, 'memory budget (MiB)', 16, 1048576);
  const nodeOverrides = resolveNodeOverrides(o.nodeOverrides);
  if (o.percentile !== undefined && !(typeof o.percentile === 'number' && o.percentile > 0 && o.percentile <= 100)) throw new InputError(`--percentile must be in (0, 100], got ${o.percentile}`);
  if (o.minSqnrDb !== undefined && !Number.isFinite(o.minSqnrDb)) throw new InputError(`--min-sqnr expects a number of dB, got ${String(o.minSqnrDb)}`);
  if (o.fidelityFloor?.sqnrDb !== undefined && !Number.isFinite(o.fidelityFloor.sqnrDb)) throw new InputError(`the fidelity floor's SQNR must be a number of dB, got ${String(o.fidelityFloor.sqnrDb)}`);
  if (o.fidelityFloor?.cosine !== undefined && !(o.fidelityFloor.cosine >= -1 && o.fidelityFloor.cosine <= 1)) {
    throw new InputError(`the fidelity floor's cosine must be in [-1, 1], got ${String(o.fidelityFloor.cosine)}`);
  }
  if (o.fidelity === false && o.minSqnrDb !== undefined) throw new InputError('--min-sqnr needs the fidelity measurement (it was turned off)');
  if (o.accuracyLevel !== undefined && ![0, 1, 2, 4].includes(o.accuracyLevel)) throw new InputError(`--accuracy-level must be 0, 1, 2 or 4, got ${String(o.accuracyLevel)}`);
  if (o.weightRounding !== undefined && o.weightRounding !== 'nearest' && o.weightRounding !== 'gptq') {
    throw new InputError(`--weight-rounding must be nearest or gptq, got '${String(o.weightRounding)}'`);
  }
  if (o.weightClipping !== undefined && o.weightClipping !== 'none' && o.weightClipping !== 'mse') {
    throw new InputError(`--weight-clipping must be none or mse, got '${String(o.weightClipping)}'`);
  }
  if (o.requireSpeedup !== undefined && !(typeof o.requireSpeedup === 'number' && o.requireSpeedup > 0 && Number.isFinite(o.requireSpeedup))) {
    throw new InputError(`--require-speedup expects a positive factor (e.g. 1 or 1.5), got ${String(o.requireSpeedup)}`);
  }
  if (o.speedCheck === false && o.requireSpeedup !== undefined) throw new InputError('--require-speedup needs the speed check (it was turned off)');
  if (o.activationType !== undefined && o.activationType !== 'uint8' && o.activationType !== 'int8') {
    throw new InputError(`activation type must be uint8 or int8, got '${String(o.activationType)}'`);
  }

  const preset = PRESET_DEFAULTS[o.preset ?? 'x86'];
  const pick = <K extends keyof QuantizeOptions>(k: K, fallback: NonNullable<QuantizeOptions[K]>): NonNullable<QuantizeOptions[K]> =>
    (o[k] ?? (preset[k] as QuantizeOptions[K]) ?? fallback) as NonNullable<QuantizeOptions[K]>;

  const options: ResolvedOptions = {
    mode: o.mode,
    format: pick('format', 'qdq'),
    calibrationData: o.calibrationData,
    calibrationMethod: pick('calibrationMethod', 'minmax'),
    percentile: pick('percentile', 99.99),
    histogramBins: pick('histogramBins', 2048),
    calibrationBatch: pick('calibrationBatch', 16),
    memoryBudget: pick('memoryBudget', 512),
    movingAverage: pick('movingAverage', false),
    perChannel: pick('perChannel', true),
    reduceRange: pick('reduceRange', false),
    symmetricActivations: pick('symmetricActivations', false),
    activationType: pick('activationType', 'uint8'),
    weightSymmetric: true,
    weightBits: pick('weightBits', 4),
    blockSize: pick('blockSize', 32),
    accuracyLevel: pick('accuracyLevel', 0),
    weightClipping: pick('weightClipping', 'mse'),
    weightRounding: pick('weightRounding', 'nearest'),
    preset: o.preset,
    quantizeConv: pick('quantizeConv', false),
    opTypes: o.opTypes && o.opTypes.length ? [...o.opTypes] : undefined,
    nodes: o.nodes && o.nodes.length ? [...o.nodes] : undefined,
    excludeNodes: [...(o.excludeNodes ?? [])],
    nodeOverrides,
    validate: o.validate !== false,
    fidelity: o.fidelity !== false,
    speedCheck: o.speedCheck !== false,
    requireSpeedup: o.requireSpeedup,
    force: o.force === true,
    externalData: o.externalData ?? 'auto',
    dataRoots: o.dataRoots ?? [],
    addQdqPairToWeight: preset.addQdqPairToWeight ?? false,
  };
  if (options.mode === 'dynamic' && o.activationType === 'int8') {
    warnings.push('dynamic mode quantizes activations to uint8 (DynamicQuantizeLinear is uint8-only); --activation-type int8 ignored');
  }
  if (o.preset === 'gpu' && options.mode !== 'static') warnings.push('the gpu preset targets TensorRT, which wants static QDQ (--mode static); this mode is CPU-oriented');
  const gptq = options.mode === 'weight-only' && options.weightRounding === 'gptq';
  if (options.mode !== 'static' && !gptq && o.calibrationData) warnings.push(`calibration data is only used by static mode and by weight-only with --weight-rounding gptq (and to validate the output)`);
  if (gptq && !o.calibrationData) throw new InputError('--weight-rounding gptq needs --calibration-data: GPTQ measures each MatMul input on it');
  if (options.mode !== 'weight-only' && (o.weightBits !== undefined || o.blockSize !== undefined || o.accuracyLevel !== undefined || o.weightClipping !== undefined || o.weightRounding !== undefined)) {
    warnings.push('--weight-bits, --block-size, --accuracy-level, --weight-clipping and --weight-rounding apply to weight-only mode only');
  }
  const overridden = Object.entries(nodeOverrides ?? {});
  if (options.mode !== 'weight-only' && overridden.some(([, v]) => v.bits !== undefined)) {
    warnings.push(`per-node bits apply to weight-only mode only (${names(overridden.filter(([, v]) => v.bits !== undefined))})`);
  }
  if (options.mode !== 'dynamic' && options.mode !== 'static' && overridden.some(([, v]) => v.perChannel !== undefined)) {
    warnings.push(`per-node perChannel applies to dynamic and static modes only (${names(overridden.filter(([, v]) => v.perChannel !== undefined))})`);
  }
  return { options, warnings };
}

function wholeInRange(value: number | undefined, what: string, min: number, max: number): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InputError(`${what} must be a whole number from ${min} to ${max}, got ${String(value)}`);
  }
}

const names = (entries: [string, unknown][]): string => entries.map(([n]) => `'${n}'`).join(', ');

/** Validated copy of the per-node overrides (undefined when there are none). */
function resolveNodeOverrides(input: QuantizeOptions['nodeOverrides']): Record<string, QuantNodeOverride> | undefined {
  if (input === undefined) return undefined;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new InputError('node overrides must be an object keyed by node name');
  const out: Record<string, QuantNodeOverride> = {};
  for (const [name, v] of Object.entries(input)) {
    if (typeof v !== 'object' || v === null) throw new InputError(`override for node '${name}' must be an object`);
    if (v.perChannel !== undefined && typeof v.perChannel !== 'boolean') throw new InputError(`perChannel of node '${name}' must be true or false`);
    if (v.bits !== undefined && v.bits !== 4 && v.bits !== 8) throw new InputError(`bits of node '${name}' must be 4 or 8, got ${String(v.bits)}`);
    const o: QuantNodeOverride = {};
    if (v.perChannel !== undefined) o.perChannel = v.perChannel;
    if (v.bits !== undefined) o.bits = v.bits;
    if (Object.keys(o).length) out[name] = o;
  }
  return Object.keys(out).length ? out : undefined;
}

/** The options actually used, in the public QuantizeOptions shape (for QuantizeResult.effectiveOptions). */
export function effectiveOptions(r: ResolvedOptions): QuantizeOptions {
  const out: QuantizeOptions = {
    mode: r.mode,
    perChannel: r.perChannel,
    reduceRange: r.reduceRange,
    validate: r.validate,
    force: r.force,
    externalData: r.externalData,
  };
  if (r.preset) out.preset = r.preset;
  if (r.opTypes) out.opTypes = r.opTypes;
  if (r.nodes) out.nodes = r.nodes;
  if (r.excludeNodes.length) out.excludeNodes = r.excludeNodes;
  if (r.nodeOverrides) out.nodeOverrides = r.nodeOverrides;
  if (!r.fidelity) out.fidelity = false;
  if (!r.speedCheck) out.speedCheck = false;
  if (r.requireSpeedup !== undefined) out.requireSpeedup = r.requireSpeedup;
  if (r.mode === 'static') {
    Object.assign(out, {
      format: r.format,
      calibrationMethod: r.calibrationMethod,
      activationType: r.activationType,
      symmetricActivations: r.symmetricActivations,
      calibrationBatch: r.calibrationBatch,
      memoryBudget: r.memoryBudget,
    });
    if (r.calibrationData) out.calibrationData = r.calibrationData;
    if (r.calibrationMethod === 'percentile') out.percentile = r.percentile;
    if (r.calibrationMethod !== 'minmax') out.histogramBins = r.histogramBins;
    if (r.movingAverage) out.movingAverage = true;
  }
  if (r.mode === 'weight-only') {
    Object.assign(out, { weightBits: r.weightBits, blockSize: r.blockSize, accuracyLevel: r.accuracyLevel, weightClipping: r.weightClipping, weightRounding: r.weightRounding });
    if (r.weightRounding === 'gptq' && r.calibrationData) Object.assign(out, { calibrationData: r.calibrationData, calibrationBatch: r.calibrationBatch, memoryBudget: r.memoryBudget });
  }
  if (r.mode === 'dynamic') out.quantizeConv = r.quantizeConv;
  return out;
}
