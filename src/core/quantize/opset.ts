/**
 * The opset each mode needs, and the conversion that gets a model there before anything is
 * quantized: dynamic needs 11 (DynamicQuantizeLinear), static needs 10 (QuantizeLinear /
 * DequantizeLinear) and 13 for per-channel weights; weight-only and fp16 keep the model's own.
 * With validation on (a probe given), the converted float model is run beside the original in ONNX
 * Runtime on the probe and must give the same outputs; a difference names the rewritten op that caused it.
 */
import { InputError, WorkError } from '../errors';
import { feedsFor } from '../evaluate/data';
import { asFloat32, sessionWithOutputs } from '../evaluate/session';
import { opsetVersion } from '../onnx/builder';
import type { OnnxModel } from '../onnx/model';
import { convertOpset, type OpsetConversion } from '../onnx/opset';
import type { InferenceSession, OrtTensor } from '../runtime/ort';
import type { NodeSelection, ResolvedOptions } from './selection';
import type { Probe } from './validate';

/** Whether per-channel weights are wanted anywhere (globally or by a node override). */
export function wantsPerChannel(options: ResolvedOptions, selection: NodeSelection): boolean {
  return options.perChannel || [...selection.overridden].some((n) => selection.overridesFor(n).perChannel === true);
}

/** The opset the mode needs, undefined when any opset will do. */
export function opsetNeeded(options: ResolvedOptions, selection: NodeSelection): number | undefined {
  if (options.mode === 'dynamic') return 11;
  if (options.mode === 'static') return wantsPerChannel(options, selection) ? 13 : 10;
  return undefined;
}

/** The model at the opset the mode needs (converted when below it) and the conversion made, if any. */
export async function modelForMode(
  model: OnnxModel,
  options: ResolvedOptions,
  selection: NodeSelection,
  warnings: string[],
  probe: Probe | undefined,
): Promise<{ model: OnnxModel; conversion?: OpsetConversion }> {
  const need = opsetNeeded(options, selection);
  const from = opsetVersion(model.proto, '') ?? 1;
  if (need === undefined || from >= need) return { model };
  let converted: ReturnType<typeof convertOpset>;
  try {
    converted = convertOpset(model.proto, need);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    // Static at opset 10-12 still works per tensor (static/opset.ts says so): only per-channel needed 13.
    if (options.mode === 'static' && from >= 10) return { model };
    throw new InputError(`${options.mode} quantization needs opset ${need} and ${e.message}`);
  }
  const out: OnnxModel = { ...model, proto: converted.proto };
  if (probe) await checkSameOutputs(model, out, converted.conversion, probe, warnings);
  return { model: out, conversion: converted.conversion };
}

/**
 * Run the original and the converted model on the same inputs; every graph output and every
 * output of a rewritten node must agree (float within 1e-5 + 1e-4·|x|, others exactly).
 */
export async function checkSameOutputs(original: OnnxModel, converted: OnnxModel, conversion: OpsetConversion, probe: Probe, warnings: string[]): Promise<void> {
  const outputs = (original.proto.graph?.output ?? []).map((o) => o.name);
  const rewritten = conversion.rewrittenOutputs.filter((r) => !outputs.includes(r.output));
  const names = [...rewritten.map((r) => r.output), ...outputs];
  const feeds = feedsFor(probe.data, 0, probe.batch);
  let before: Record<string, OrtTensor>;
  try {
    before = await runWith(original, names, feeds);
  } catch (e) {
    // ONNX Runtime no longer runs some opset 1-6 definitions (Add-6, Gemm-6...): nothing to compare with.
    warnings.push(`ONNX Runtime cannot run the model at its own opset ${conversion.from} (${(e as Error).message.split('\n')[0]}); the conversion to ${conversion.to} is checked by validation of the result only`);
    return;
  }
  let after: Record<string, OrtTensor>;
  try {
    after = await runWith(converted, names, feeds);
  } catch (e) {
    throw new WorkError(`the model converted from opset ${conversion.from} to ${conversion.to} does not run in ONNX Runtime: ${(e as Error).message.split('\n')[0]}`);
  }
  const culprit = (name: string) => {
    const r = rewritten.find((x) => x.output === name);
    return r ? `${r.opType} node '${r.node}' (output '${name}')` : `output '${name}'`;
  };
  for (const name of names) {
    const diff = difference(before[name], after[name]);
    if (diff) throw new WorkError(`converting the model from opset ${conversion.from} to ${conversion.to} changed its results at ${culprit(name)}: ${diff}`);
  }
}

async function runWith(model: OnnxModel, outputs: string[], feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>> {
  const session: InferenceSession = await sessionWithOutputs(model, outputs, { threads: 1 });
  try {
    return await session.run(feeds, outputs);
  } finally {
    await session.release();
  }
}

function difference(a: OrtTensor | undefined, b: OrtTensor | undefined): string | undefined {
  if (!a || !b) return a === b ? undefined : 'missing in one of the models';
  if (a.dims.join(',') !== b.dims.join(',')) return `shape [${b.dims.join(', ')}] instead of [${a.dims.join(', ')}]`;
  if (a.type === 'float32' || a.type === 'float64' || a.type === 'float16') {
    const x = asFloat32(a);
    const y = asFloat32(b);
    for (let i = 0; i < x.length; i++) {
      const xi = x[i] ?? 0;
      const yi = y[i] ?? 0;
      if (Number.isNaN(xi) && Number.isNaN(yi)) continue;
      const d = Math.abs(xi - yi);
      if (!(d <= 1e-5 + 1e-4 * Math.abs(xi)) && xi !== yi) return `element ${i} is ${yi} instead of ${xi}`;
    }
    return undefined;
  }
  const x = a.data as ArrayLike<unknown>;
  const y = b.data as ArrayLike<unknown>;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return `element ${i} is ${String(y[i])} instead of ${String(x[i])}`;
  return undefined;
}
